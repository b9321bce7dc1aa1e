package cluster

import (
	"context"
	"sort"

	"github.com/hashicorp/raft"
)

// Leader returns the leader's id and HTTP address, if both are known.
func (n *Node) Leader() (id, httpAddr string, ok bool) {
	_, lid := n.raft.LeaderWithID()
	if lid == "" {
		return "", "", false
	}
	if lid == raft.ServerID(n.cfg.ID) {
		return n.cfg.ID, n.cfg.HTTPAddr, true
	}
	srv, known := n.fsm.Servers()[string(lid)]
	if !known || srv.HTTPAddr == "" {
		return string(lid), "", false
	}
	return string(lid), srv.HTTPAddr, true
}

// IsLeader reports whether this node leads now.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// VerifyLeader confirms with a quorum that this node still leads.
func (n *Node) VerifyLeader(ctx context.Context) error {
	return translate("verify leader", n.raft.VerifyLeader().Error())
}

// Ready reports whether the node knows a leader and has applied the log
// up to the last commit index it heard of.
func (n *Node) Ready() bool {
	addr, _ := n.raft.LeaderWithID()
	return addr != "" && n.fsm.AppliedIndex() >= n.raft.CommitIndex()
}

// Self describes this node for start-up discovery.
func (n *Node) Self() NodeInfo {
	info := NodeInfo{ID: n.cfg.ID, RaftAddr: n.RaftAddr(), HTTPAddr: n.cfg.HTTPAddr, HasState: n.hasState.Load(),
		NonVoter: n.cfg.NonVoter}
	if _, http, ok := n.Leader(); ok {
		info.LeaderHTTP = http
	}
	return info
}

// Status describes the cluster as this node sees it.
func (n *Node) Status() ClusterStatus {
	st := ClusterStatus{
		Term:         n.raft.CurrentTerm(),
		CommitIndex:  n.raft.CommitIndex(),
		AppliedIndex: n.fsm.AppliedIndex(),
	}
	_, leaderID := n.raft.LeaderWithID()
	known := n.fsm.Servers()
	fut := n.raft.GetConfiguration()
	if fut.Error() != nil {
		return st
	}
	for _, s := range fut.Configuration().Servers {
		ss := ServerStatus{ID: string(s.ID), RaftAddr: string(s.Address), HTTPAddr: known[string(s.ID)].HTTPAddr,
			Suffrage: suffrage(s.Suffrage), State: n.peerState(s.ID, leaderID)}
		if s.ID == raft.ServerID(n.cfg.ID) && ss.HTTPAddr == "" {
			ss.HTTPAddr = n.cfg.HTTPAddr
		}
		if s.ID == leaderID {
			leader := ss
			st.Leader = &leader
		}
		st.Servers = append(st.Servers, ss)
	}
	sort.Slice(st.Servers, func(i, j int) bool { return st.Servers[i].ID < st.Servers[j].ID })
	return st
}

func (n *Node) peerState(id, leaderID raft.ServerID) string {
	switch {
	case id == leaderID:
		return "leader"
	case id == raft.ServerID(n.cfg.ID):
		switch n.raft.State() {
		case raft.Follower:
			return "follower"
		case raft.Candidate:
			return "candidate"
		}
		return "unknown"
	case n.IsLeader() && n.health != nil && n.health.failing(id):
		return "unknown" // the leader's heartbeats to it fail: down or cut off
	case leaderID != "":
		return "follower"
	}
	return "unknown"
}

func suffrage(s raft.ServerSuffrage) string {
	if s == raft.Voter {
		return "voter"
	}
	return "nonvoter"
}

// RaftStats returns Raft's own statistics (state, term, last contact...).
func (n *Node) RaftStats() map[string]string { return n.raft.Stats() }
