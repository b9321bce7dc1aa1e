package api

import (
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// codeRateLimited extends the contract's codes for 429.
const codeRateLimited = "rate_limited"

// codeUnavailable is the 503 of a full long-poll or subscriber cap; like
// no_leader it carries Retry-After.
const codeUnavailable = "unavailable"

// maxBuckets bounds the limiter's memory under an address-spraying flood:
// when full, idle buckets are swept, and if none is idle new clients share
// one overflow bucket (they are limited together rather than not at all).
const maxBuckets = 100_000

// rateLimiter is a token bucket per client address. A tiny one rather
// than golang.org/x/time/rate, which is not a dependency.
type rateLimiter struct {
	rate  float64 // tokens per second
	burst float64
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newRateLimiter(rate float64, burst int, now func() time.Time) *rateLimiter {
	return &rateLimiter{rate: rate, burst: float64(burst), now: now, buckets: make(map[string]*bucket)}
}

// allow takes a token from key's bucket; when empty it returns how long
// until one is available.
func (l *rateLimiter) allow(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxBuckets {
			l.sweepLocked(now)
		}
		if len(l.buckets) >= maxBuckets {
			key = "overflow"
			b = l.buckets[key]
		}
		if b == nil {
			b = &bucket{tokens: l.burst, last: now}
			l.buckets[key] = b
		}
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	return false, wait
}

// sweepLocked drops buckets that have refilled completely: forgetting
// them changes nothing.
func (l *rateLimiter) sweepLocked(now time.Time) {
	full := time.Duration(l.burst / l.rate * float64(time.Second))
	for k, b := range l.buckets {
		if now.Sub(b.last) >= full {
			delete(l.buckets, k)
		}
	}
}

// clientKey is the bucket of a client address: IPv4 addresses each get
// one, IPv6 clients one per /64 (a host usually owns a whole /64).
func clientKey(ip string) string {
	p := net.ParseIP(ip)
	if p == nil {
		return ip
	}
	if p.To4() != nil {
		return p.String()
	}
	return p.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// rateLimit answers 429 with Retry-After to a client over its rate. The
// client is echo's RealIP: the peer address unless it is a trusted proxy.
func (s *Server) rateLimit(next echo.HandlerFunc) echo.HandlerFunc {
	if s.limiter == nil {
		return next
	}
	return func(c echo.Context) error {
		ok, wait := s.limiter.allow(clientKey(c.RealIP()))
		if ok {
			return next(c)
		}
		secs := int(wait/time.Second) + 1
		c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
		return &httpError{http.StatusTooManyRequests, codeRateLimited, "too many requests from this address; slow down"}
	}
}

// semaphore caps concurrent requests of one kind; nil means no cap.
type semaphore chan struct{}

func newSemaphore(n int) semaphore {
	if n <= 0 {
		return nil
	}
	return make(semaphore, n)
}

// capRoutes answers 503 to a long-poll or an event subscription beyond its
// cap instead of parking one more goroutine and connection.
func (s *Server) capRoutes(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		var sem semaphore
		var what string
		switch route := c.Request().Method + " " + c.Path(); route {
		case "POST /v1/workers/:id/poll":
			sem, what = s.polls, "long-polls"
		case "GET /v1/events":
			sem, what = s.subscribers, "event subscribers"
		}
		if sem == nil {
			return next(c)
		}
		select {
		case sem <- struct{}{}:
			defer func() { <-sem }()
			return next(c)
		default:
			return &httpError{http.StatusServiceUnavailable, codeUnavailable,
				"too many concurrent " + what + " on this master; retry later"}
		}
	}
}
