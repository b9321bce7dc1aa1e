package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/shepherd/shepherd/api/client"
	"github.com/shepherd/shepherd/fsm"
)

// Contract error codes (API.md "Conventions"). methodNotAllowed and
// notReady extend the list for statuses the contract does not name.
const (
	codeInvalid          = "invalid_argument"
	codeUnauthorized     = "unauthorized"
	codeForbidden        = "forbidden"
	codeNotFound         = "not_found"
	codeMethodNotAllowed = "method_not_allowed"
	codeConflict         = "conflict"
	codeStaleLease       = "stale_lease"
	codeTooLarge         = "payload_too_large"
	codeNoLeader         = "no_leader"
	codeNotReady         = "not_ready"
	codeTimeout          = "timeout"
	codeInternal         = "internal"
)

// retryAfter is the Retry-After, in seconds, of every 503.
const retryAfter = "1"

// httpError is an answer the edge decides itself (validation, routing).
type httpError struct {
	status  int
	code    string
	message string
}

func (e *httpError) Error() string { return e.code + ": " + e.message }

func badRequest(format string, args ...any) *httpError {
	return &httpError{http.StatusBadRequest, codeInvalid, fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) *httpError {
	return &httpError{http.StatusNotFound, codeNotFound, fmt.Sprintf(format, args...)}
}

var errNoLeaderKnown = &httpError{http.StatusServiceUnavailable, codeNoLeader, "no leader is known; retry later"}

var errShuttingDown = &httpError{http.StatusServiceUnavailable, codeNoLeader, "master is shutting down; retry on another"}

// errorTable maps the errors the fsm and the Backend return to statuses and
// codes. The first match wins, so more specific errors come first.
var errorTable = []struct {
	err    error
	status int
	code   string
}{
	{fsm.ErrInvalid, http.StatusBadRequest, codeInvalid},
	{fsm.ErrNotFound, http.StatusNotFound, codeNotFound},
	{fsm.ErrStaleLease, http.StatusConflict, codeStaleLease},
	{fsm.ErrConflict, http.StatusConflict, codeConflict},
	{ErrNoLeader, http.StatusServiceUnavailable, codeNoLeader},
	{ErrNotLeader, http.StatusServiceUnavailable, codeNoLeader},
	{ErrLeadershipLost, http.StatusServiceUnavailable, codeNoLeader},
	{ErrTimeout, http.StatusGatewayTimeout, codeTimeout},
	{context.DeadlineExceeded, http.StatusGatewayTimeout, codeTimeout},
	// The client went away; nobody reads this answer, but it must not
	// look like a server fault in the logs.
	{context.Canceled, http.StatusGatewayTimeout, codeTimeout},
}

// statusCodes names the contract code of a status set by echo itself.
var statusCodes = map[int]string{
	http.StatusBadRequest:            codeInvalid,
	http.StatusUnauthorized:          codeUnauthorized,
	http.StatusForbidden:             codeForbidden,
	http.StatusNotFound:              codeNotFound,
	http.StatusMethodNotAllowed:      codeMethodNotAllowed,
	http.StatusConflict:              codeConflict,
	http.StatusRequestEntityTooLarge: codeTooLarge,
	http.StatusServiceUnavailable:    codeNoLeader,
	http.StatusGatewayTimeout:        codeTimeout,
}

// classify returns the status, code and message to answer err with.
// Internal errors get a generic message; the caller logs the detail.
func classify(err error) (status int, code, message string) {
	var he *httpError
	if errors.As(err, &he) {
		return he.status, he.code, he.message
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge, codeTooLarge,
			fmt.Sprintf("request body exceeds %d bytes", mbe.Limit)
	}
	var ee *echo.HTTPError
	if errors.As(err, &ee) {
		code, ok := statusCodes[ee.Code]
		switch {
		case ok:
		case ee.Code < http.StatusInternalServerError:
			code = codeInvalid
		default:
			code = codeInternal
		}
		msg, ok := ee.Message.(string)
		if !ok {
			msg = http.StatusText(ee.Code)
		}
		return ee.Code, code, msg
	}
	for _, row := range errorTable {
		if errors.Is(err, row.err) {
			return row.status, row.code, err.Error()
		}
	}
	return http.StatusInternalServerError, codeInternal, "internal error"
}

// codeOf is the contract code of err, for poll rejections.
func codeOf(err error) string {
	_, code, _ := classify(err)
	return code
}

// handleError is echo's HTTPErrorHandler: every error leaves in the
// contract's shape. A Backend's ErrNotLeader (leadership moved after the
// redirect check) is answered with a redirect when the new leader is known:
// nothing was applied, so the client may safely resend.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		s.logger.Debug("error after response was written", "path", c.Request().URL.Path, "error", err)
		return
	}
	if errors.Is(err, ErrNotLeader) {
		if loc, ok := s.leaderLocation(c.Request()); ok {
			if werr := s.redirect(c, loc); werr != nil {
				s.logger.Debug("write redirect", "error", werr)
			}
			return
		}
	}
	err = describeRouting(err, c.Request())
	status, code, message := classify(err)
	if code == codeInternal {
		s.logger.Error("request failed", "method", c.Request().Method, "path", c.Request().URL.Path, "error", err)
	}
	if status == http.StatusServiceUnavailable {
		c.Response().Header().Set("Retry-After", retryAfter)
	}
	var werr error
	if c.Request().Method == http.MethodHead {
		werr = c.NoContent(status)
	} else {
		werr = c.JSON(status, client.ErrorBody{Error: client.ErrorDetail{Code: code, Message: message}})
	}
	if werr != nil {
		s.logger.Debug("write error answer", "error", werr)
	}
}

// errUnexpected reports a Backend answer that breaks its contract.
func errUnexpected(op string, want, got int) error {
	return fmt.Errorf("%s: backend returned %d tasks, want %d", op, got, want)
}

// describeRouting names the method and path in echo's own 404 and 405.
func describeRouting(err error, r *http.Request) error {
	var ee *echo.HTTPError
	if !errors.As(err, &ee) {
		return err
	}
	switch ee.Code {
	case http.StatusNotFound:
		return notFound("no route for %s %s", r.Method, r.URL.Path)
	case http.StatusMethodNotAllowed:
		return &httpError{http.StatusMethodNotAllowed, codeMethodNotAllowed,
			fmt.Sprintf("method %s is not allowed on %s", r.Method, r.URL.Path)}
	}
	return err
}
