package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/shepherd/shepherd/fsm"
)

// Join adds a master as a voter and records its HTTP address. Joining
// again with the same addresses changes nothing; a known id with a new
// Raft address replaces its old entry.
func (n *Node) Join(ctx context.Context, id, raftAddr, httpAddr string) error {
	if !n.IsLeader() {
		return fmt.Errorf("join: %w", n.notLeaderErr())
	}
	if id == "" || raftAddr == "" {
		return fmt.Errorf("join: id and raft address are required: %w", fsm.ErrInvalid)
	}
	fut := n.raft.GetConfiguration()
	if err := fut.Error(); err != nil {
		return translate("join", err)
	}
	if err := n.replaceMember(fut.Configuration(), id, raftAddr); err != nil {
		return err
	}
	srv := fsm.Server{ID: id, RaftAddr: raftAddr, HTTPAddr: httpAddr}
	if n.fsm.Servers()[id] == srv {
		return nil
	}
	_, err := n.applyChecked(ctx, fsm.RegisterServer{Server: srv})
	return err
}

func (n *Node) replaceMember(conf raft.Configuration, id, raftAddr string) error {
	for _, s := range conf.Servers {
		sameID, sameAddr := s.ID == raft.ServerID(id), s.Address == raft.ServerAddress(raftAddr)
		if sameID && sameAddr {
			return nil
		}
		if sameID || sameAddr {
			n.logger.Info("removing stale server entry", "id", s.ID, "address", s.Address)
			if err := n.raft.RemoveServer(s.ID, 0, 10*time.Second).Error(); err != nil {
				return translate("join: remove stale entry", err)
			}
		}
	}
	n.logger.Info("adding voter", "id", id, "address", raftAddr)
	return translate("join: add voter", n.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(raftAddr), 0, 10*time.Second).Error())
}
