package monitor

import (
	"strconv"
	"strings"
	"time"

	"github.com/shepherd/shepherd/cluster"
)

// leaderEvent is node.leader_changed.
type leaderEvent struct {
	Type     string      `json:"type"`
	Time     time.Time   `json:"time"`
	Node     string      `json:"node"`
	Leader   *leaderInfo `json:"leader"`
	Term     uint64      `json:"term"`
	Previous string      `json:"previous"`
}

type leaderInfo struct {
	ID       string `json:"id"`
	HTTPAddr string `json:"http_addr"`
}

// metricsEvent is node.metrics.
type metricsEvent struct {
	Type        string                    `json:"type"`
	Time        time.Time                 `json:"time"`
	Node        string                    `json:"node"`
	Raft        raftInfo                  `json:"raft"`
	Queues      map[string]map[string]int `json:"queues"`
	Rates       rates                     `json:"rates"`
	Subscribers int                       `json:"subscribers"`
}

type raftInfo struct {
	State        string `json:"state"`
	Leader       string `json:"leader"`
	Term         uint64 `json:"term"`
	CommitIndex  uint64 `json:"commit_index"`
	AppliedIndex uint64 `json:"applied_index"`
	// Lag is commit_index - applied_index: entries this replica knows are
	// committed (as of the leader's last contact) but has not applied.
	Lag uint64 `json:"lag"`
	// LastContact is the time since the leader last reached this follower
	// ("0s" on the leader, "" when unknown).
	LastContact string `json:"last_contact,omitempty"`
}

type rates struct {
	Submitted float64 `json:"submitted"`
	Completed float64 `json:"completed"`
}

// watchStatus polls the cluster status, keeps the latest for snapshots,
// metrics and origin checks, and announces leader changes.
func (h *Hub) watchStatus() {
	if h.cfg.Cluster == nil {
		return
	}
	tick := time.NewTicker(h.cfg.StatusInterval)
	defer tick.Stop()
	var lastKey, lastLeader string
	var statsAt time.Time
	for {
		ns := &nodeStatus{at: time.Now(), status: h.cfg.Cluster.Status()}
		if rs, ok := h.cfg.Cluster.(RaftStatser); ok {
			if prev := h.status.Load(); prev != nil && time.Since(statsAt) < time.Second {
				ns.stats = prev.stats
			} else {
				ns.stats, statsAt = rs.RaftStats(), time.Now()
			}
		}
		h.status.Store(ns)
		if key := leaderKey(ns.status); key != lastKey {
			h.announceLeader(ns.status, lastLeader)
			lastKey = key
			lastLeader = ""
			if ns.status.Leader != nil {
				lastLeader = ns.status.Leader.ID
			}
		}
		select {
		case <-h.closing:
			return
		case <-tick.C:
		}
	}
}

// leaderKey identifies a reign: the leader and the term it won.
func leaderKey(st cluster.ClusterStatus) string {
	if st.Leader == nil {
		return ""
	}
	return st.Leader.ID + "@" + strconv.FormatUint(st.Term, 10)
}

func (h *Hub) announceLeader(st cluster.ClusterStatus, previous string) {
	ev := leaderEvent{Type: "node.leader_changed", Time: time.Now().UTC(), Node: h.node, Term: st.Term, Previous: previous}
	if st.Leader != nil {
		ev.Leader = &leaderInfo{ID: st.Leader.ID, HTTPAddr: st.Leader.HTTPAddr}
		if m := h.cfg.Metrics; m != nil {
			m.leaderChanged()
		}
	}
	h.logger.Debug("leader changed", "leader", ev.Leader, "term", st.Term)
	h.broadcastLocal(ev.Type, mustJSON(ev))
}

// sendMetrics sends node.metrics every MetricsInterval, with rates from
// the task events observed since the last one.
func (h *Hub) sendMetrics() {
	tick := time.NewTicker(h.cfg.MetricsInterval)
	defer tick.Stop()
	last, sub0, comp0 := time.Now(), h.submitted.Load(), h.completed.Load()
	for {
		select {
		case <-h.closing:
			return
		case now := <-tick.C:
			sub, comp := h.submitted.Load(), h.completed.Load()
			secs := now.Sub(last).Seconds()
			r := rates{Submitted: float64(sub-sub0) / secs, Completed: float64(comp-comp0) / secs}
			last, sub0, comp0 = now, sub, comp
			if h.Subscribers() == 0 {
				continue
			}
			h.broadcastLocal("node.metrics", mustJSON(h.metricsEvent(r)))
		}
	}
}

func (h *Hub) metricsEvent(r rates) metricsEvent {
	ev := metricsEvent{Type: "node.metrics", Time: time.Now().UTC(), Node: h.node, Rates: r,
		Queues: toCounts(h.state.Counts()), Subscribers: h.Subscribers()}
	ev.Raft.AppliedIndex = h.state.AppliedIndex()
	if ns := h.status.Load(); ns != nil {
		ev.Raft.State = raftState(h.node, ns)
		ev.Raft.Term, ev.Raft.CommitIndex = ns.status.Term, ns.status.CommitIndex
		if ns.status.Leader != nil {
			ev.Raft.Leader = ns.status.Leader.ID
		}
		if lc, ok := ns.stats["last_contact"]; ok {
			ev.Raft.LastContact = lc
		}
	}
	if ev.Raft.CommitIndex > ev.Raft.AppliedIndex {
		ev.Raft.Lag = ev.Raft.CommitIndex - ev.Raft.AppliedIndex
	}
	return ev
}

// raftState is this node's Raft role: from Raft's own stats when the
// cluster exposes them, else from the status' server list.
func raftState(self string, ns *nodeStatus) string {
	if s, ok := ns.stats["state"]; ok {
		return strings.ToLower(s)
	}
	for _, s := range ns.status.Servers {
		if s.ID == self {
			return s.State
		}
	}
	return "unknown"
}
