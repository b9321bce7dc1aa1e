package cluster

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/shepherd/shepherd/fsm"
)

// RegisterWorker registers a worker, or re-registers a known one (which
// makes a down or draining worker ready again).
func (n *Node) RegisterWorker(ctx context.Context, reg WorkerRegistration) (fsm.Worker, error) {
	ls := n.leader()
	if ls == nil {
		return fsm.Worker{}, fmt.Errorf("register worker: %w", n.notLeaderErr())
	}
	now := time.Now().UTC()
	_, err := n.applyChecked(ctx, fsm.RegisterWorker{Now: now, ID: reg.ID, Address: reg.Address,
		Labels: reg.Labels, Capacity: reg.Capacity, ReportsRunning: reg.ReportsRunning, Running: reg.Running})
	if err != nil {
		return fsm.Worker{}, err
	}
	ls.liveness.touch(reg.ID, now)
	w, _, _ := n.fsm.Worker(reg.ID)
	return w, nil
}

// Drain stops new leases to a worker; its running tasks finish.
func (n *Node) Drain(ctx context.Context, workerID string) (fsm.Worker, error) {
	if _, err := n.leaderApply(ctx, fsm.DrainWorker{Now: time.Now().UTC(), WorkerID: workerID}); err != nil {
		return fsm.Worker{}, err
	}
	w, _, _ := n.fsm.Worker(workerID)
	return w, nil
}

// Heartbeat records a worker's liveness and statistics in memory (they
// reach the log in periodic batches), requeues leases the worker does not
// know about once they are older than UnknownLeaseGrace (a poll answer
// lost in a crash), and tells the worker which of its tasks to stop.
func (n *Node) Heartbeat(ctx context.Context, workerID string, hb Heartbeat) (HeartbeatAnswer, error) {
	ls := n.leader()
	if ls == nil {
		return HeartbeatAnswer{}, fmt.Errorf("heartbeat: %w", n.notLeaderErr())
	}
	w, _, ok := n.fsm.Worker(workerID)
	if !ok || w.Status == fsm.WorkerStatusDown {
		return HeartbeatAnswer{}, fmt.Errorf("heartbeat: worker %q is not registered: %w", workerID, fsm.ErrNotFound)
	}
	now := time.Now().UTC()
	ls.liveness.record(workerID, now, hb)
	n.requeueUnknownLeases(ctx, workerID, hb.Running, now)
	n.extendLeases(ctx, workerID, hb.Extend, now)
	return HeartbeatAnswer{Cancel: n.tasksToStop(workerID, hb.Running), Interval: n.cfg.HeartbeatInterval}, nil
}

// RemoveWorker forgets a worker that runs nothing: a drained worker
// leaving for good. A worker with leases gets fsm.ErrConflict.
func (n *Node) RemoveWorker(ctx context.Context, workerID string) error {
	ls := n.leader()
	if ls == nil {
		return fmt.Errorf("remove worker: %w", n.notLeaderErr())
	}
	if _, err := n.applyChecked(ctx, fsm.RemoveWorker{Now: time.Now().UTC(), WorkerID: workerID}); err != nil {
		return err
	}
	ls.liveness.forget(workerID)
	return nil
}

// extendLeases renews the leases a heartbeat asks to extend, in one entry.
func (n *Node) extendLeases(ctx context.Context, workerID string, ids []int64, now time.Time) {
	if len(ids) == 0 {
		return
	}
	var leases []fsm.TaskAttempt
	for _, t := range n.fsm.Leases(workerID) {
		if slices.Contains(ids, t.ID) {
			leases = append(leases, fsm.TaskAttempt{TaskID: t.ID, Attempt: t.Attempt})
		}
	}
	if len(leases) == 0 {
		return
	}
	if _, err := n.Apply(ctx, fsm.ExtendLeases{Now: now, WorkerID: workerID, Leases: leases}); err != nil {
		n.logger.Warn("could not extend leases", "worker", workerID, "error", err)
	}
}

func (n *Node) requeueUnknownLeases(ctx context.Context, workerID string, running []int64, now time.Time) {
	var unknown []fsm.TaskAttempt
	for _, t := range n.fsm.Leases(workerID) {
		if !slices.Contains(running, t.ID) && now.Sub(t.LeasedAt) > n.cfg.UnknownLeaseGrace {
			unknown = append(unknown, fsm.TaskAttempt{TaskID: t.ID, Attempt: t.Attempt})
		}
	}
	if len(unknown) == 0 {
		return
	}
	n.logger.Info("requeueing leases unknown to their worker", "worker", workerID, "count", len(unknown))
	if _, err := n.Apply(ctx, fsm.Requeue{Now: now, Leases: unknown, Reason: "lease unknown to worker " + workerID}); err != nil {
		n.logger.Warn("could not requeue unknown leases", "worker", workerID, "error", err)
	}
}

// tasksToStop lists the tasks a worker runs that it should stop: those
// marked for cancellation, and those no longer leased to it.
func (n *Node) tasksToStop(workerID string, running []int64) []int64 {
	stop := n.fsm.CancelRequested(workerID)
	for _, id := range running {
		t, ok := n.fsm.Task(id)
		if (!ok || t.Status != fsm.StatusRunning || t.WorkerID != workerID) && !slices.Contains(stop, id) {
			stop = append(stop, id)
		}
	}
	if stop == nil {
		stop = []int64{}
	}
	return stop
}
