package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A token with scope "worker:w1" acts as worker w1 only: as any other
// worker, in a path or in a body, it is refused with 403 and nothing runs.
func TestBoundWorkerTokenActsOnlyAsItsWorker(t *testing.T) {
	tokens := staticTokens{"tok-w1": {"worker:w1"}, "tok-admin": {"admin"}}
	s := securedServer(t, func(c *Config) { c.Security.Tokens = tokens })
	h := s.Handler()
	send := func(method, path, body string) int {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer tok-w1")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := send(http.MethodPost, "/v1/workers", `{"id":"w1","capacity":2}`); code != http.StatusOK {
		t.Fatalf("register as w1: %d", code)
	}
	for _, tc := range []struct{ method, path, body string }{
		{http.MethodPost, "/v1/workers", `{"id":"w2","capacity":2}`},
		{http.MethodPost, "/v1/workers/w2/heartbeat", `{"running":[]}`},
		{http.MethodPost, "/v1/workers/w2/poll", `{"max":1}`},
		{http.MethodPost, "/v1/tasks/1/complete", `{"worker_id":"w2","attempt":1}`},
		{http.MethodPost, "/v1/tasks/1/fail", `{"worker_id":"w2","attempt":1,"error":"x"}`},
		{http.MethodPost, "/v1/tasks", `{"name":"echo"}`},
	} {
		if code := send(tc.method, tc.path, tc.body); code != http.StatusForbidden {
			t.Errorf("%s %s %s: %d, want 403", tc.method, tc.path, tc.body, code)
		}
	}
	if _, _, ok := s.b.State().Worker("w2"); ok {
		t.Fatal("a refused registration created worker w2")
	}
	if code := send(http.MethodPost, "/v1/workers/w1/heartbeat", `{"running":[]}`); code != http.StatusOK {
		t.Fatalf("heartbeat as w1: %d", code)
	}
	if !ValidScope("worker:w1") || ValidScope("worker:") || ValidScope("worker:a/b") {
		t.Fatal("ValidScope does not follow the worker:<id> form")
	}
}
