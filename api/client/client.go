package client

import (
	"crypto/tls"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

const (
	defaultTimeout     = 10 * time.Second
	defaultRetryBudget = 10 * time.Second
	defaultMinBackoff  = 25 * time.Millisecond
	defaultMaxBackoff  = time.Second
	maxRedirects       = 3
	maxErrorBody       = 64 << 10
)

// Client talks to a Shepherd master cluster. It is safe for concurrent use.
type Client struct {
	masters     []string
	http        *http.Client
	timeout     time.Duration
	retryBudget time.Duration
	minBackoff  time.Duration
	maxBackoff  time.Duration
	logger      hclog.Logger
	token       string      // bearer token sent with every request, "" for none
	tlsConfig   *tls.Config // set: bare "host:port" masters mean https
	// unreachable, when set, hears of every master a request gave up on.
	unreachable func(base string)

	mu     sync.Mutex
	cur    int    // index in masters of the preferred master
	leader string // leader base URL learned from a redirect, "" if none
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the http.Client used for requests. Its redirect policy
// is replaced (the client follows redirects itself) and its Timeout, if set,
// becomes the per-request timeout (see WithTimeout).
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		cp := *hc
		if cp.Timeout > 0 {
			c.timeout = cp.Timeout
			cp.Timeout = 0
		}
		c.http = &cp
	}
}

// WithTimeout sets the timeout of one HTTP exchange (default 10 s). A poll
// gets its long-poll wait on top of it.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) { c.timeout = d }
}

// WithRetryBudget sets how long a request keeps retrying across masters
// when its context has no deadline (default 10 s).
func WithRetryBudget(d time.Duration) Option {
	return func(c *Client) { c.retryBudget = d }
}

// WithBackoff sets the first and the largest pause between retries
// (default 25 ms and 1 s).
func WithBackoff(minimum, maximum time.Duration) Option {
	return func(c *Client) { c.minBackoff, c.maxBackoff = minimum, maximum }
}

// DefaultOptions are applied by New before its own options. A program's
// main sets them once, before it creates clients, so that every client it
// makes carries the same token and TLS settings (the shepherd CLI sets
// them from --token/--tls-ca or SHEPHERD_TOKEN/SHEPHERD_TLS_CA). They are
// not synchronized: do not change them while clients are being created.
var DefaultOptions []Option

// WithToken sends token as "Authorization: Bearer <token>" with every
// request (needed once the cluster has tokens; see API.md "Security").
func WithToken(token string) Option {
	return func(c *Client) { c.token = token }
}

// WithTLSConfig verifies the masters with cfg (set RootCAs to the cluster
// CA) and makes bare "host:port" masters https. It applies to the
// client's own transport or, with WithHTTPClient, to an *http.Transport.
func WithTLSConfig(cfg *tls.Config) Option {
	return func(c *Client) { c.tlsConfig = cfg }
}

// WithOnUnreachable registers fn to hear of every master that a request
// gave up on (connection error, per-try timeout, 502/503/504). A worker
// uses it to abandon a long-poll parked on a master that stopped answering.
func WithOnUnreachable(fn func(base string)) Option {
	return func(c *Client) { c.unreachable = fn }
}

// WithLogger sets the logger (default: a null logger).
func WithLogger(l hclog.Logger) Option {
	return func(c *Client) { c.logger = l }
}

// New returns a client for the given masters: base URLs such as
// "http://10.0.0.1:8101" or bare "host:port" (http is assumed).
func New(masters []string, opts ...Option) *Client {
	c := &Client{
		timeout:     defaultTimeout,
		retryBudget: defaultRetryBudget,
		minBackoff:  defaultMinBackoff,
		maxBackoff:  defaultMaxBackoff,
		logger:      hclog.NewNullLogger(),
	}
	for _, o := range DefaultOptions {
		o(c)
	}
	for _, o := range opts {
		o(c)
	}
	for _, m := range masters {
		if m = strings.TrimSpace(m); m != "" {
			c.masters = append(c.masters, c.normalize(m))
		}
	}
	if c.http == nil {
		c.http = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	if c.tlsConfig != nil {
		if t, ok := c.http.Transport.(*http.Transport); ok {
			t = t.Clone()
			t.TLSClientConfig = c.tlsConfig.Clone()
			c.http.Transport = t
		}
	}
	c.http.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if c.maxBackoff < c.minBackoff {
		c.maxBackoff = c.minBackoff
	}
	return c
}

// Masters returns the normalised master list.
func (c *Client) Masters() []string { return append([]string(nil), c.masters...) }

// Leader returns the leader address learned from the last redirect, or "".
func (c *Client) Leader() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leader
}

// Close releases idle connections. The client stays usable.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// normalize turns "host:port" into "http://host:port" (https with
// WithTLSConfig) and drops a trailing slash.
func (c *Client) normalize(addr string) string {
	if c.tlsConfig != nil && !strings.Contains(addr, "://") {
		addr = "https://" + addr
	}
	return normalize(addr)
}

// normalize turns "host:port" into "http://host:port" and drops a trailing
// slash.
func normalize(addr string) string {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	return strings.TrimRight(addr, "/")
}

// target is the base URL the next request should go to.
func (c *Client) target() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.leader != "" {
		return c.leader
	}
	if len(c.masters) == 0 {
		return ""
	}
	return c.masters[c.cur]
}

// forget stops preferring base after it failed: the learned leader is
// dropped and the master list rotates past it.
func (c *Client) forget(base string) {
	c.mu.Lock()
	if c.leader == base {
		c.leader = ""
	}
	if len(c.masters) > 0 && c.masters[c.cur] == base {
		c.cur = (c.cur + 1) % len(c.masters)
	}
	c.mu.Unlock()
	if c.unreachable != nil {
		c.unreachable(base)
	}
}

// Target is the master the next request goes to first: the leader learned
// from a redirect, else the current one of the list.
func (c *Client) Target() string { return c.target() }

func (c *Client) setLeader(base string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.leader = base
}
