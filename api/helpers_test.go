package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shepherd/shepherd/api/client"
)

// newTestServer serves b with the server clock pinned to the fake's.
func newTestServer(t *testing.T, b *fakeBackend, mods ...func(*Config)) *Server {
	t.Helper()
	cfg := Config{Addr: "127.0.0.1:0"}
	for _, m := range mods {
		m(&cfg)
	}
	s := New(cfg, b)
	s.now = func() time.Time { return b.clock() }
	return s
}

// do sends one request to h; body "" sends none.
func do(t *testing.T, h http.Handler, method, target, body string) *httptest.ResponseRecorder {
	t.Helper()
	var req *http.Request
	if body == "" {
		req = httptest.NewRequest(method, target, nil)
	} else {
		req = httptest.NewRequest(method, target, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// decodeAs decodes a 2xx answer, failing on any other status.
func decodeAs[T any](t *testing.T, rec *httptest.ResponseRecorder, status int) T {
	t.Helper()
	var out T
	if rec.Code != status {
		t.Fatalf("status %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("decode %s: %v", rec.Body, err)
	}
	return out
}

// wantError checks an error answer's status, code and (part of) message.
func wantError(t *testing.T, rec *httptest.ResponseRecorder, status int, code, msgPart string) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("content type %q, want JSON", ct)
	}
	var eb client.ErrorBody
	dec := json.NewDecoder(strings.NewReader(rec.Body.String()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&eb); err != nil {
		t.Fatalf("error body %s is not the contract's shape: %v", rec.Body, err)
	}
	if eb.Error.Code != code {
		t.Errorf("code %q, want %q (message %q)", eb.Error.Code, code, eb.Error.Message)
	}
	if !strings.Contains(eb.Error.Message, msgPart) {
		t.Errorf("message %q does not contain %q", eb.Error.Message, msgPart)
	}
}

// wantNoCalls checks that a rejected request reached no write of the Backend
// and changed no state.
func wantNoCalls(t *testing.T, b *fakeBackend, index uint64) {
	t.Helper()
	if calls := b.callsMade(); len(calls) != 0 {
		t.Errorf("backend calls %v, want none", calls)
	}
	if got := b.state.AppliedIndex(); got != index {
		t.Errorf("applied index moved from %d to %d", index, got)
	}
}

// seed submits tasks named after names, registers worker w1 and returns
// the submitted ids.
func seed(t *testing.T, h http.Handler, names ...string) []int64 {
	t.Helper()
	ids := make([]int64, 0, len(names))
	for _, n := range names {
		task := decodeAs[client.Task](t, do(t, h, "POST", "/v1/tasks", `{"name":"`+n+`"}`), http.StatusCreated)
		ids = append(ids, task.ID)
	}
	decodeAs[client.Worker](t, do(t, h, "POST", "/v1/workers", `{"id":"w1","capacity":4}`), http.StatusOK)
	return ids
}

// resetCalls forgets the calls seeding made.
func (f *fakeBackend) resetCalls() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = nil
}
