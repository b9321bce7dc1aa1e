package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/shepherd/shepherd/api/wire"
)

func TestBodyOverLimitIs413(t *testing.T) {
	b := newLeader()
	h := newTestServer(t, b, func(c *Config) { c.BodyLimit = 64 }).Handler()
	big := `{"name":"a","description":"` + strings.Repeat("x", 100) + `"}`
	for _, path := range []string{"/v1/tasks", "/v1/tasks/batch", "/v1/workers/w1/poll"} {
		wantError(t, do(t, h, "POST", path, big), http.StatusRequestEntityTooLarge, codeTooLarge, "exceeds 64 bytes")
	}
	// Trailing bytes past the limit count too.
	wantError(t, do(t, h, "POST", "/v1/tasks", `{"name":"a"}`+strings.Repeat(" ", 100)),
		http.StatusRequestEntityTooLarge, codeTooLarge, "")
	wantNoCalls(t, b, 0)
	if rec := do(t, h, "POST", "/v1/tasks", `{"name":"a"}`); rec.Code != http.StatusCreated {
		t.Errorf("small body: %d %s", rec.Code, rec.Body)
	}
}

func TestDefaultBodyLimitIsOneMiB(t *testing.T) {
	b := newLeader()
	h := newTestServer(t, b).Handler()
	body := `{"name":"a","description":"` + strings.Repeat("x", 1<<20) + `"}`
	wantError(t, do(t, h, "POST", "/v1/tasks", body), http.StatusRequestEntityTooLarge, codeTooLarge, "1048576")
	wantNoCalls(t, b, 0)
}

func TestUnknownFieldIsNamed(t *testing.T) {
	cases := []struct{ path, body, field string }{
		{"/v1/tasks", `{"name":"a","colour":"red"}`, `"colour"`},
		{"/v1/tasks/batch", `{"tasks":[{"name":"a"}],"atomic":true}`, `"atomic"`},
		{"/v1/workers/w1/poll", `{"completed":[{"id":1,"attempt":1,"output":"x"}]}`, `"output"`},
		{"/v1/workers", `{"id":"w","tags":{}}`, `"tags"`},
		{"/v1/workers/w1/drain", `{"now":true}`, `"now"`},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			b := newLeader()
			wantError(t, do(t, newTestServer(t, b).Handler(), "POST", tc.path, tc.body),
				http.StatusBadRequest, codeInvalid, "unknown field "+tc.field)
			wantNoCalls(t, b, 0)
		})
	}
}

func TestFormatDuration(t *testing.T) {
	for in, want := range map[string]string{"5m": "5m", "30s": "30s", "1h": "1h", "1h30m": "1h30m",
		"90s": "1m30s", "1.5s": "1.5s", "24h": "24h", "0s": "0s", "250ms": "250ms"} {
		d, _ := parseDur(in)
		if got := wire.Duration(d); got != want {
			t.Errorf("wire.Duration(%s) = %q, want %q", in, got, want)
		}
	}
}
