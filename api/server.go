package api

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/labstack/echo/v4"
)

// Config configures a Server. Zero fields take the defaults of DefaultConfig.
type Config struct {
	// Addr is the listen address, "host:port"; port 0 picks a free port
	// (see Server.Addr).
	Addr string
	// BodyLimit caps request bodies in bytes; larger ones get 413.
	BodyLimit int64
	Logger    hclog.Logger

	// Task defaults and limits applied at the edge.
	DefaultTimeout     time.Duration
	MaxTimeout         time.Duration
	DefaultMaxAttempts int
	DefaultQueue       string

	// DefaultPollWait is a poll's wait when it names none; MaxPollWait is
	// the longest wait a poll may ask for.
	DefaultPollWait time.Duration
	MaxPollWait     time.Duration
	// HeartbeatInterval is returned to workers when the Backend's answer
	// names none.
	HeartbeatInterval time.Duration

	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration

	// Faults serves /v1/faults; nil (fault injection disabled) answers 404.
	Faults FaultInjector
	// Metrics, when set, records every request (monitor.Metrics).
	Metrics RequestObserver

	// Security: TLS, tokens, rate limit and caps (api/auth.go). The zero
	// value is open, for development.
	Security SecurityConfig
}

// Limits that are part of the contract rather than configuration.
const (
	maxMaxAttempts = 100
	maxBatch       = 1000
	maxPollMax     = 1000
	maxListLimit   = 1000
	defaultLimit   = 100
	maxIDLen       = 256
	maxKeyLen      = 256
)

// writeTimeoutMargin is how much longer than the longest poll a response
// may take to write.
const writeTimeoutMargin = 30 * time.Second

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Addr:               ":8080",
		BodyLimit:          1 << 20,
		DefaultTimeout:     5 * time.Minute,
		MaxTimeout:         24 * time.Hour,
		DefaultMaxAttempts: 3,
		DefaultQueue:       "default",
		DefaultPollWait:    20 * time.Second,
		MaxPollWait:        60 * time.Second,
		HeartbeatInterval:  time.Second,
		ReadHeaderTimeout:  10 * time.Second,
		IdleTimeout:        120 * time.Second,
	}
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Addr == "" {
		c.Addr = d.Addr
	}
	if c.BodyLimit <= 0 {
		c.BodyLimit = d.BodyLimit
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	if c.DefaultTimeout <= 0 {
		c.DefaultTimeout = d.DefaultTimeout
	}
	if c.MaxTimeout <= 0 {
		c.MaxTimeout = d.MaxTimeout
	}
	c.DefaultTimeout = min(c.DefaultTimeout, c.MaxTimeout)
	if c.DefaultMaxAttempts <= 0 {
		c.DefaultMaxAttempts = d.DefaultMaxAttempts
	}
	c.DefaultMaxAttempts = min(c.DefaultMaxAttempts, maxMaxAttempts)
	if c.DefaultQueue == "" {
		c.DefaultQueue = d.DefaultQueue
	}
	if c.MaxPollWait <= 0 {
		c.MaxPollWait = d.MaxPollWait
	}
	if c.DefaultPollWait <= 0 {
		c.DefaultPollWait = d.DefaultPollWait
	}
	c.DefaultPollWait = min(c.DefaultPollWait, c.MaxPollWait)
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = d.HeartbeatInterval
	}
	if c.ReadHeaderTimeout <= 0 {
		c.ReadHeaderTimeout = d.ReadHeaderTimeout
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = d.IdleTimeout
	}
	c.Security = c.Security.withDefaults()
	return c
}

// Server is the HTTP edge of one master. Mount handlers before Open; Open
// and Close are called once each.
type Server struct {
	cfg    Config
	b      Backend
	e      *echo.Echo
	logger hclog.Logger
	now    func() time.Time

	// stopping is canceled when Close begins, so parked long-polls return
	// at once instead of holding the shutdown for their whole wait.
	stopping context.Context
	stop     context.CancelFunc

	// Security state (api/auth.go, api/ratelimit.go).
	limiter     *rateLimiter // nil: no rate limit
	polls       semaphore
	subscribers semaphore

	mu   sync.Mutex
	ln   net.Listener
	srv  *http.Server
	done chan struct{} // closed when Serve returns
}

// New returns a Server for b. It does not listen until Open.
func New(cfg Config, b Backend) *Server {
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:    cfg,
		b:      b,
		e:      echo.New(),
		logger: cfg.Logger.Named("api"),
		now:    time.Now,
	}
	s.stopping, s.stop = context.WithCancel(context.Background())
	s.e.HideBanner, s.e.HidePort = true, true
	s.e.HTTPErrorHandler = s.handleError
	s.e.Use(s.logRequests, s.recoverPanics, s.nodeHeaders, s.cors)
	s.useSecurity()
	s.routes()
	return s
}

// Handler is the server's root handler, for tests and for embedding.
func (s *Server) Handler() http.Handler { return s.e }

// Mount serves h at path for every method, outside the /v1 API's leader
// redirect but behind its logging, panic recovery and node headers. A path
// ending in "/" also serves everything below it; the most specific route
// wins, and unknown /v1 paths keep the API's JSON 404, so Mount("/",
// dashboard) does not shadow the API. Call it before Open: routes must not
// change while the server serves.
func (s *Server) Mount(path string, h http.Handler) {
	wrapped := echo.WrapHandler(h)
	s.e.Any(path, wrapped)
	if !strings.HasSuffix(path, "/") {
		return
	}
	ownsAPI := strings.HasPrefix(path, apiPrefix)
	s.e.Any(path+"*", func(c echo.Context) error {
		if p := c.Request().URL.Path; !ownsAPI && (p+"/" == apiPrefix || strings.HasPrefix(p, apiPrefix)) {
			return s.handleNotFound(c)
		}
		return wrapped(c)
	})
}

// apiPrefix is where the JSON API lives.
const apiPrefix = "/v1/"

// Open listens on the configured address and serves in the background.
func (s *Server) Open() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return errors.New("api: server already open")
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("api: listen on %s: %w", s.cfg.Addr, err)
	}
	s.ln = ln
	s.srv = &http.Server{
		Handler:           s.e,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		// A long-poll answers after up to MaxPollWait; the write deadline
		// counts from the end of the request headers.
		WriteTimeout: s.cfg.MaxPollWait + writeTimeoutMargin,
		ErrorLog:     s.logger.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
	}
	s.secureServer(s.srv)
	if s.srv.TLSConfig != nil {
		ln = tls.NewListener(ln, s.srv.TLSConfig)
	}
	s.done = make(chan struct{})
	go func(srv *http.Server, done chan struct{}) {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("http server stopped", "error", err)
		}
	}(s.srv, s.done)
	s.logger.Info("http server listening", "address", ln.Addr().String())
	return nil
}

// Addr is the address the server listens on (the real port when the
// configured one was 0), or the configured address before Open.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return s.ln.Addr().String()
	}
	return s.cfg.Addr
}

// Close stops accepting connections, ends parked long-polls and waits for
// in-flight requests until ctx ends, then closes what remains. Hijacked
// connections (WebSockets) are not tracked: their owner closes them.
func (s *Server) Close(ctx context.Context) error {
	s.stop()
	s.mu.Lock()
	srv, done := s.srv, s.done
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(fmt.Errorf("api: shutdown: %w", err), srv.Close())
	}
	<-done
	return err
}
