package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/shepherd/shepherd/fsm"
)

// membershipTimeout bounds how long a configuration change may wait to be
// enqueued by Raft.
const membershipTimeout = 10 * time.Second

// Errors of membership changes.
var (
	// ErrQuorumAtRisk: removing the server would leave fewer live voters
	// than a quorum of the remaining configuration. Force overrides it.
	ErrQuorumAtRisk = errors.New("removal would lose quorum of the remaining live voters")
	// ErrUnknownServer: no server with that id is in the configuration.
	ErrUnknownServer = errors.New("unknown server")
)

// Join adds a master as a voter and records its HTTP address. Joining
// again with the same addresses changes nothing; a known id with a new
// Raft address replaces its old entry (pod IPs change on Kubernetes).
func (n *Node) Join(ctx context.Context, id, raftAddr, httpAddr string) error {
	return n.join(ctx, id, raftAddr, httpAddr, raft.Voter)
}

// JoinNonvoter adds a master as a non-voting read replica: it receives the
// log and serves reads, but never votes or leads. Otherwise like Join.
func (n *Node) JoinNonvoter(ctx context.Context, id, raftAddr, httpAddr string) error {
	return n.join(ctx, id, raftAddr, httpAddr, raft.Nonvoter)
}

func (n *Node) join(ctx context.Context, id, raftAddr, httpAddr string, suffrage raft.ServerSuffrage) error {
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
	if err := n.replaceMember(fut.Configuration(), id, raftAddr, suffrage); err != nil {
		return err
	}
	srv := fsm.Server{ID: id, RaftAddr: raftAddr, HTTPAddr: httpAddr}
	if n.fsm.Servers()[id] == srv {
		return nil
	}
	_, err := n.applyChecked(ctx, fsm.RegisterServer{Server: srv})
	return err
}

// replaceMember makes (id, raftAddr) a member. An entry with the same id
// and address stays as it is (whatever its suffrage: promotion and
// demotion are explicit operations); an entry that shares only the id or
// only the address is stale and removed first.
func (n *Node) replaceMember(conf raft.Configuration, id, raftAddr string, suffrage raft.ServerSuffrage) error {
	for _, s := range conf.Servers {
		sameID, sameAddr := s.ID == raft.ServerID(id), s.Address == raft.ServerAddress(raftAddr)
		if sameID && sameAddr {
			return nil
		}
		if sameID || sameAddr {
			n.logger.Info("removing stale server entry", "id", s.ID, "address", s.Address)
			if err := n.raft.RemoveServer(s.ID, 0, membershipTimeout).Error(); err != nil {
				return translate("join: remove stale entry", err)
			}
		}
	}
	if suffrage == raft.Nonvoter {
		n.logger.Info("adding nonvoter", "id", id, "address", raftAddr)
		return translate("join: add nonvoter", n.raft.AddNonvoter(raft.ServerID(id), raft.ServerAddress(raftAddr), 0, membershipTimeout).Error())
	}
	n.logger.Info("adding voter", "id", id, "address", raftAddr)
	return translate("join: add voter", n.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(raftAddr), 0, membershipTimeout).Error())
}

// RemoveServer removes a master from the Raft configuration and forgets
// its addresses. Unless force is set it refuses (ErrQuorumAtRisk) when the
// remaining live voters would not be a quorum of the remaining voters: a
// removal must not turn a degraded cluster into a stuck one. Removing an
// unknown id is ErrUnknownServer wrapped in fsm.ErrNotFound.
func (n *Node) RemoveServer(ctx context.Context, id string, force bool) error {
	if !n.IsLeader() {
		return fmt.Errorf("remove server: %w", n.notLeaderErr())
	}
	fut := n.raft.GetConfiguration()
	if err := fut.Error(); err != nil {
		return translate("remove server", err)
	}
	conf := fut.Configuration()
	if !hasServer(conf, id) {
		if _, known := n.fsm.Servers()[id]; known {
			return n.forgetServer(ctx, id) // half-done earlier removal
		}
		return kind(fmt.Errorf("remove server %q: %w", id, ErrUnknownServer), fsm.ErrNotFound)
	}
	if !force {
		if err := n.removalSafe(conf, id); err != nil {
			return kind(fmt.Errorf("remove server %q: %w", id, err), fsm.ErrConflict)
		}
	}
	n.logger.Info("removing server", "id", id, "force", force)
	if err := n.raft.RemoveServer(raft.ServerID(id), 0, membershipTimeout).Error(); err != nil {
		return translate("remove server", err)
	}
	n.health.forget(raft.ServerID(id))
	if id == n.cfg.ID {
		return nil // this leader removed itself and steps down; a new leader cleans up
	}
	return n.forgetServer(ctx, id)
}

func (n *Node) forgetServer(ctx context.Context, id string) error {
	if _, known := n.fsm.Servers()[id]; !known {
		return nil
	}
	_, err := n.applyChecked(ctx, fsm.RemoveServer{ID: id})
	return err
}

// removalSafe reports ErrQuorumAtRisk when, without id, the live voters
// would be fewer than a quorum of the voters. A voter is live unless the
// leader's heartbeats to it are failing. Removing a nonvoter is safe.
func (n *Node) removalSafe(conf raft.Configuration, id string) error {
	voters, live := 0, 0
	for _, s := range conf.Servers {
		if s.Suffrage != raft.Voter {
			if s.ID == raft.ServerID(id) {
				return nil
			}
			continue
		}
		if s.ID == raft.ServerID(id) {
			continue
		}
		voters++
		if s.ID == raft.ServerID(n.cfg.ID) || !n.health.failing(s.ID) {
			live++
		}
	}
	if voters == 0 {
		return fmt.Errorf("%w: it is the last voter", ErrQuorumAtRisk)
	}
	if quorum := voters/2 + 1; live < quorum {
		return fmt.Errorf("%w: %d of %d remaining voters are live, quorum is %d", ErrQuorumAtRisk, live, voters, quorum)
	}
	return nil
}

func hasServer(conf raft.Configuration, id string) bool {
	for _, s := range conf.Servers {
		if s.ID == raft.ServerID(id) {
			return true
		}
	}
	return false
}

// TransferLeadership hands leadership to the voter id, or to the most
// up-to-date voter when id is empty, and waits until the transfer is done.
// It returns the new leader's id when known.
func (n *Node) TransferLeadership(ctx context.Context, id string) (string, error) {
	if !n.IsLeader() {
		return "", fmt.Errorf("transfer leadership: %w", n.notLeaderErr())
	}
	var fut raft.Future
	if id == "" {
		fut = n.raft.LeadershipTransfer()
	} else {
		if id == n.cfg.ID {
			return id, nil
		}
		addr, err := n.voterAddress(id)
		if err != nil {
			return "", err
		}
		fut = n.raft.LeadershipTransferToServer(raft.ServerID(id), addr)
	}
	done := make(chan error, 1)
	go func() { done <- fut.Error() }()
	select {
	case err := <-done:
		if err != nil {
			return "", translateTransfer(err)
		}
	case <-ctx.Done():
		return "", fmt.Errorf("transfer leadership: %w", ErrTimeout)
	}
	if id != "" {
		return id, nil
	}
	return n.awaitLeaderID(ctx, 2*time.Second), nil
}

// awaitLeaderID waits up to d for this node to hear from a leader; the
// old leader learns the new one with its first heartbeat.
func (n *Node) awaitLeaderID(ctx context.Context, d time.Duration) string {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	deadline := time.After(d)
	for {
		if _, lid := n.raft.LeaderWithID(); lid != "" {
			return string(lid)
		}
		select {
		case <-ctx.Done():
			return ""
		case <-deadline:
			return ""
		case <-t.C:
		}
	}
}

func (n *Node) voterAddress(id string) (raft.ServerAddress, error) {
	fut := n.raft.GetConfiguration()
	if err := fut.Error(); err != nil {
		return "", translate("transfer leadership", err)
	}
	for _, s := range fut.Configuration().Servers {
		if s.ID != raft.ServerID(id) {
			continue
		}
		if s.Suffrage != raft.Voter {
			return "", kind(fmt.Errorf("transfer leadership: %q is not a voter", id), fsm.ErrInvalid)
		}
		return s.Address, nil
	}
	return "", kind(fmt.Errorf("transfer leadership to %q: %w", id, ErrUnknownServer), fsm.ErrNotFound)
}

// translateTransfer keeps "no voter to transfer to" a client error rather
// than an internal one.
func translateTransfer(err error) error {
	if errors.Is(err, raft.ErrLeadershipTransferInProgress) {
		return kind(fmt.Errorf("transfer leadership: %w", err), fsm.ErrConflict)
	}
	if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrRaftShutdown) {
		return translate("transfer leadership", err)
	}
	return kind(fmt.Errorf("transfer leadership: %v", err), fsm.ErrConflict)
}

// rejoin asks the masters at the join addresses (followers redirect to the
// leader) to re-add this node. A node that comes back with a new Raft
// address (a rescheduled pod) hears from no leader, because the leader
// still sends to the old address; this is how it gets its entry replaced.
func (n *Node) rejoin(ctx context.Context) {
	self := n.Self()
	for _, addr := range n.cfg.Join {
		if addr == n.cfg.HTTPAddr {
			continue
		}
		jctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := n.cfg.Discovery.Join(jctx, addr, self)
		cancel()
		if err == nil {
			n.logger.Info("re-joined the cluster", "via", addr, "raft-address", self.RaftAddr)
			return
		}
		n.logger.Debug("re-join failed", "via", addr, "error", err)
	}
}

// kind marks err as also being k (for errors.Is, so the HTTP edge picks
// the status) without adding k's text to the message.
func kind(err, k error) error { return kindError{err, k} }

type kindError struct{ err, kind error }

func (e kindError) Error() string   { return e.err.Error() }
func (e kindError) Unwrap() []error { return []error{e.err, e.kind} }
