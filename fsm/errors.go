package fsm

import "errors"

// Business rejections returned in an Apply response. They change nothing.
var (
	// ErrNotFound: the task or worker does not exist.
	ErrNotFound = errors.New("not found")
	// ErrStaleLease: the attempt is not the task's current lease.
	ErrStaleLease = errors.New("stale lease")
	// ErrInvalid: the command's content is not acceptable.
	ErrInvalid = errors.New("invalid argument")
	// ErrConflict: the entity is in a state that forbids the change.
	ErrConflict = errors.New("conflict")
)
