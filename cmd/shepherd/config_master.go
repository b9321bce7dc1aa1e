package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/shepherd/shepherd/cluster"
)

// addMasterOpsFlags registers the master's operations flags: suffrage and
// dead-server clean-up.
func addMasterOpsFlags(fs *flag.FlagSet, cc *cluster.Config) {
	fs.Var(invertedBool{&cc.NonVoter}, "voter", "join as a voter; false makes a read replica (Raft nonvoter) that needs --join")
	fs.DurationVar(&cc.DeadServerCleanup, "dead-server-cleanup", 0,
		"leader removes a master unreachable this long, if quorum allows (0: never)")
}

// invertedBool is a bool flag stored negated (--voter sets NonVoter).
type invertedBool struct{ p *bool }

func (b invertedBool) String() string {
	if b.p == nil {
		return "true"
	}
	return strconv.FormatBool(!*b.p)
}

func (b invertedBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	*b.p = !v
	return nil
}

func (b invertedBool) IsBoolFlag() bool { return true }

// validateMaster reports every problem with a master's configuration at
// once, naming the flags (and so the config keys and SHEPHERD_* variables)
// to fix.
func validateMaster(cfg masterConfig) error {
	cc := cfg.Cluster
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if cc.ID == "" {
		add("--id is required")
	}
	if cc.DataDir == "" {
		add("--data is required")
	}
	checkAddr := func(flagName, addr string, advertised bool) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			add("--%s %q: want host:port", flagName, addr)
			return
		}
		if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 || (advertised && p == 0) {
			add("--%s %q: bad port", flagName, addr)
		}
		if ip := net.ParseIP(host); advertised && (host == "" || ip != nil && ip.IsUnspecified()) {
			add("--%s %q: others cannot dial an unspecified address; set it to this master's reachable name or IP", flagName, addr)
		}
	}
	checkAddr("http", cfg.API.Addr, false)
	checkAddr("raft", cc.RaftAddr, false)
	clustered := cc.BootstrapExpect != 1 || len(cc.Join) > 0
	advertise := func(flagName, bind, advertised string) {
		if advertised != "" {
			checkAddr(flagName, advertised, true)
		} else if clustered {
			checkAddr(flagName+" (defaults to --"+strings.TrimSuffix(flagName, "-advertise")+")", bind, true)
		}
	}
	advertise("http-advertise", cfg.API.Addr, cc.HTTPAddr)
	advertise("raft-advertise", cc.RaftAddr, cc.RaftAdvertise)
	for _, j := range cc.Join {
		if _, _, err := net.SplitHostPort(strings.TrimPrefix(strings.TrimPrefix(j, "http://"), "https://")); err != nil {
			add("--join entry %q: want host:port", j)
		}
	}
	switch strings.ToLower(cfg.LogLevel) {
	case "trace", "debug", "info", "warn", "error":
	default:
		add("--log-level %q: want trace, debug, info, warn or error", cfg.LogLevel)
	}
	if len(errs) == 0 {
		if cc.HTTPAddr == "" {
			cc.HTTPAddr = cfg.API.Addr
		}
		if cc.Discovery == nil {
			cc.Discovery = struct{ cluster.Discovery }{} // startMaster supplies the real one
		}
		if err := cc.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid master configuration:\n  %w", joinLines(errs))
	}
	return nil
}

// joinLines joins errors one per line, indented.
func joinLines(errs []error) error {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New(strings.Join(msgs, "\n  "))
}

// printer prints the effective configuration of fs.
func printer(fs *flag.FlagSet) func(io.Writer) error {
	return func(w io.Writer) error { return printConfig(w, fs) }
}
