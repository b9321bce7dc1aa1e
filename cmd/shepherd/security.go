package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"

	"github.com/shepherd/shepherd/api"
	"github.com/shepherd/shepherd/api/client"
	"github.com/shepherd/shepherd/cluster"
	"github.com/shepherd/shepherd/cluster/pki"
	"github.com/shepherd/shepherd/monitor"
)

// secretValue is a string flag that --print-config does not reveal: it
// prints as "<redacted>" when set. Prefer the environment
// (SHEPHERD_BOOTSTRAP_TOKEN, SHEPHERD_TOKEN) to the command line, where ps
// shows it.
type secretValue struct{ p *string }

func (s secretValue) String() string {
	if s.p == nil || *s.p == "" {
		return ""
	}
	return redacted
}

// redacted stands for a secret's value in --print-config.
const redacted = "<redacted>"

func (s secretValue) Set(v string) error { *s.p = v; return nil }

// masterSecurity holds a master's security flags until they are applied.
type masterSecurity struct {
	cert, key, ca  string
	origins        string
	proxies        string
	token          string
	bootstrapToken string
}

// addMasterSecurityFlags registers the master's TLS, token and limit
// flags. Without any of them a master is open (as `shepherd dev` runs).
func addMasterSecurityFlags(fs *flag.FlagSet, ac *api.Config, cc *cluster.Config) *masterSecurity {
	s := &masterSecurity{}
	sc := &ac.Security
	fs.StringVar(&s.cert, "tls-cert", "", "PEM certificate (role server, from 'shepherd tls cert'): serve HTTPS and, with --tls-ca, mutual TLS on Raft")
	fs.StringVar(&s.key, "tls-key", "", "PEM key of --tls-cert")
	fs.StringVar(&s.ca, "tls-ca", "", "cluster CA: Raft peers must present a server certificate it signed; masters' HTTPS is verified with it")
	fs.Var(secretValue{&s.bootstrapToken}, "bootstrap-token", "admin token from the configuration, to create the first tokens (prefer SHEPHERD_BOOTSTRAP_TOKEN); switches authentication on")
	fs.Var(secretValue{&s.token}, "token", "token this master uses to call other masters (join); default --bootstrap-token")
	fs.BoolVar(&sc.RequireAuth, "require-auth", false, "refuse requests without a token even before any token exists")
	fs.StringVar(&s.origins, "allowed-origins", "", "extra origins (scheme://host:port) whose pages may open /v1/events; same-origin and the masters' own are always allowed")
	fs.StringVar(&s.proxies, "trusted-proxies", "", "CIDRs of reverse proxies whose X-Forwarded-For is believed (default: none; the peer address is the client)")
	fs.Float64Var(&sc.RateLimit, "rate-limit", 0, "requests per second per client address (0: unlimited)")
	fs.IntVar(&sc.RateBurst, "rate-burst", 0, "requests a client may make at once (default 2x --rate-limit)")
	fs.IntVar(&sc.MaxLongPolls, "max-long-polls", api.DefaultMaxLongPolls, "concurrent long-polls before 503 (-1: no cap)")
	fs.IntVar(&sc.MaxSubscribers, "max-subscribers", api.DefaultMaxSubscribers, "concurrent /v1/events WebSockets before 503 (-1: no cap)")
	fs.DurationVar(&sc.ReadTimeout, "http-read-timeout", 0, "longest time to read one request with its body (default: longest poll + 30s)")
	fs.IntVar(&cc.MaxRaftConns, "max-raft-conns", cluster.DefaultMaxRaftConns, "inbound Raft connections before new ones are refused")
	return s
}

// apply loads certificates and sets what the flags configure. It returns
// the options the master's own client (discovery, join) needs.
func (s *masterSecurity) apply(ac *api.Config, cc *cluster.Config, mc *monitor.Config) ([]client.Option, error) {
	sc := &ac.Security
	sc.BootstrapToken = s.bootstrapToken
	sc.TrustedProxies = splitList(s.proxies)
	mc.AllowedOrigins = splitList(s.origins)
	if err := api.ValidateSecurity(*sc); err != nil {
		return nil, fmt.Errorf("--trusted-proxies: %w", err)
	}
	var opts []client.Option
	token := s.token
	if token == "" {
		token = s.bootstrapToken
	}
	if token != "" {
		opts = append(opts, client.WithToken(token))
	}
	if (s.cert == "") != (s.key == "") {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	if s.ca != "" && s.cert == "" {
		return nil, errors.New("--tls-ca needs --tls-cert and --tls-key (a server certificate)")
	}
	if s.cert == "" {
		return opts, nil
	}
	srv, err := pki.ServerTLS(s.cert, s.key)
	if err != nil {
		return nil, err
	}
	sc.TLS = srv
	// Masters reach each other (discovery, join) over HTTPS.
	ctls, err := pki.ClientTLS(s.ca, "", "")
	if err != nil {
		return nil, err
	}
	opts = append(opts, client.WithTLSConfig(ctls))
	if s.ca != "" {
		if cc.RaftTLS, err = pki.LoadMutualTLS(s.cert, s.key, s.ca); err != nil {
			return nil, err
		}
	}
	return opts, nil
}

// cliSecurity is what --token and --tls-ca of the client commands set
// (also from SHEPHERD_TOKEN and SHEPHERD_TLS_CA). The flags install it as
// client.DefaultOptions while they are parsed, so every client a command
// creates afterwards uses it, whichever file creates it.
var cliSecurity struct {
	token string
	tls   *tls.Config
}

// addClientSecurityFlags registers --token and --tls-ca on a client
// command.
func addClientSecurityFlags(fs *flag.FlagSet) {
	fs.Var(cliFlag(func(v string) error {
		cliSecurity.token = v
		return nil
	}), "token", "API token (prefer SHEPHERD_TOKEN)")
	fs.Var(cliFlag(func(v string) error {
		if v == "" {
			cliSecurity.tls = nil
			return nil
		}
		cfg, err := pki.ClientTLS(v, "", "")
		cliSecurity.tls = cfg
		return err
	}), "tls-ca", "CA of the masters' certificates: use https and verify them")
}

// cliFlag is a flag whose Set also refreshes client.DefaultOptions.
type cliFlag func(string) error

func (f cliFlag) String() string { return "" }

func (f cliFlag) Set(v string) error {
	if err := f(v); err != nil {
		return err
	}
	var opts []client.Option
	if cliSecurity.token != "" {
		opts = append(opts, client.WithToken(cliSecurity.token))
	}
	if cliSecurity.tls != nil {
		opts = append(opts, client.WithTLSConfig(cliSecurity.tls))
	}
	client.DefaultOptions = opts
	return nil
}
