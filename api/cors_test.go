package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCORSAllowsReadsFromTheClustersMasters(t *testing.T) {
	b := newFollower()
	leader := ServerStatus{ID: "m2", HTTPAddr: "10.0.0.2:8080", State: "leader"}
	b.status = ClusterStatus{Leader: &leader, Servers: []ServerStatus{leader,
		{ID: "m3", HTTPAddr: "http://m3.example:8080", State: "follower"},
		{ID: "m4", HTTPAddr: ":8080", State: "follower"}}}
	srv := newTestServer(t, b)
	srv.Mount("/metrics", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("up 1\n")) }))
	h := srv.Handler()

	for _, tc := range []struct {
		name, method, path, origin, reqMethod string
		allowed                               bool
		status                                int
	}{
		{"read from a master's page", "GET", "/v1/cluster", "http://10.0.0.2:8080", "", true, 200},
		{"master advertised with a scheme", "GET", "/v1/cluster", "http://m3.example:8080", "", true, 200},
		{"same host as the request", "GET", "/v1/cluster", "http://example.com", "", true, 200},
		{"mounted handler", "GET", "/metrics", "http://10.0.0.2:8080", "", true, 200},
		{"preflight of a read", "OPTIONS", "/v1/tasks/7", "http://10.0.0.2:8080", "GET", true, http.StatusNoContent},
		{"other site", "GET", "/v1/cluster", "http://evil.example", "", false, 200},
		{"other port on a master's host", "GET", "/v1/cluster", "http://10.0.0.2:9999", "", false, 200},
		{"wildcard bind matches nothing", "GET", "/v1/cluster", "http://0.0.0.0:8080", "", false, 200},
		{"preflight of a write", "OPTIONS", "/v1/tasks", "http://10.0.0.2:8080", "POST", false, 0},
		{"a write", "POST", "/v1/tasks/7/cancel", "http://10.0.0.2:8080", "", false, 0},
		{"malformed origin", "GET", "/v1/cluster", "::nope", "", false, 200},
		{"no origin", "GET", "/v1/cluster", "", "", false, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, nil)
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			if tc.reqMethod != "" {
				req.Header.Set("Access-Control-Request-Method", tc.reqMethod)
				req.Header.Set("Access-Control-Request-Headers", "authorization")
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			got := rec.Header().Get("Access-Control-Allow-Origin")
			if tc.allowed && got != tc.origin || !tc.allowed && got != "" {
				t.Fatalf("Access-Control-Allow-Origin = %q (status %d)", got, rec.Code)
			}
			if tc.status != 0 && rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if tc.origin != "" && readMethod(tc.method) && !strings.Contains(rec.Header().Get("Vary"), "Origin") {
				t.Errorf("no Vary: Origin on an answer that depends on it")
			}
			if tc.allowed && tc.reqMethod != "" {
				if m := rec.Header().Get("Access-Control-Allow-Methods"); !strings.Contains(m, "GET") || strings.Contains(m, "POST") {
					t.Errorf("Access-Control-Allow-Methods = %q", m)
				}
				if hd := rec.Header().Get("Access-Control-Allow-Headers"); !strings.Contains(hd, "Authorization") {
					t.Errorf("Access-Control-Allow-Headers = %q", hd)
				}
			}
			if tc.allowed && tc.reqMethod == "" && !strings.Contains(rec.Header().Get("Access-Control-Expose-Headers"), headerNode) {
				t.Errorf("X-Shepherd-Node not exposed to the page")
			}
		})
	}
}
