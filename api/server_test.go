package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shepherd/shepherd/api/client"
)

var parseDur = time.ParseDuration

func TestConfigDefaults(t *testing.T) {
	c := Config{DefaultPollWait: time.Minute, MaxPollWait: 10 * time.Second}.withDefaults()
	if c.BodyLimit != 1<<20 || c.DefaultTimeout != 5*time.Minute || c.DefaultMaxAttempts != 3 ||
		c.DefaultQueue != "default" || c.HeartbeatInterval != time.Second || c.Logger == nil {
		t.Errorf("defaults %+v", c)
	}
	if c.DefaultPollWait != 10*time.Second {
		t.Errorf("default poll wait %s exceeds the max", c.DefaultPollWait)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestOpenServesOnAFreePort(t *testing.T) {
	s := newTestServer(t, newLeader())
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	if strings.HasSuffix(s.Addr(), ":0") {
		t.Fatalf("Addr %q is not the real port", s.Addr())
	}
	if err := s.Open(); err == nil {
		t.Error("second Open succeeded")
	}
	resp, err := http.Get("http://" + s.Addr() + "/v1/health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get(headerNode) != "m1" {
		t.Errorf("health over TCP: %d %v", resp.StatusCode, resp.Header)
	}
	if s.srv.WriteTimeout <= s.cfg.MaxPollWait || s.srv.ReadHeaderTimeout != 10*time.Second ||
		s.srv.IdleTimeout != 120*time.Second {
		t.Errorf("timeouts write %s header %s idle %s", s.srv.WriteTimeout, s.srv.ReadHeaderTimeout, s.srv.IdleTimeout)
	}
}

func TestCloseEndsParkedPolls(t *testing.T) {
	b := newLeader()
	b.pollHook = func(ctx context.Context) (PollResult, error) {
		<-ctx.Done()
		return PollResult{}, ctx.Err()
	}
	s := newTestServer(t, b)
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}

	type result struct {
		status int
		body   client.ErrorBody
		err    error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.Post("http://"+s.Addr()+"/v1/workers/w1/poll", "application/json", strings.NewReader(`{"wait":"60s"}`))
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		var r result
		r.status = resp.StatusCode
		r.err = json.NewDecoder(resp.Body).Decode(&r.body)
		done <- r
	}()
	waitFor(t, "the poll to park", func() bool { return len(b.callsMade()) == 1 })

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Close waited %s for a parked poll", took)
	}
	r := <-done
	if r.err != nil || r.status != http.StatusServiceUnavailable || r.body.Error.Code != codeNoLeader {
		t.Errorf("parked poll answered %d %+v %v", r.status, r.body, r.err)
	}
}

func TestCloseBeforeOpen(t *testing.T) {
	if err := newTestServer(t, newLeader()).Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}
