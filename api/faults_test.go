package api

import (
	"net/http"
	"testing"
	"time"

	"github.com/shepherd/shepherd/api/client"
	"github.com/shepherd/shepherd/cluster"
)

func TestFaultsDisabledAnswer404(t *testing.T) {
	s := newTestServer(t, newLeader())
	for _, m := range []string{http.MethodGet, http.MethodDelete} {
		wantError(t, do(t, s.Handler(), m, "/v1/faults", ""), http.StatusNotFound, "not_found", "fault injection is disabled")
	}
	wantError(t, do(t, s.Handler(), http.MethodPost, "/v1/faults", `{"action":"drop"}`),
		http.StatusNotFound, "not_found", "--enable-fault-injection")
}

func TestFaultsAddListRemove(t *testing.T) {
	// A follower answers too: faults are node-local, never redirected.
	faults := cluster.NewFaults(func(id string) (string, bool) { return "127.0.0.1:7202", id == "m2" }, nil)
	s := newTestServer(t, newFollower(), func(c *Config) { c.Faults = faults })
	h := s.Handler()

	f := decodeAs[client.Fault](t, do(t, h, http.MethodPost, "/v1/faults",
		`{"peers":["m2"],"direction":"out","action":"delay","delay":"50ms","duration":"1m"}`), http.StatusCreated)
	if f.ID == "" || f.Direction != "out" || f.Delay != "50ms" || f.ExpiresAt == nil ||
		f.ExpiresAt.Sub(f.CreatedAt) != time.Minute {
		t.Fatalf("added fault = %+v", f)
	}
	list := decodeAs[client.FaultList](t, do(t, h, http.MethodGet, "/v1/faults", ""), http.StatusOK)
	if len(list.Faults) != 1 || list.Faults[0].ID != f.ID {
		t.Fatalf("list = %+v", list)
	}
	decodeAs[client.FaultsRemoved](t, do(t, h, http.MethodDelete, "/v1/faults/"+f.ID, ""), http.StatusOK)
	wantError(t, do(t, h, http.MethodDelete, "/v1/faults/"+f.ID, ""), http.StatusNotFound, "not_found", f.ID)

	do(t, h, http.MethodPost, "/v1/faults", `{"action":"drop"}`)
	do(t, h, http.MethodPost, "/v1/faults", `{"action":"blackhole","peers":["127.0.0.1:7203"]}`)
	got := decodeAs[client.FaultsRemoved](t, do(t, h, http.MethodDelete, "/v1/faults", ""), http.StatusOK)
	if got.Removed != 2 {
		t.Fatalf("cleared %d faults, want 2", got.Removed)
	}
}

func TestFaultsRejectInvalid(t *testing.T) {
	faults := cluster.NewFaults(nil, nil)
	s := newTestServer(t, newLeader(), func(c *Config) { c.Faults = faults })
	for _, body := range []string{
		`{"action":"explode"}`,
		`{"action":"delay"}`,
		`{"action":"drop","duration":"soon"}`,
		`{"action":"drop","peers":["m9"]}`,
		`{"action":"drop","direction":"up"}`,
		`{"action":"drop","bogus":1}`,
	} {
		wantError(t, do(t, s.Handler(), http.MethodPost, "/v1/faults", body), http.StatusBadRequest, "invalid_argument", "")
	}
	if n := len(faults.List()); n != 0 {
		t.Fatalf("%d faults after invalid requests, want 0", n)
	}
}
