package worker

import (
	"context"

	"github.com/shepherd/shepherd/api/client"
)

// register registers the worker, retrying with backoff until the cluster
// answers or ctx ends. Registering again is harmless, so the heartbeat and
// poll loops both call it when the cluster has forgotten the worker.
func (w *Worker) register(ctx context.Context) error {
	w.regMu.Lock()
	defer w.regMu.Unlock()
	req := client.RegisterRequest{
		ID:       w.cfg.ID,
		Address:  w.cfg.Address,
		Labels:   w.cfg.Labels,
		Capacity: w.cfg.Capacity,
		// The tasks still running here: the leader keeps their leases if
		// they are still valid and requeues the rest.
		Running: w.runningIDs(),
	}
	var bo backoff
	for {
		_, err := w.client.Register(ctx, req)
		if err == nil {
			w.log.Info("registered", "capacity", w.cfg.Capacity, "queues", w.cfg.Queues)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		w.log.Warn("register failed", "error", err)
		if !sleepCtx(ctx, bo.next()) {
			return ctx.Err()
		}
	}
}

// runningIDs lists the tasks this worker runs now (never nil).
func (w *Worker) runningIDs() []int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	ids := make([]int64, 0, len(w.running))
	for id := range w.running {
		ids = append(ids, id)
	}
	return ids
}
