package worker

import (
	"context"
	"encoding/json"
	"errors"
	"math"

	"github.com/shepherd/shepherd/api/client"
)

// HandlerFunc runs one attempt of a task. It must return when ctx ends
// (timeout, cancellation by the cluster, or worker shutdown). The result
// must be valid JSON or nil. An error fails the attempt; the task is retried
// while attempts remain unless the error is wrapped with NoRetry.
type HandlerFunc func(ctx context.Context, t client.Task) (json.RawMessage, error)

// noRetryError marks a failure that retrying cannot cure.
type noRetryError struct{ err error }

func (e noRetryError) Error() string { return e.err.Error() }
func (e noRetryError) Unwrap() error { return e.err }

// NoRetry wraps err so the attempt is reported with retry false: the task
// goes straight to failed. NoRetry(nil) is nil.
func NoRetry(err error) error {
	if err == nil {
		return nil
	}
	return noRetryError{err: err}
}

// IsRetryable reports whether a handler error asks for a retry, that is,
// whether it is not wrapped with NoRetry.
func IsRetryable(err error) bool {
	var nr noRetryError
	return !errors.As(err, &nr)
}

type runKey struct{}

// SetProgress records the progress (a fraction in [0,1]) of the task whose
// handler received ctx; the next heartbeat carries it. It does nothing for a
// context that does not come from a Worker.
func SetProgress(ctx context.Context, fraction float64) {
	r, ok := ctx.Value(runKey{}).(*run)
	if !ok {
		return
	}
	fraction = math.Max(0, math.Min(1, fraction))
	r.progress.Store(math.Float64bits(fraction))
}

// SetProgressMessage records progress with a short message (at most 256
// bytes; longer ones are cut); the next heartbeat carries both.
func SetProgressMessage(ctx context.Context, fraction float64, message string) {
	r, ok := ctx.Value(runKey{}).(*run)
	if !ok {
		return
	}
	SetProgress(ctx, fraction)
	if len(message) > 256 {
		message = message[:256]
	}
	r.message.Store(&message)
}

// ExtendLease renews the lease of the task whose handler received ctx for
// another task timeout from now: the worker moves its own deadline and the
// next heartbeat asks the leader to move the lease. A long task calls it
// well within each timeout. It reports false when the deadline has already
// passed (or ctx is not a task's).
func ExtendLease(ctx context.Context) bool {
	r, ok := ctx.Value(runKey{}).(*run)
	if !ok || r.deadline == nil {
		return false
	}
	timeout := r.task.TimeoutDuration()
	if timeout <= 0 {
		timeout = DefaultTaskTimeout
	}
	if !r.deadline.Reset(timeout) {
		return false
	}
	r.extend.Store(true)
	return true
}
