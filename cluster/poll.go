package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/shepherd/shepherd/fsm"
)

// Poll applies a worker's reports and leases it up to req.Max tasks in one
// log entry, then, if none was pending, parks until tasks arrive or
// req.Wait runs out.
func (n *Node) Poll(ctx context.Context, workerID string, req PollRequest) (PollResult, error) {
	ls := n.leader()
	if ls == nil {
		return PollResult{}, fmt.Errorf("poll: %w", ErrNotLeader)
	}
	w, _, ok := n.fsm.Worker(workerID)
	if !ok || w.Status == fsm.WorkerStatusDown {
		return PollResult{}, fmt.Errorf("poll: worker %q is not registered: %w", workerID, fsm.ErrNotFound)
	}
	now := time.Now().UTC()
	ls.liveness.touch(workerID, now)
	wt := &waiter{workerID: workerID, labels: w.Labels, queues: req.Queues, max: req.Max, result: make(chan []fsm.Task, 1)}
	var ids []int64
	if w.Status == fsm.WorkerStatusReady {
		ids = ls.dispatcher.reserve(wt)
	}
	res, err := n.applyReportsAndLease(ctx, now, workerID, req, ids)
	ls.dispatcher.release(ids)
	if err != nil || len(res.Tasks) > 0 || req.Wait <= 0 {
		return res, err
	}
	if w.Status != fsm.WorkerStatusReady {
		return res, waitOut(ctx, ls.ctx, req.Wait) // a draining worker gets no new leases
	}
	res.Tasks, err = n.awaitLease(ctx, ls, wt, req.Wait)
	return res, err
}

// applyReportsAndLease applies completions and failures, then a lease of
// ids, all in one Batch entry.
func (n *Node) applyReportsAndLease(ctx context.Context, now time.Time, workerID string, req PollRequest, ids []int64) (PollResult, error) {
	res := PollResult{Tasks: []fsm.Task{}}
	var cmds []fsm.Command
	var reported []int64
	for _, c := range req.Completed {
		cmds = append(cmds, fsm.Complete{Now: now, WorkerID: workerID, TaskID: c.TaskID, Attempt: c.Attempt, Result: c.Result})
		reported = append(reported, c.TaskID)
	}
	for _, f := range req.Failed {
		cmds = append(cmds, n.failCommand(now, workerID, f))
		reported = append(reported, f.TaskID)
	}
	if len(ids) > 0 {
		cmds = append(cmds, fsm.Lease{Now: now, WorkerID: workerID, TaskIDs: ids})
	}
	if len(cmds) == 0 {
		return res, nil
	}
	batch, err := fsm.NewBatch(cmds...)
	if err != nil {
		return res, err
	}
	resp, err := n.Apply(ctx, batch)
	if err != nil {
		return res, err
	}
	for i, id := range reported {
		if rerr := resp.Results[i].Err; rerr != nil {
			res.Rejected = append(res.Rejected, Rejection{TaskID: id, Err: rerr})
		}
	}
	if len(ids) > 0 {
		res.Tasks = append(res.Tasks, resp.Results[len(cmds)-1].Tasks...)
	}
	return res, nil
}

// awaitLease parks a poll until the dispatcher leases it tasks, the wait
// runs out, the client goes away or leadership ends.
func (n *Node) awaitLease(ctx context.Context, ls *leaderState, wt *waiter, wait time.Duration) ([]fsm.Task, error) {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		ls.dispatcher.park(wt)
		select {
		case tasks := <-wt.result:
			if len(tasks) > 0 {
				return n.deliver(ctx, tasks)
			}
			continue // lost a race for those tasks; wait on
		case <-timer.C:
		case <-ctx.Done():
		case <-ls.ctx.Done():
		}
		if !ls.dispatcher.unpark(wt) {
			return n.deliver(ctx, <-wt.result)
		}
		if ls.ctx.Err() != nil {
			return nil, fmt.Errorf("poll: %w", ErrNotLeader)
		}
		return []fsm.Task{}, nil
	}
}

// deliver hands leased tasks to a poll whose client is still there, and
// takes them straight back if it has gone.
func (n *Node) deliver(ctx context.Context, tasks []fsm.Task) ([]fsm.Task, error) {
	if ctx.Err() == nil || len(tasks) == 0 {
		return append([]fsm.Task{}, tasks...), nil
	}
	leases := make([]fsm.TaskAttempt, 0, len(tasks))
	for _, t := range tasks {
		leases = append(leases, fsm.TaskAttempt{TaskID: t.ID, Attempt: t.Attempt})
	}
	rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := n.Apply(rctx, fsm.Requeue{Now: time.Now().UTC(), Leases: leases, Reason: "poll abandoned"})
	if err != nil {
		n.logger.Warn("could not requeue leases of an abandoned poll", "error", err)
	}
	return nil, ctx.Err()
}

func waitOut(ctx, leaderCtx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	case <-leaderCtx.Done():
	}
	return nil
}
