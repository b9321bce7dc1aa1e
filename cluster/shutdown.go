package cluster

import (
	"context"
	"time"

	"github.com/hashicorp/raft"
)

// Shutdown leaves gracefully: HandOff, then Close.
func (n *Node) Shutdown(ctx context.Context) error {
	n.HandOff(ctx)
	return n.Close()
}

// HandOff prepares a graceful stop: a leader hands leadership to the most
// up-to-date voter, so the cluster elects at once instead of after an
// election timeout. The node keeps serving as a follower (the HTTP edge
// now redirects writes) until Close. If the transfer fails or ctx ends
// first, the others elect as after a crash. A follower does nothing.
func (n *Node) HandOff(ctx context.Context) {
	if !n.IsLeader() || n.otherVoters() == 0 {
		return
	}
	start := time.Now()
	id, err := n.TransferLeadership(ctx, "")
	if err != nil {
		n.logger.Warn("leadership transfer before shutdown failed", "error", err)
		return
	}
	n.logger.Info("transferred leadership before shutdown", "to", id, "took", time.Since(start))
}

// otherVoters counts the voters in the configuration besides this node.
func (n *Node) otherVoters() int {
	fut := n.raft.GetConfiguration()
	if fut.Error() != nil {
		return 0
	}
	count := 0
	for _, s := range fut.Configuration().Servers {
		if s.Suffrage == raft.Voter && s.ID != raft.ServerID(n.cfg.ID) {
			count++
		}
	}
	return count
}
