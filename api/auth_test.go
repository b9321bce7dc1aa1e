package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// staticTokens is a TokenStore over fixed token -> scopes.
type staticTokens map[string][]string

func (m staticTokens) TokenScopes(hash string) ([]string, bool) {
	for tok, sc := range m {
		if HashToken(tok) == hash {
			return sc, true
		}
	}
	return nil, false
}

func (m staticTokens) HasTokens() bool { return len(m) > 0 }

var testTokens = staticTokens{
	"tok-worker": {"worker"},
	"tok-submit": {"submit"},
	"tok-read":   {"read"},
	"tok-admin":  {"admin"},
}

// wrongToken is a token whose scope differs from need (and is not admin).
var wrongToken = map[Scope]string{
	ScopeAdmin:  "tok-read",
	ScopeRead:   "tok-worker",
	ScopeWorker: "tok-submit",
	ScopeSubmit: "tok-worker",
}

var rightToken = map[Scope]string{
	ScopeAdmin: "tok-admin", ScopeRead: "tok-read", ScopeWorker: "tok-worker", ScopeSubmit: "tok-submit",
}

func securedServer(t *testing.T, mods ...func(*Config)) *Server {
	t.Helper()
	mods = append([]func(*Config){func(c *Config) { c.Security.Tokens = testTokens }}, mods...)
	s := newTestServer(t, newLeader(), mods...)
	// What a master mounts beside the API.
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	s.Mount("/v1/events", ok)
	s.Mount("/metrics", ok)
	s.Mount("/", ok)
	return s
}

// concrete turns a route pattern into a path that matches it.
func concrete(pattern string) string {
	parts := strings.Split(pattern, "/")
	for i, p := range parts {
		switch {
		case strings.HasPrefix(p, ":"):
			parts[i] = "1"
		case p == "*":
			parts[i] = "x"
		}
	}
	return strings.Join(parts, "/")
}

func authRequest(t *testing.T, h http.Handler, method, path, token string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestEveryRouteNeedsItsScope walks every registered route: without a
// token 401, with a token of another scope 403, with its scope neither.
func TestEveryRouteNeedsItsScope(t *testing.T) {
	s := securedServer(t)
	h := s.Handler()
	seen := map[string]bool{}
	for _, r := range s.e.Routes() {
		methods := []string{r.Method}
		if r.Method == echoAny {
			methods = []string{http.MethodGet, http.MethodPost, http.MethodDelete}
		}
		for _, m := range methods {
			key := m + " " + r.Path
			if seen[key] {
				continue
			}
			seen[key] = true
			need := scopeFor(m, r.Path)
			path := concrete(r.Path)
			t.Run(key, func(t *testing.T) {
				if need == scopePublic {
					if rec := authRequest(t, h, m, path, ""); rec.Code == 401 || rec.Code == 403 {
						t.Fatalf("public route answered %d", rec.Code)
					}
					return
				}
				want := func(rec *httptest.ResponseRecorder, status int, code, msg string) {
					t.Helper()
					if m == http.MethodHead {
						if rec.Code != status {
							t.Fatalf("status %d, want %d", rec.Code, status)
						}
						return
					}
					wantError(t, rec, status, code, msg)
				}
				want(authRequest(t, h, m, path, ""), http.StatusUnauthorized, codeUnauthorized, "token")
				want(authRequest(t, h, m, path, "not-a-token"), http.StatusUnauthorized, codeUnauthorized, "token")
				want(authRequest(t, h, m, path, wrongToken[need]), http.StatusForbidden, codeForbidden, string(need))
				if rec := authRequest(t, h, m, path, rightToken[need]); rec.Code == 401 || rec.Code == 403 {
					t.Fatalf("scope %s answered %d: %s", need, rec.Code, rec.Body)
				}
				if rec := authRequest(t, h, m, path, "tok-admin"); rec.Code == 401 || rec.Code == 403 {
					t.Fatalf("admin answered %d: %s", rec.Code, rec.Body)
				}
			})
		}
	}
	if len(seen) < 25 {
		t.Fatalf("only %d routes walked", len(seen))
	}
}

const echoAny = "echo_route_any"

func TestUnknownRouteDefaultsToAdmin(t *testing.T) {
	if got := scopeFor("POST", "/v1/something-new"); got != ScopeAdmin {
		t.Fatalf("unknown route needs %q, want admin", got)
	}
	if got := scopeFor("GET", "/v1/something-new"); got != ScopeAdmin {
		t.Fatalf("unknown GET needs %q, want admin", got)
	}
	// Unknown API paths fall to the dashboard's catch-all: a read route
	// for GET, admin for anything else.
	h := securedServer(t).Handler()
	wantError(t, authRequest(t, h, "GET", "/v1/nope", ""), http.StatusUnauthorized, codeUnauthorized, "")
	wantError(t, authRequest(t, h, "GET", "/v1/nope", "tok-worker"), http.StatusForbidden, codeForbidden, "read")
	wantError(t, authRequest(t, h, "POST", "/v1/nope", "tok-submit"), http.StatusForbidden, codeForbidden, "admin")
}

func TestOpenWithoutTokens(t *testing.T) {
	h := newTestServer(t, newLeader()).Handler()
	if rec := do(t, h, "POST", "/v1/tasks", `{"name":"x"}`); rec.Code != http.StatusCreated {
		t.Fatalf("dev mode submit: %d %s", rec.Code, rec.Body)
	}
}

func TestRequireAuthWithoutAnyToken(t *testing.T) {
	h := newTestServer(t, newLeader(), func(c *Config) { c.Security.RequireAuth = true }).Handler()
	wantError(t, do(t, h, "GET", "/v1/tasks", ""), http.StatusUnauthorized, codeUnauthorized, "token")
}

func TestBootstrapTokenIsAdmin(t *testing.T) {
	h := newTestServer(t, newLeader(), func(c *Config) { c.Security.BootstrapToken = "boot-secret" }).Handler()
	wantError(t, authRequest(t, h, "GET", "/v1/tasks", ""), http.StatusUnauthorized, codeUnauthorized, "")
	wantError(t, authRequest(t, h, "GET", "/v1/tasks", "boot-secreT"), http.StatusUnauthorized, codeUnauthorized, "")
	if rec := authRequest(t, h, "GET", "/v1/tasks", "boot-secret"); rec.Code != http.StatusOK {
		t.Fatalf("bootstrap token: %d %s", rec.Code, rec.Body)
	}
}

// TestQueryTokenOnlyForReads: ?token= and the cookie serve GETs (browser
// WebSockets, the dashboard), never a write.
func TestQueryTokenOnlyForReads(t *testing.T) {
	h := securedServer(t).Handler()
	if rec := do(t, h, "GET", "/v1/tasks?token=tok-read", ""); rec.Code != http.StatusOK {
		t.Fatalf("GET with ?token: %d", rec.Code)
	}
	wantError(t, do(t, h, "POST", "/v1/tasks?token=tok-admin", `{"name":"x"}`), http.StatusUnauthorized, codeUnauthorized, "")

	rec := do(t, h, "GET", "/?token=tok-read", "")
	ck := rec.Result().Cookies()
	if rec.Code != http.StatusOK || len(ck) != 1 || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteStrictMode {
		t.Fatalf("dashboard with ?token: %d cookies %v", rec.Code, ck)
	}
	req := httptest.NewRequest("GET", "/v1/events", nil)
	req.AddCookie(ck[0])
	got := httptest.NewRecorder()
	h.ServeHTTP(got, req)
	if got.Code != http.StatusOK {
		t.Fatalf("events with cookie: %d", got.Code)
	}
	req = httptest.NewRequest("POST", "/v1/tasks", strings.NewReader(`{"name":"x"}`))
	req.AddCookie(ck[0])
	got = httptest.NewRecorder()
	h.ServeHTTP(got, req)
	if got.Code != http.StatusUnauthorized {
		t.Fatalf("write with cookie: %d, want 401", got.Code)
	}
}
