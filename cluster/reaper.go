package cluster

import (
	"context"
	"time"

	"github.com/shepherd/shepherd/fsm"
)

// reapInterval is how often the leader looks for expired leases and due
// scheduled tasks.
const reapInterval = 100 * time.Millisecond

// runReaper requeues leases that expired without a report. Nothing
// expires during LeaderGrace after a leadership gain: the deadline was
// stamped by the old leader's clock.
func (n *Node) runReaper(ctx context.Context, ls *leaderState) {
	every(ctx, reapInterval, func(now time.Time) {
		if now.Sub(ls.since) < n.cfg.LeaderGrace {
			return
		}
		expired := n.fsm.ExpiredLeases(now)
		if len(expired) == 0 {
			return
		}
		n.logger.Info("requeueing expired leases", "count", len(expired))
		if _, err := n.Apply(ctx, fsm.Requeue{Now: now, Leases: expired, Reason: "lease expired"}); err != nil {
			n.logger.Warn("could not requeue expired leases", "error", err)
		}
	})
}

// runPromoter makes scheduled tasks pending once their run time arrives.
func (n *Node) runPromoter(ctx context.Context, ls *leaderState) {
	every(ctx, reapInterval, func(now time.Time) {
		next, ok := n.fsm.NextRunAt()
		if !ok || next.After(now) {
			return
		}
		if _, err := n.Apply(ctx, fsm.Promote{Now: now}); err != nil {
			n.logger.Warn("could not promote scheduled tasks", "error", err)
		}
	})
}

// observe runs on the apply goroutine for every entry: it wakes the
// dispatcher when tasks became pending, or a task stopped running (room
// under a queue's concurrency limit), a queue's settings or the workers
// changed. It never blocks.
func (n *Node) observe(events []fsm.Event) {
	for _, ev := range events {
		wake := ev.Queue != nil || ev.Worker != nil && ev.Type != "worker.stats"
		if ev.Task != nil {
			wake = ev.Task.Status == fsm.StatusPending || ev.Task.Status.Terminal()
		}
		if wake {
			select {
			case n.wakeup <- struct{}{}:
			default:
			}
			return
		}
	}
}
