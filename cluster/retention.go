package cluster

import (
	"context"
	"time"

	"github.com/shepherd/shepherd/fsm"
)

// purgeBatch bounds the tasks one Purge entry deletes.
const purgeBatch = 1000

// runRetention deletes tasks that finished more than Retention ago, with
// their idempotency keys, so the replicated state stays bounded. The
// leader proposes Purge commands; the FSM deletes only tasks that are
// still finished before the cut-off the command carries.
func (n *Node) runRetention(ctx context.Context, ls *leaderState) {
	every(ctx, n.cfg.Semantics.RetentionInterval, func(now time.Time) {
		n.purgeFinished(ctx, now)
	})
}

func (n *Node) purgeFinished(ctx context.Context, now time.Time) {
	before := now.Add(-n.cfg.Semantics.Retention)
	for range 100 { // at most 100k tasks a pass; the rest next time
		ids := n.fsm.FinishedBefore(before, purgeBatch)
		if len(ids) == 0 {
			return
		}
		resp, err := n.applyChecked(ctx, fsm.Purge{Now: now, Before: before, TaskIDs: ids})
		if err != nil {
			n.logger.Warn("could not purge finished tasks", "error", err)
			return
		}
		n.logger.Debug("purged finished tasks", "count", len(resp.Tasks))
		if len(ids) < purgeBatch {
			return
		}
	}
}
