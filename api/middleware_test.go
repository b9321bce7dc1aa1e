package api

import (
	"net/http"
	"strings"
	"testing"
)

func TestFollowerRedirectsLeaderOnlyRequests(t *testing.T) {
	cases := []struct{ method, target, body string }{
		{"POST", "/v1/tasks?trace=1", `{"name":"a"}`},
		{"POST", "/v1/tasks/batch", `{"tasks":[{"name":"a"}]}`},
		{"POST", "/v1/tasks/7/cancel", ""},
		{"POST", "/v1/tasks/7/complete", `{"worker_id":"w1","attempt":1}`},
		{"POST", "/v1/tasks/7/fail", `{"worker_id":"w1","attempt":1}`},
		{"POST", "/v1/workers", `{"id":"w1"}`},
		{"POST", "/v1/workers/w%2F1/heartbeat?x=a%20b", `{}`},
		{"POST", "/v1/workers/w1/poll", `{"wait":"20s"}`},
		{"POST", "/v1/workers/w1/drain", ""},
		{"POST", "/v1/cluster/join", `{"id":"m4","raft_addr":"a:1"}`},
		{"GET", "/v1/tasks?status=pending&consistent=true", ""},
		{"GET", "/v1/tasks/7?consistent=true", ""},
		{"GET", "/v1/workers?consistent=true", ""},
		{"GET", "/v1/workers/w1?consistent=true", ""},
		{"GET", "/v1/cluster?consistent=true", ""},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			b := newFollower()
			rec := do(t, newTestServer(t, b).Handler(), tc.method, tc.target, tc.body)
			if rec.Code != http.StatusTemporaryRedirect {
				t.Fatalf("status %d, want 307; body %s", rec.Code, rec.Body)
			}
			if got, want := rec.Header().Get("Location"), "http://10.0.0.2:8080"+tc.target; got != want {
				t.Errorf("Location %q, want %q", got, want)
			}
			if rec.Header().Get(headerNode) != "m3" || rec.Header().Get(headerLeader) != "m2" {
				t.Errorf("headers %v", rec.Header())
			}
			wantNoCalls(t, b, 0)
			if b.verifyCalls != 0 {
				t.Error("a follower verified leadership")
			}
		})
	}
}

func TestFollowerAnswersReadsItself(t *testing.T) {
	b := newFollower()
	h := newTestServer(t, b).Handler()
	for _, target := range []string{"/v1/tasks", "/v1/tasks?consistent=false", "/v1/workers", "/v1/cluster",
		"/v1/cluster/self", "/v1/health", "/v1/ready?consistent=true"} {
		if rec := do(t, h, "GET", target, ""); rec.Code != http.StatusOK {
			t.Errorf("GET %s on a follower: %d %s", target, rec.Code, rec.Body)
		}
	}
	wantError(t, do(t, h, "GET", "/v1/tasks/1", ""), http.StatusNotFound, codeNotFound, "")
}

func TestNoLeaderIs503(t *testing.T) {
	b := newFollower()
	b.leaderID, b.leaderHTTP = "", ""
	h := newTestServer(t, b).Handler()
	for _, tc := range []struct{ method, target, body string }{
		{"POST", "/v1/tasks", `{"name":"a"}`},
		{"POST", "/v1/workers/w1/poll", ""},
		{"GET", "/v1/tasks?consistent=true", ""},
	} {
		rec := do(t, h, tc.method, tc.target, tc.body)
		wantError(t, rec, http.StatusServiceUnavailable, codeNoLeader, "no leader")
		if rec.Header().Get("Retry-After") != "1" {
			t.Errorf("%s %s: Retry-After %q", tc.method, tc.target, rec.Header().Get("Retry-After"))
		}
		if rec.Header().Get(headerLeader) != "" {
			t.Errorf("leader header %q with no leader", rec.Header().Get(headerLeader))
		}
	}
	wantNoCalls(t, b, 0)
}

func TestNotLeaderFromBackendRedirectsWhenLeaderKnown(t *testing.T) {
	// Leadership moved between the redirect check and the write.
	b := newLeader()
	b.leaderID, b.leaderHTTP = "m2", "10.0.0.2:8080"
	b.fail["Cancel"] = ErrNotLeader
	rec := do(t, newTestServer(t, b).Handler(), "POST", "/v1/tasks/3/cancel?a=1", "")
	if rec.Code != http.StatusTemporaryRedirect || rec.Header().Get("Location") != "http://10.0.0.2:8080/v1/tasks/3/cancel?a=1" {
		t.Errorf("answer %d Location %q", rec.Code, rec.Header().Get("Location"))
	}
}

func TestConsistentReadVerifiesLeadership(t *testing.T) {
	b := newLeader()
	h := newTestServer(t, b).Handler()
	seed(t, h, "a")
	for _, target := range []string{"/v1/tasks?consistent=true", "/v1/tasks/1?consistent=true", "/v1/workers/w1?consistent=1"} {
		before := b.verifyCalls
		if rec := do(t, h, "GET", target, ""); rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", target, rec.Code, rec.Body)
		}
		if b.verifyCalls != before+1 {
			t.Errorf("%s: VerifyLeader called %d times, want 1", target, b.verifyCalls-before)
		}
	}
	before := b.verifyCalls
	do(t, h, "GET", "/v1/tasks/1", "")
	if b.verifyCalls != before {
		t.Error("a plain read verified leadership")
	}

	b.verifyErr = ErrLeadershipLost
	wantError(t, do(t, h, "GET", "/v1/tasks/1?consistent=true", ""), http.StatusServiceUnavailable, codeNoLeader, "")
}

func TestResponseHeaders(t *testing.T) {
	b := newLeader()
	h := newTestServer(t, b).Handler()
	seed(t, h, "a")
	for _, tc := range []struct {
		method, target, body string
		index                bool
	}{
		{"GET", "/v1/tasks/1", "", true},
		{"GET", "/v1/workers", "", true},
		{"POST", "/v1/tasks", `{"name":"b"}`, true},
		{"GET", "/v1/health", "", false},
		{"GET", "/v1/cluster/self", "", false},
		{"GET", "/nowhere", "", false},
	} {
		rec := do(t, h, tc.method, tc.target, tc.body)
		if rec.Header().Get(headerNode) != "m1" || rec.Header().Get(headerLeader) != "m1" {
			t.Errorf("%s: node/leader headers %v", tc.target, rec.Header())
		}
		if got := rec.Header().Get(headerIndex); (got != "") != tc.index {
			t.Errorf("%s: index header %q, want present=%v", tc.target, got, tc.index)
		}
	}
	// A write's index includes the write itself.
	rec := do(t, h, "POST", "/v1/tasks", `{"name":"c"}`)
	if got := rec.Header().Get(headerIndex); got != "4" {
		t.Errorf("write index %q, want 4", got)
	}
}

func TestErrorShapeForRoutingAndPanics(t *testing.T) {
	b := newLeader()
	s := newTestServer(t, b)
	s.Mount("/boom", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("kaboom") }))
	h := s.Handler()

	wantError(t, do(t, h, "GET", "/nowhere", ""), http.StatusNotFound, codeNotFound, "")
	wantError(t, do(t, h, "GET", "/v1/nowhere", ""), http.StatusNotFound, codeNotFound, "/v1/nowhere")
	rec := do(t, h, "GET", "/boom", "")
	wantError(t, rec, http.StatusInternalServerError, codeInternal, "internal error")
	if strings.Contains(rec.Body.String(), "kaboom") {
		t.Error("panic value leaked to the client")
	}
	rec = do(t, h, "DELETE", "/v1/tasks/1", "")
	wantError(t, rec, http.StatusMethodNotAllowed, codeMethodNotAllowed, "")
	if rec.Header().Get("Allow") == "" {
		t.Error("405 without Allow")
	}
}

func TestMount(t *testing.T) {
	b := newFollower()
	s := newTestServer(t, b)
	serve := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(name + " " + r.URL.Path))
		})
	}
	s.Mount("/", serve("dashboard"))
	s.Mount("/metrics", serve("metrics"))
	s.Mount("/v1/events", serve("events"))
	h := s.Handler()

	for target, want := range map[string]string{
		"/":              "dashboard /",
		"/assets/app.js": "dashboard /assets/app.js",
		"/metrics":       "metrics /metrics",
		"/v1/events":     "events /v1/events",
	} {
		rec := do(t, h, "GET", target, "")
		if rec.Code != http.StatusOK || rec.Body.String() != want {
			t.Errorf("GET %s: %d %q, want %q", target, rec.Code, rec.Body, want)
		}
		if rec.Header().Get(headerNode) != "m3" {
			t.Errorf("GET %s: no node header", target)
		}
	}
	// Mounted handlers are not redirected, even for writes on a follower.
	if rec := do(t, h, "POST", "/metrics", "{}"); rec.Code != http.StatusOK {
		t.Errorf("POST /metrics on a follower: %d", rec.Code)
	}
	// The dashboard at "/" does not shadow the API's own errors.
	wantError(t, do(t, h, "GET", "/v1/nope", ""), http.StatusNotFound, codeNotFound, "")
	wantError(t, do(t, h, "GET", "/v1", ""), http.StatusNotFound, codeNotFound, "")
	wantError(t, do(t, h, "DELETE", "/v1/tasks/1", ""), http.StatusNotFound, codeNotFound, "")
	if rec := do(t, h, "GET", "/v1/health", ""); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"status":"ok"`) {
		t.Errorf("health after mounts: %d %s", rec.Code, rec.Body)
	}
}
