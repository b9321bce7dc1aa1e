package api

import (
	"fmt"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// Response headers (API.md "Conventions").
const (
	headerNode   = "X-Shepherd-Node"
	headerLeader = "X-Shepherd-Leader"
	headerIndex  = "X-Shepherd-Index"
)

type echoMiddleware = echo.MiddlewareFunc

// RequestObserver records HTTP request metrics by route pattern.
type RequestObserver interface {
	ObserveHTTP(method, route string, status int, d time.Duration)
}

// logRequests logs every request at debug level once its answer is known.
// It hands errors to the error handler itself so that it sees the status.
func (s *Server) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			c.Error(err)
		}
		if s.cfg.Metrics != nil {
			route := c.Path()
			if route == "" {
				route = "unmatched"
			}
			s.cfg.Metrics.ObserveHTTP(c.Request().Method, route, c.Response().Status, time.Since(start))
		}
		if s.logger.IsDebug() {
			r := c.Request()
			s.logger.Debug("request", "method", r.Method, "path", r.URL.Path,
				"status", c.Response().Status, "duration", time.Since(start), "remote", r.RemoteAddr)
		}
		return nil
	}
}

// recoverPanics turns a panic into a 500 in the contract's shape.
// http.ErrAbortHandler keeps its meaning: abort the response.
func (s *Server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			if r == http.ErrAbortHandler {
				panic(r)
			}
			s.logger.Error("handler panicked", "method", c.Request().Method, "path", c.Request().URL.Path,
				"panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", r) // classified as internal, message hidden
		}()
		return next(c)
	}
}

// nodeHeaders names the answering master and, when known, the leader.
func (s *Server) nodeHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set(headerNode, s.b.NodeID())
		if id, _, ok := s.b.Leader(); ok && id != "" {
			h.Set(headerLeader, id)
		}
		return next(c)
	}
}

// leaderOnly sends a request that only the leader may answer to the
// leader: 307 to the same path and query, or 503 with no known leader.
func (s *Server) leaderOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.b.IsLeader() {
			return next(c)
		}
		return s.toLeader(c)
	}
}

// consistentRead makes a GET with ?consistent=true leader-only and, on the
// leader, confirms leadership with a quorum before reading.
func (s *Server) consistentRead(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		consistent, err := boolQuery(c, "consistent")
		if err != nil {
			return err
		}
		if !consistent {
			return next(c)
		}
		if !s.b.IsLeader() {
			return s.toLeader(c)
		}
		if err := s.b.VerifyLeader(c.Request().Context()); err != nil {
			return err
		}
		return next(c)
	}
}

// readIndex stamps the applied index before the handler reads the replica,
// so the header is a lower bound of what the answer reflects.
func (s *Server) readIndex(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set(headerIndex, strconv.FormatUint(s.b.State().AppliedIndex(), 10))
		return next(c)
	}
}

// writeIndex stamps the applied index as the answer is written, after the
// write it reports was applied.
func (s *Server) writeIndex(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		res := c.Response()
		res.Before(func() {
			res.Header().Set(headerIndex, strconv.FormatUint(s.b.State().AppliedIndex(), 10))
		})
		return next(c)
	}
}

// toLeader redirects to the leader, or fails with no_leader.
func (s *Server) toLeader(c echo.Context) error {
	loc, ok := s.leaderLocation(c.Request())
	if !ok {
		return errNoLeaderKnown
	}
	return s.redirect(c, loc)
}

// leaderLocation is r's path and query on the leader's HTTP address, when
// another master is known to lead.
func (s *Server) leaderLocation(r *http.Request) (string, bool) {
	id, addr, ok := s.b.Leader()
	if !ok || addr == "" || id == s.b.NodeID() {
		return "", false
	}
	base := strings.TrimSuffix(addr, "/")
	if !strings.Contains(base, "://") {
		base = s.scheme() + "://" + base
	}
	return base + r.URL.RequestURI(), true
}

func (s *Server) redirect(c echo.Context, loc string) error {
	c.Response().Header().Set(echo.HeaderLocation, loc)
	return c.NoContent(http.StatusTemporaryRedirect)
}

// boolQuery parses an optional boolean query parameter.
func boolQuery(c echo.Context, name string) (bool, error) {
	v := c.QueryParam(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badRequest("query parameter %s must be true or false, not %q", name, v)
	}
	return b, nil
}
