package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/shepherd/shepherd/api/client"
)

// handlerGrace is how long a handler may keep running after its context
// ended before the worker stops waiting for it, reports the attempt failed
// and frees the slot. The goroutine of such a handler is abandoned.
const handlerGrace = time.Second

// MaxResultSize is the largest result the cluster accepts; a larger one
// fails the attempt (not retried).
const MaxResultSize = 64 << 10

// execute runs one attempt under the task's timeout and queues its result.
func (w *Worker) execute(ctx context.Context, r *run) {
	defer w.tasks.Done()
	timeout := r.task.TimeoutDuration()
	if timeout <= 0 {
		timeout = DefaultTaskTimeout
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r.deadline = time.AfterFunc(timeout, func() { cancel(errTimeout) })
	defer r.deadline.Stop()
	ctx = context.WithValue(ctx, runKey{}, r)

	log := w.log.With("task-id", r.task.ID, "task-name", r.task.Name, "attempt", r.task.Attempt)
	log.Debug("task started", "timeout", timeout)
	start := time.Now()
	result, err := w.invoke(ctx, r.task)
	err = outcome(ctx, err, timeout)

	var res results
	if err == nil {
		switch {
		case len(result) > 0 && !json.Valid(result):
			err = NoRetry(errors.New("handler returned a result that is not valid JSON"))
		case len(result) > MaxResultSize:
			err = NoRetry(fmt.Errorf("result of %d bytes exceeds the %d-byte limit", len(result), MaxResultSize))
		default:
			res.completed = []client.Completion{{ID: r.task.ID, Attempt: r.task.Attempt, Result: result}}
		}
	}
	if err != nil {
		retry := IsRetryable(err)
		res.failed = []client.Failure{{ID: r.task.ID, Attempt: r.task.Attempt, Error: err.Error(), Retry: retry}}
		log.Info("task failed", "error", err, "retry", retry, "duration", time.Since(start))
	} else {
		log.Debug("task completed", "duration", time.Since(start))
	}
	w.finish(r, res)
}

// outcome names why an attempt failed when its context ended first.
func outcome(ctx context.Context, err error, timeout time.Duration) error {
	if err == nil {
		return nil // the work got done; the leader's fencing decides the rest
	}
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errTimeout):
		return fmt.Errorf("timeout after %s", timeout)
	case errors.Is(cause, errCanceled):
		return NoRetry(errCanceled)
	case errors.Is(cause, errShutdown), errors.Is(cause, errReplaced):
		return fmt.Errorf("%w: %w", cause, err)
	}
	return err
}

// finish frees the slot and queues the result for the next poll.
func (w *Worker) finish(r *run, res results) {
	w.mu.Lock()
	if w.running[r.task.ID] == r {
		delete(w.running, r.task.ID)
	}
	w.results.add(res)
	w.mu.Unlock()
	notify(w.pollWake)
	notify(w.reportWake)
}

// invoke runs the task's handler, turning a panic into an error. When ctx
// ends, it waits at most handlerGrace for the handler to return.
func (w *Worker) invoke(ctx context.Context, t client.Task) (json.RawMessage, error) {
	h := w.handler(t.Name)
	if h == nil {
		return nil, NoRetry(fmt.Errorf("no handler for task name %q", t.Name))
	}
	type answer struct {
		result json.RawMessage
		err    error
	}
	done := make(chan answer, 1)
	go func() {
		var a answer
		defer func() {
			if p := recover(); p != nil {
				w.log.Error("handler panicked", "task-id", t.ID, "panic", p, "stack", string(debug.Stack()))
				a = answer{err: fmt.Errorf("handler panicked: %v", p)}
			}
			done <- a
		}()
		a.result, a.err = h(ctx, t)
	}()
	select {
	case a := <-done:
		return a.result, a.err
	case <-ctx.Done():
	}
	grace := time.NewTimer(handlerGrace)
	defer grace.Stop()
	select {
	case a := <-done:
		return a.result, a.err
	case <-grace.C:
		w.log.Warn("handler ignored cancellation, abandoning it", "task-id", t.ID)
		return nil, context.Cause(ctx)
	}
}
