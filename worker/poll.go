package worker

import (
	"context"

	"github.com/shepherd/shepherd/api/client"
)

// pollLoop long-polls for leases while ctx lasts, asking for as many tasks
// as there are free slots and carrying the results gathered since the last
// poll. With no free slot it waits for a task to finish; results waiting
// meanwhile are handed to the reporter. taskCtx parents every task.
func (w *Worker) pollLoop(ctx, taskCtx context.Context) {
	var bo backoff
	for ctx.Err() == nil {
		req, ok := w.nextPoll()
		if !ok {
			select {
			case <-w.pollWake:
			case <-ctx.Done():
			}
			continue
		}
		pctx := w.watchPoll(ctx)
		resp, err := w.client.Poll(pctx, w.cfg.ID, req)
		abandoned := pctx.Err() != nil && ctx.Err() == nil
		w.unwatchPoll()
		if err != nil {
			w.pollFailed(req)
			if ctx.Err() != nil {
				return
			}
			if abandoned {
				w.log.Info("abandoned a poll parked on an unreachable master")
				continue
			}
			if client.IsNotFound(err) {
				w.log.Warn("cluster forgot this worker, registering again")
				_ = w.register(ctx)
				continue
			}
			w.log.Warn("poll failed", "error", err)
			sleepCtx(ctx, bo.next())
			continue
		}
		bo.reset()
		w.start(taskCtx, resp.Tasks)
		for _, rej := range resp.Rejected {
			w.logRefused(rej.ID, 0, rej.Code, nil)
		}
	}
}

// nextPoll builds the next poll, taking the pending results, or reports
// false when no slot is free.
func (w *Worker) nextPoll() (client.PollRequest, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	free := w.cfg.Capacity - len(w.running)
	if free <= 0 {
		if !w.results.empty() {
			w.direct = true
			notify(w.reportWake)
		}
		return client.PollRequest{}, false
	}
	res := w.results.take()
	w.pollInFlight = true
	return client.PollRequest{
		Max:       free,
		Wait:      w.cfg.PollWait.String(),
		Queues:    w.cfg.Queues,
		Completed: res.completed,
		Failed:    res.failed,
	}, true
}

// pollFailed puts back the results the failed poll carried: the leader may
// or may not have applied them, and resending is safe (fenced by attempt).
func (w *Worker) pollFailed(req client.PollRequest) {
	w.mu.Lock()
	w.pollInFlight = false
	w.mu.Unlock()
	w.requeue(results{completed: req.Completed, failed: req.Failed})
}

// start records the leased tasks as running and starts one goroutine each.
func (w *Worker) start(taskCtx context.Context, tasks []client.Task) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pollInFlight = false
	for _, t := range tasks {
		if len(w.running) >= w.cfg.Capacity {
			w.log.Warn("leased more tasks than free slots", "task-id", t.ID)
		}
		if old, ok := w.running[t.ID]; ok {
			old.cancel(errReplaced)
		}
		ctx, cancel := context.WithCancelCause(taskCtx)
		r := &run{task: t, cancel: cancel}
		w.running[t.ID] = r
		w.tasks.Add(1)
		go w.execute(ctx, r)
	}
}

// watchPoll returns the context of the next poll and remembers which master
// it goes to, so masterUnreachable can abandon it.
func (w *Worker) watchPoll(ctx context.Context) context.Context {
	pctx, cancel := context.WithCancel(ctx)
	w.mu.Lock()
	w.pollBase, w.cancelPoll = w.client.Target(), cancel
	w.mu.Unlock()
	return pctx
}

func (w *Worker) unwatchPoll() {
	w.mu.Lock()
	cancel := w.cancelPoll
	w.pollBase, w.cancelPoll = "", nil
	w.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// masterUnreachable runs when any request (a heartbeat, typically) gave up
// on a master. A long-poll parked there would otherwise wait out its whole
// wait on a master that is paused or cut off; it is ended so the next poll
// goes to the master the client moved on to.
func (w *Worker) masterUnreachable(base string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cancelPoll != nil && w.pollBase == base {
		w.cancelPoll()
		w.cancelPoll = nil
	}
}
