package client

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is a non-2xx answer of a master, decoded from the contract's error
// body. Status is the HTTP status; Code the contract's error code.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("shepherd: %s (%d)", e.Code, e.Status)
	}
	return fmt.Sprintf("shepherd: %s (%d): %s", e.Code, e.Status, e.Message)
}

// Is makes errors.Is(err, ErrNotFound) and friends match on the code alone.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Sentinels for errors.Is; they match any *Error with the same code.
var (
	ErrInvalidArgument = &Error{Status: http.StatusBadRequest, Code: "invalid_argument"}
	ErrNotFound        = &Error{Status: http.StatusNotFound, Code: "not_found"}
	ErrConflict        = &Error{Status: http.StatusConflict, Code: "conflict"}
	ErrStaleLease      = &Error{Status: http.StatusConflict, Code: "stale_lease"}
	ErrNoLeader        = &Error{Status: http.StatusServiceUnavailable, Code: "no_leader"}
	ErrTimeout         = &Error{Status: http.StatusGatewayTimeout, Code: "timeout"}

	// ErrTooManyRedirects is returned when masters keep redirecting.
	ErrTooManyRedirects = errors.New("shepherd: too many redirects")
)

// IsCode reports whether err carries the contract error code code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// IsNotFound reports whether err is a not_found answer.
func IsNotFound(err error) bool { return IsCode(err, "not_found") }

// IsStaleLease reports whether err is a stale_lease answer: the report was
// for an attempt that no longer holds the lease.
func IsStaleLease(err error) bool { return IsCode(err, "stale_lease") }

// codeForStatus names the contract code of a status when the body had none
// (a proxy's answer, say).
func codeForStatus(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "invalid_argument"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusConflict:
		return "conflict"
	case http.StatusRequestEntityTooLarge:
		return "payload_too_large"
	case http.StatusServiceUnavailable:
		return "no_leader"
	case http.StatusGatewayTimeout:
		return "timeout"
	default:
		return "internal"
	}
}

// retryableStatus is true for answers that say "try again, maybe elsewhere".
func retryableStatus(status int) bool {
	return status == http.StatusBadGateway ||
		status == http.StatusServiceUnavailable ||
		status == http.StatusGatewayTimeout
}
