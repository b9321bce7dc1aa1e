package api

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func rateLimited(t *testing.T, proxies ...string) (*Server, *time.Time) {
	t.Helper()
	s := newTestServer(t, newLeader(), func(c *Config) {
		c.Security.RateLimit = 1
		c.Security.RateBurst = 3
		c.Security.TrustedProxies = proxies
	})
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s.limiter.now = func() time.Time { return now }
	return s, &now
}

func fromPeer(t *testing.T, h http.Handler, peer, xff string) int {
	t.Helper()
	req := httptest.NewRequest("GET", "/v1/health", nil)
	req.RemoteAddr = peer
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code == http.StatusTooManyRequests && rec.Header().Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	return rec.Code
}

// TestRotatingForwardedForDoesNotEscape: without trusted proxies the peer
// address is the client, whatever X-Forwarded-For says.
func TestRotatingForwardedForDoesNotEscape(t *testing.T) {
	s, now := rateLimited(t)
	h := s.Handler()
	for i := range 3 {
		if code := fromPeer(t, h, "203.0.113.9:1000", fmt.Sprintf("10.0.0.%d", i)); code != http.StatusOK {
			t.Fatalf("request %d within burst: %d", i, code)
		}
	}
	for i := range 20 {
		if code := fromPeer(t, h, fmt.Sprintf("203.0.113.9:%d", 2000+i), fmt.Sprintf("198.51.100.%d", i)); code != http.StatusTooManyRequests {
			t.Fatalf("rotated XFF %d escaped the limit: %d", i, code)
		}
	}
	if code := fromPeer(t, h, "203.0.113.10:1000", ""); code != http.StatusOK {
		t.Fatalf("another client is limited too: %d", code)
	}
	*now = now.Add(time.Second)
	if code := fromPeer(t, h, "203.0.113.9:1000", ""); code != http.StatusOK {
		t.Fatalf("after refill: %d", code)
	}
}

// TestForwardedForFromTrustedProxyOnly: a configured proxy's clients get a
// bucket each; a client forging XFF through the proxy is keyed on the
// address the proxy saw (the rightmost untrusted hop).
func TestForwardedForFromTrustedProxyOnly(t *testing.T) {
	s, _ := rateLimited(t, "192.0.2.1")
	h := s.Handler()
	for i := range 10 {
		if code := fromPeer(t, h, "192.0.2.1:5000", fmt.Sprintf("198.51.100.%d", i)); code != http.StatusOK {
			t.Fatalf("proxied client %d: %d", i, code)
		}
	}
	for i := range 3 {
		fromPeer(t, h, "192.0.2.1:5000", fmt.Sprintf("7.7.7.%d, 203.0.113.50", i))
	}
	for i := range 10 {
		if code := fromPeer(t, h, "192.0.2.1:5000", fmt.Sprintf("8.8.8.%d, 203.0.113.50", i)); code != http.StatusTooManyRequests {
			t.Fatalf("forged hop %d escaped: %d", i, code)
		}
	}
	// Loopback and private peers are not trusted unless configured.
	for range 3 {
		fromPeer(t, h, "10.1.1.1:1", "1.2.3.4")
	}
	if code := fromPeer(t, h, "10.1.1.1:1", "1.2.3.5"); code != http.StatusTooManyRequests {
		t.Fatalf("private peer's XFF trusted: %d", code)
	}
}

func TestIPv6ClientsShareTheirSlash64(t *testing.T) {
	if clientKey("2001:db8::1") != clientKey("2001:db8::ffff:1") {
		t.Fatal("one /64 got two buckets")
	}
	if clientKey("2001:db8::1") == clientKey("2001:db8:0:1::1") {
		t.Fatal("two /64s share a bucket")
	}
}

func TestLimiterMemoryIsBounded(t *testing.T) {
	l := newRateLimiter(1, 1, time.Now)
	for i := range maxBuckets + 10 {
		l.allow(fmt.Sprint(i))
	}
	if n := len(l.buckets); n > maxBuckets+1 {
		t.Fatalf("%d buckets", n)
	}
}

// TestLongPollCap: polls beyond the cap get 503 at once; a slot frees
// when a poll ends.
func TestLongPollCap(t *testing.T) {
	b := newLeader()
	entered := make(chan struct{}, 8)
	release := make(chan struct{})
	b.pollHook = func(ctx context.Context) (PollResult, error) {
		entered <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return PollResult{}, nil
	}
	s := newTestServer(t, b, func(c *Config) { c.Security.MaxLongPolls = 2 })
	h := s.Handler()
	seed(t, h)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			do(t, h, "POST", "/v1/workers/w1/poll", `{"max":1,"wait":"30s"}`)
		}()
	}
	<-entered
	<-entered
	rec := do(t, h, "POST", "/v1/workers/w1/poll", `{"max":1,"wait":"30s"}`)
	wantError(t, rec, http.StatusServiceUnavailable, codeUnavailable, "long-polls")
	if rec.Header().Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	close(release)
	wg.Wait()
	go func() { <-entered }()
	if rec := do(t, h, "POST", "/v1/workers/w1/poll", `{"max":1,"wait":"1s"}`); rec.Code != http.StatusOK {
		t.Fatalf("after the polls ended: %d %s", rec.Code, rec.Body)
	}
}

// TestOversizedBodyRefusedWhenAuthenticated: the body limit holds behind
// authentication too.
func TestOversizedBodyRefusedWhenAuthenticated(t *testing.T) {
	h := securedServer(t, func(c *Config) { c.BodyLimit = 1024 }).Handler()
	body := `{"name":"x","description":"` + strings.Repeat("a", 4096) + `"}`
	req := httptest.NewRequest("POST", "/v1/tasks", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer tok-submit")
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	wantError(t, rec, http.StatusRequestEntityTooLarge, codeTooLarge, "exceeds")
}
