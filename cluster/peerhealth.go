package cluster

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// peerHealth is the leader's view of which peers answer its heartbeats,
// learnt from Raft's heartbeat observations. A peer is failing from the
// last contact before its first failed heartbeat until one succeeds again.
// Only a leader heartbeats, so the view is cleared on every leader change.
type peerHealth struct {
	mu    sync.Mutex
	since map[raft.ServerID]time.Time // peer -> last successful contact
}

func newPeerHealth() *peerHealth {
	return &peerHealth{since: make(map[raft.ServerID]time.Time)}
}

func (h *peerHealth) observe(o raft.Observation) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch d := o.Data.(type) {
	case raft.FailedHeartbeatObservation:
		if _, ok := h.since[d.PeerID]; !ok {
			h.since[d.PeerID] = d.LastContact
		}
	case raft.ResumedHeartbeatObservation:
		delete(h.since, d.PeerID)
	case raft.LeaderObservation:
		clear(h.since)
	}
}

func (h *peerHealth) failing(id raft.ServerID) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.since[id]
	return ok
}

func (h *peerHealth) forget(id raft.ServerID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.since, id)
}

// unreachableFor lists the peers whose last contact is older than d.
func (h *peerHealth) unreachableFor(now time.Time, d time.Duration) []raft.ServerID {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []raft.ServerID
	for id, last := range h.since {
		if now.Sub(last) > d {
			out = append(out, id)
		}
	}
	return out
}

// watchPeers feeds Raft's heartbeat observations into n.health and, when
// DeadServerCleanup is set, removes on the leader every server unreachable
// for longer than that, as long as quorum allows (see RemoveServer).
func (n *Node) watchPeers(ctx context.Context) {
	ch := make(chan raft.Observation, 64)
	obs := raft.NewObserver(ch, false, func(o *raft.Observation) bool {
		switch o.Data.(type) {
		case raft.FailedHeartbeatObservation, raft.ResumedHeartbeatObservation, raft.LeaderObservation:
			return true
		}
		return false
	})
	n.raft.RegisterObserver(obs)
	defer n.raft.DeregisterObserver(obs)

	var tick <-chan time.Time
	if d := n.cfg.DeadServerCleanup; d > 0 {
		t := time.NewTicker(min(d/4, 5*time.Second))
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case o := <-ch:
			n.health.observe(o)
		case now := <-tick:
			n.cleanupDeadServers(ctx, now)
		}
	}
}

func (n *Node) cleanupDeadServers(ctx context.Context, now time.Time) {
	if n.leader() == nil {
		return
	}
	for _, id := range n.health.unreachableFor(now, n.cfg.DeadServerCleanup) {
		if id == raft.ServerID(n.cfg.ID) {
			continue
		}
		n.logger.Warn("removing dead server", "id", id, "unreachable-for", n.cfg.DeadServerCleanup)
		if err := n.RemoveServer(ctx, string(id), false); err != nil {
			n.logger.Warn("could not remove dead server", "id", id, "error", err)
		}
	}
}
