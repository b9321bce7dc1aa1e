package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// Scope is what a token may do. admin may do everything.
type Scope string

const (
	// ScopeWorker: register, heartbeat, poll, complete and fail.
	ScopeWorker Scope = "worker"
	// ScopeSubmit: submit and cancel tasks, manage schedules.
	ScopeSubmit Scope = "submit"
	// ScopeRead: GETs of the API, events, metrics and the dashboard.
	ScopeRead Scope = "read"
	// ScopeAdmin: membership, faults, backup/restore, tokens; everything.
	ScopeAdmin Scope = "admin"
	// scopePublic needs no token at all (liveness and readiness probes).
	scopePublic Scope = ""
)

// Scopes lists the scopes a token may carry.
var Scopes = []Scope{ScopeWorker, ScopeSubmit, ScopeRead, ScopeAdmin}

// ValidScope reports whether s names a scope.
func ValidScope(s string) bool {
	for _, sc := range Scopes {
		if string(sc) == s {
			return true
		}
	}
	id, bound := strings.CutPrefix(s, boundWorkerPrefix)
	return bound && checkWorkerID(id) == nil
}

// boundWorkerPrefix marks a worker scope tied to one worker id,
// "worker:w1": the token may register, beat, poll and report only as w1.
const boundWorkerPrefix = "worker:"

// boundWorker is the worker id a token's scopes tie it to, or "" when it
// may act as any worker (a plain worker scope, or admin).
func boundWorker(scopes []string) string {
	bound := ""
	for _, sc := range scopes {
		if Scope(sc) == ScopeWorker || Scope(sc) == ScopeAdmin {
			return ""
		}
		if id, ok := strings.CutPrefix(sc, boundWorkerPrefix); ok {
			bound = id
		}
	}
	return bound
}

// boundWorkerKey holds a request's bound worker id in the echo context.
const boundWorkerKey = "shepherd.bound-worker"

// checkBoundWorker refuses a worker request from a token tied to another
// worker: the path's worker id must be the bound one.
func checkBoundWorker(c echo.Context, bound string) error {
	if bound == "" || !strings.HasPrefix(c.Path(), "/v1/workers/:id") {
		return nil
	}
	if c.Param("id") != bound {
		return forbiddenWorker(bound)
	}
	return nil
}

// requireBoundWorker is checkBoundWorker for ids that come in a body
// (register, complete, fail).
func requireBoundWorker(c echo.Context, id string) error {
	if bound, _ := c.Get(boundWorkerKey).(string); bound != "" && id != bound {
		return forbiddenWorker(bound)
	}
	return nil
}

func forbiddenWorker(bound string) error {
	return &httpError{http.StatusForbidden, codeForbidden,
		fmt.Sprintf("this token may act only as worker %q", bound)}
}

// SecurityConfig is the closed-by-default part of Config. Its zero value
// is the frictionless development mode: plain HTTP, no tokens, no rate
// limit.
type SecurityConfig struct {
	// TLS, when set, serves HTTPS (and WSS) with it.
	TLS *tls.Config
	// BootstrapToken is an admin token from the configuration (flag or
	// environment), never replicated; it lets an operator create the
	// first tokens. Setting it also switches authentication on.
	BootstrapToken string
	// RequireAuth switches authentication on even before any token exists.
	// Authentication is also on whenever the replicated state holds a token.
	RequireAuth bool
	// Tokens, when set, replaces the replicated token store (the Backend's
	// State) for lookups: tests, or tokens kept outside the cluster.
	Tokens TokenStore

	// RateLimit is the sustained requests per second one client address
	// may make; RateBurst how many it may make at once. 0 disables.
	RateLimit float64
	RateBurst int
	// TrustedProxies are CIDRs (or single IPs) whose X-Forwarded-For the
	// server believes. Empty: the peer address is the client, always.
	TrustedProxies []string

	// MaxLongPolls caps concurrent polls; MaxSubscribers concurrent
	// WebSocket event streams. Over the cap: 503 with Retry-After.
	// 0 means the defaults below; negative means no cap.
	MaxLongPolls   int
	MaxSubscribers int

	// ReadTimeout bounds reading one whole request, body included.
	ReadTimeout time.Duration
}

// Defaults of SecurityConfig's caps.
const (
	DefaultMaxLongPolls   = 4096
	DefaultMaxSubscribers = 1024
	// DefaultReadTimeout of 0 means the longest poll plus a margin: a
	// shorter read deadline would cancel parked long-polls (net/http's
	// background read fails at the deadline and cancels the request).
	DefaultReadTimeout = 0
)

func (c SecurityConfig) withDefaults() SecurityConfig {
	if c.MaxLongPolls == 0 {
		c.MaxLongPolls = DefaultMaxLongPolls
	}
	if c.MaxSubscribers == 0 {
		c.MaxSubscribers = DefaultMaxSubscribers
	}
	if c.RateLimit > 0 && c.RateBurst <= 0 {
		c.RateBurst = max(1, int(2*c.RateLimit))
	}
	return c
}

// TokenStore resolves a token's hash to its scopes. The replicated state
// (fsm.FSM) implements it; see Server.tokens.
type TokenStore interface {
	// TokenScopes returns the scopes of the token whose sha256 is hash
	// (lowercase hex), if such a token exists.
	TokenScopes(hash string) ([]string, bool)
	// HasTokens reports whether any token exists.
	HasTokens() bool
}

// HashToken is how tokens are stored: tokens are random and high-entropy,
// so an unsalted sha256 suffices and makes lookup a map access.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// routeScopes maps "METHOD /route/pattern" (the pattern as registered,
// echo's c.Path()) to the scope it needs.
//
// HEAD needs what GET needs. A route missing from this table (and from
// prefixScopes) needs ScopeAdmin: a route added without
// thinking about authorization is closed rather than open. Add a line here
// when adding a route that workers, submitters or readers should reach.
//
// Queue settings (PUT /v1/queues/:name, pause, resume), drain, membership,
// faults, backup/restore and /v1/tokens are admin by that default.
var routeScopes = map[string]Scope{
	"GET /v1/health": scopePublic,
	"GET /v1/ready":  scopePublic,

	"POST /v1/tasks":            ScopeSubmit,
	"POST /v1/tasks/batch":      ScopeSubmit,
	"POST /v1/tasks/:id/cancel": ScopeSubmit,
	"POST /v1/tasks/:id/retry":  ScopeSubmit,

	"POST /v1/workers":               ScopeWorker,
	"POST /v1/workers/:id/heartbeat": ScopeWorker,
	"POST /v1/workers/:id/poll":      ScopeWorker,
	"POST /v1/tasks/:id/complete":    ScopeWorker,
	"POST /v1/tasks/:id/fail":        ScopeWorker,
	"DELETE /v1/workers/:id":         ScopeWorker, // a worker leaves on shutdown

	"GET /v1/tasks":        ScopeRead,
	"GET /v1/tasks/:id":    ScopeRead,
	"GET /v1/workers":      ScopeRead,
	"GET /v1/workers/:id":  ScopeRead,
	"GET /v1/cluster":      ScopeRead,
	"GET /v1/cluster/self": ScopeRead,
	"GET /v1/queues":       ScopeRead,
	"GET /v1/events":       ScopeRead,
	"GET /metrics":         ScopeRead,
	"GET /":                ScopeRead,
	"GET /*":               ScopeRead,
}

// prefixScopes covers route families whose exact patterns are owned by
// other files: reads need read, writes need the given scope.
var prefixScopes = []struct {
	prefix string
	write  Scope
}{
	{"/v1/schedules", ScopeSubmit},
}

// scopeFor is the scope a matched route needs; see routeScopes.
func scopeFor(method, route string) Scope {
	if method == http.MethodHead {
		method = http.MethodGet
	}
	if sc, ok := routeScopes[method+" "+route]; ok {
		return sc
	}
	for _, p := range prefixScopes {
		if route == p.prefix || strings.HasPrefix(route, p.prefix+"/") {
			if method == http.MethodGet || method == http.MethodHead {
				return ScopeRead
			}
			return p.write
		}
	}
	return ScopeAdmin
}

var (
	errUnauthorized = &httpError{http.StatusUnauthorized, codeUnauthorized, "a token is required (Authorization: Bearer <token>)"}
	errBadToken     = &httpError{http.StatusUnauthorized, codeUnauthorized, "unknown or revoked token"}
)

// tokenCookie carries a read token for the dashboard, whose page and
// WebSocket cannot set headers: GET /?token=... sets it.
const tokenCookie = "shepherd_token"

// authEnabled reports whether requests need a token.
func (s *Server) authEnabled() bool {
	sc := s.cfg.Security
	if sc.RequireAuth || sc.BootstrapToken != "" {
		return true
	}
	ts := s.tokens()
	return ts != nil && ts.HasTokens()
}

// tokens is the replicated token store, when the state implements one.
func (s *Server) tokens() TokenStore {
	if s.cfg.Security.Tokens != nil {
		return s.cfg.Security.Tokens
	}
	if st := s.b.State(); st != nil {
		var v any = st
		if ts, ok := v.(TokenStore); ok {
			return ts
		}
	}
	return nil
}

// authenticate enforces the route's scope once authentication is on:
// 401 without a valid token, 403 with one lacking the scope.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		need := scopeFor(r.Method, c.Path())
		if need == scopePublic || !s.authEnabled() {
			return next(c)
		}
		token, fromQuery := presentedToken(r)
		if token == "" {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="shepherd"`)
			return errUnauthorized
		}
		scopes, ok := s.resolveToken(token)
		if !ok {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="shepherd", error="invalid_token"`)
			return errBadToken
		}
		if !hasScope(scopes, need) {
			return &httpError{http.StatusForbidden, codeForbidden,
				fmt.Sprintf("%s %s needs a token with scope %q", r.Method, c.Path(), need)}
		}
		if bound := boundWorker(scopes); bound != "" {
			if err := checkBoundWorker(c, bound); err != nil {
				return err
			}
			c.Set(boundWorkerKey, bound)
		}
		if fromQuery && (c.Path() == "/" || c.Path() == "/*") {
			// The dashboard's own fetches and WebSocket carry the cookie.
			c.SetCookie(&http.Cookie{Name: tokenCookie, Value: token, Path: "/", HttpOnly: true,
				Secure: s.cfg.Security.TLS != nil, SameSite: http.SameSiteStrictMode})
		}
		return next(c)
	}
}

// presentedToken is the request's bearer token. GETs may instead carry it
// as ?token= (browsers cannot set headers on a WebSocket) or in the
// dashboard's cookie; a cookie never authorizes a write, so a forged
// cross-site form cannot use it.
func presentedToken(r *http.Request) (token string, fromQuery bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok), false
		}
		return "", false
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return "", false
	}
	if tok := r.URL.Query().Get("token"); tok != "" {
		return tok, true
	}
	if ck, err := r.Cookie(tokenCookie); err == nil {
		return ck.Value, false
	}
	return "", false
}

// resolveToken returns the scopes of a token: the bootstrap token is
// admin; others are looked up by hash in the replicated state.
func (s *Server) resolveToken(token string) ([]string, bool) {
	h := HashToken(token)
	if b := s.cfg.Security.BootstrapToken; b != "" &&
		subtle.ConstantTimeCompare([]byte(h), []byte(HashToken(b))) == 1 {
		return []string{string(ScopeAdmin)}, true
	}
	if ts := s.tokens(); ts != nil {
		return ts.TokenScopes(h)
	}
	return nil, false
}

func hasScope(have []string, need Scope) bool {
	for _, h := range have {
		if Scope(h) == need || Scope(h) == ScopeAdmin {
			return true
		}
		if need == ScopeWorker && strings.HasPrefix(h, boundWorkerPrefix) {
			return true
		}
	}
	return false
}

// ipExtractor returns the client address echo reports as c.RealIP(): the
// TCP peer, or with trusted proxies the nearest untrusted X-Forwarded-For
// hop. Echo trusts loopback and private networks by default; we do not.
func ipExtractor(trusted []string) (echo.IPExtractor, error) {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect(), nil
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, t := range trusted {
		if !strings.Contains(t, "/") {
			if ip := net.ParseIP(t); ip != nil && ip.To4() != nil {
				t += "/32"
			} else {
				t += "/128"
			}
		}
		_, n, err := net.ParseCIDR(t)
		if err != nil {
			return nil, fmt.Errorf("api: trusted proxy %q: %w", t, err)
		}
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...), nil
}

// useSecurity installs the client-address extractor and, after logging
// and panic recovery, the rate limit, authentication and the caps (in that
// order: a flood is refused before it costs a token lookup, and an
// unauthenticated request never takes a long-poll slot).
func (s *Server) useSecurity() {
	sc := s.cfg.Security
	ex, err := ipExtractor(sc.TrustedProxies)
	if err != nil {
		s.logger.Error("ignoring trusted proxies; using peer addresses", "error", err)
		ex = echo.ExtractIPDirect()
	}
	s.e.IPExtractor = ex
	if sc.RateLimit > 0 {
		s.limiter = newRateLimiter(sc.RateLimit, sc.RateBurst, time.Now)
	}
	s.polls = newSemaphore(sc.MaxLongPolls)
	s.subscribers = newSemaphore(sc.MaxSubscribers)
	s.e.Use(s.rateLimit, s.authenticate, s.capRoutes)
	s.tokenRoutes()
}

// ValidateSecurity reports a configuration error New would otherwise only
// log (a malformed trusted proxy).
func ValidateSecurity(sc SecurityConfig) error {
	_, err := ipExtractor(sc.TrustedProxies)
	return err
}

// secureServer sets the read timeout and TLS of the HTTP server. The read
// timeout never undercuts a long-poll (see DefaultReadTimeout).
func (s *Server) secureServer(srv *http.Server) {
	srv.ReadTimeout = max(s.cfg.Security.ReadTimeout, s.cfg.MaxPollWait+writeTimeoutMargin)
	if t := s.cfg.Security.TLS; t != nil {
		t = t.Clone()
		if t.MinVersion < tls.VersionTLS12 {
			t.MinVersion = tls.VersionTLS12
		}
		srv.TLSConfig = t
	}
}

// scheme is how clients reach this master: https once it serves TLS.
func (s *Server) scheme() string {
	if s.cfg.Security.TLS != nil {
		return "https"
	}
	return "http"
}
