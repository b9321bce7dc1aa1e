package cluster

import (
	"context"
	"time"

	"github.com/shepherd/shepherd/fsm"
)

// SetQueue changes a queue's settings: pause or resume it, set its
// concurrency limit (0 removes it). Nil fields keep their value.
func (n *Node) SetQueue(ctx context.Context, queue string, paused *bool, maxRunning *int) (fsm.QueueSettings, error) {
	if _, err := n.leaderApply(ctx, fsm.SetQueue{Now: time.Now().UTC(), Queue: queue, Paused: paused, MaxRunning: maxRunning}); err != nil {
		return fsm.QueueSettings{}, err
	}
	return n.fsm.Queue(queue), nil
}
