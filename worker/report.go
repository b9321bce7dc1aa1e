package worker

import (
	"context"
	"errors"
	"time"

	"github.com/shepherd/shepherd/api/client"
)

// directDelay is how long a result that appeared during a poll waits for
// that poll to return (and the next one to carry it) before it is sent on
// its own. Under load polls return within milliseconds, so most results
// still ride on a poll; when idle, the result is late by only this much.
const directDelay = 5 * time.Millisecond

// results are reports waiting to reach the leader.
type results struct {
	completed []client.Completion
	failed    []client.Failure
}

func (r *results) empty() bool { return len(r.completed) == 0 && len(r.failed) == 0 }

func (r *results) len() int { return len(r.completed) + len(r.failed) }

// take empties r and returns what it held.
func (r *results) take() results {
	out := *r
	*r = results{}
	return out
}

func (r *results) add(o results) {
	r.completed = append(r.completed, o.completed...)
	r.failed = append(r.failed, o.failed...)
}

// requeue puts back results that did not reach the leader and asks the
// reporter to send them on their own. Resending is safe: results are fenced
// by attempt.
func (w *Worker) requeue(r results) {
	if r.empty() {
		return
	}
	w.mu.Lock()
	w.results.add(r)
	w.direct = true
	w.mu.Unlock()
	notify(w.reportWake)
}

// reportLoop sends results that no poll is about to carry: those that
// appeared while a poll was out, those of a failed poll, those waiting while
// every slot is busy, and all of them once polling has stopped.
func (w *Worker) reportLoop(ctx context.Context) {
	var bo backoff
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.reportWake:
		}
		w.mu.Lock()
		onlyInFlight := !w.results.empty() && w.pollInFlight && !w.direct && !w.stopping
		w.mu.Unlock()
		if onlyInFlight && !sleepCtx(ctx, directDelay) {
			return
		}
		for {
			batch, ok := w.takeDirect()
			if !ok {
				break
			}
			if w.send(ctx, batch) {
				bo.reset()
				continue
			}
			if !sleepCtx(ctx, bo.next()) {
				return
			}
		}
	}
}

// takeDirect takes the pending results when no poll will carry them soon.
func (w *Worker) takeDirect() (results, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.results.empty() {
		return results{}, false
	}
	free := w.cfg.Capacity - len(w.running)
	if !w.pollInFlight && !w.direct && !w.stopping && free > 0 {
		return results{}, false // the poll loop takes them on its next poll
	}
	w.direct = false
	return w.results.take(), true
}

// send reports each result with its own request. Results refused for good
// (stale lease, unknown task) are dropped; the rest are requeued on a
// transport or server error. It reports whether nothing was requeued.
func (w *Worker) send(ctx context.Context, batch results) bool {
	var retry results
	for _, c := range batch.completed {
		err := w.client.Complete(ctx, c.ID, client.CompleteRequest{WorkerID: w.cfg.ID, Attempt: c.Attempt, Result: c.Result})
		if w.keep(err, c.ID, c.Attempt) {
			retry.completed = append(retry.completed, c)
		}
	}
	for _, f := range batch.failed {
		err := w.client.Fail(ctx, f.ID, client.FailRequest{WorkerID: w.cfg.ID, Attempt: f.Attempt, Error: f.Error, Retry: f.Retry})
		if w.keep(err, f.ID, f.Attempt) {
			retry.failed = append(retry.failed, f)
		}
	}
	w.requeue(retry)
	return retry.empty()
}

// keep reports whether a result whose send ended with err must be sent again.
func (w *Worker) keep(err error, id int64, attempt int) bool {
	if err == nil {
		return false
	}
	var e *client.Error
	if errors.As(err, &e) && e.Status >= 400 && e.Status < 500 {
		w.logRefused(id, attempt, e.Code, err)
		return false
	}
	if !errors.Is(err, context.Canceled) {
		w.log.Warn("result not delivered, will resend", "task-id", id, "attempt", attempt, "error", err)
	}
	return true
}

func (w *Worker) logRefused(id int64, attempt int, code string, err error) {
	if code == "stale_lease" {
		w.log.Info("result dropped, lease is stale", "task-id", id, "attempt", attempt)
		return
	}
	w.log.Warn("result refused", "task-id", id, "attempt", attempt, "code", code, "error", err)
}

// flush sends every pending result once, as the worker stops. It reports
// whether all of them reached the leader.
func (w *Worker) flush(ctx context.Context) bool {
	w.mu.Lock()
	batch := w.results.take()
	w.mu.Unlock()
	if batch.empty() {
		return true
	}
	if !w.send(ctx, batch) {
		w.mu.Lock()
		lost := w.results.take()
		w.mu.Unlock()
		w.log.Warn("results not delivered before shutdown; their leases will expire", "count", lost.len())
		return false
	}
	return true
}

// leave removes the worker from the cluster once it runs nothing (drain,
// then leave). Best effort: a worker that cannot leave is marked down
// after the heartbeat TTL.
func (w *Worker) leave(ctx context.Context) {
	if !w.cfg.LeaveOnShutdown {
		return
	}
	if err := w.client.Leave(ctx, w.cfg.ID); err != nil {
		w.log.Debug("could not leave the cluster", "error", err)
		return
	}
	w.log.Info("left the cluster")
}
