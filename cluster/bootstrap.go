package cluster

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/hashicorp/raft"

	"github.com/shepherd/shepherd/fsm"
)

// discoveryInterval is how often start-up discovery retries.
const discoveryInterval = 500 * time.Millisecond

// startCluster brings a fresh node into a cluster: it bootstraps together
// with the other expected masters, or joins an existing cluster. A node
// with Raft state on disk never bootstraps again. Then it keeps its own
// HTTP address registered in the replicated server table.
func (n *Node) startCluster(ctx context.Context) {
	if !n.hasState.Load() {
		if err := n.bootstrapOrJoin(ctx); err != nil {
			if ctx.Err() == nil {
				n.logger.Error("could not form or join a cluster", "error", err)
			}
			return
		}
	}
	n.keepRegistered(ctx)
}

func (n *Node) bootstrapOrJoin(ctx context.Context) error {
	if n.cfg.BootstrapExpect == 1 && len(n.cfg.Join) == 0 {
		return n.bootstrap([]NodeInfo{n.Self()})
	}
	ticker := time.NewTicker(discoveryInterval)
	defer ticker.Stop()
	for {
		done, err := n.discoverOnce(ctx)
		if done || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
	}
}

// discoverOnce probes the join addresses once. It joins a cluster that
// already exists, or bootstraps once the expected number of fresh masters
// answered. It reports whether the node is now part of a cluster.
func (n *Node) discoverOnce(ctx context.Context) (bool, error) {
	if n.raft.State() != raft.Follower || n.hasConfiguration() {
		n.hasState.Store(true) // a peer added us, or we lead already
		return true, nil
	}
	self := n.Self()
	peers := map[string]NodeInfo{self.ID: self}
	for _, addr := range n.cfg.Join {
		if addr == n.cfg.HTTPAddr {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		info, err := n.cfg.Discovery.NodeInfo(pctx, addr)
		cancel()
		if err != nil {
			n.logger.Debug("peer not reachable yet", "address", addr, "error", err)
			continue
		}
		if info.HasState {
			return n.tryJoin(ctx, addr, self), nil
		}
		peers[info.ID] = info
	}
	if n.cfg.BootstrapExpect == 0 || len(peers) < n.cfg.BootstrapExpect {
		n.logger.Info("waiting for peers", "found", len(peers), "expect", n.cfg.BootstrapExpect)
		return false, nil
	}
	list := make([]NodeInfo, 0, len(peers))
	for _, p := range peers {
		list = append(list, p)
	}
	return true, n.bootstrap(list)
}

func (n *Node) tryJoin(ctx context.Context, addr string, self NodeInfo) bool {
	jctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := n.cfg.Discovery.Join(jctx, addr, self); err != nil {
		n.logger.Warn("join failed, will retry", "via", addr, "error", err)
		return false
	}
	n.logger.Info("joined cluster", "via", addr)
	n.hasState.Store(true)
	return true
}

// bootstrap starts a cluster of exactly these masters. Every master that
// found the same set bootstraps the same configuration, which Raft allows.
func (n *Node) bootstrap(peers []NodeInfo) error {
	sort.Slice(peers, func(i, j int) bool { return peers[i].ID < peers[j].ID })
	conf := raft.Configuration{}
	for _, p := range peers {
		conf.Servers = append(conf.Servers, raft.Server{
			Suffrage: raft.Voter, ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.RaftAddr)})
	}
	n.peersMu.Lock()
	n.peers = peers
	n.peersMu.Unlock()
	n.logger.Info("bootstrapping cluster", "servers", len(peers))
	err := n.raft.BootstrapCluster(conf).Error()
	if err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
		return translate("bootstrap", err)
	}
	n.hasState.Store(true)
	return nil
}

func (n *Node) hasConfiguration() bool {
	fut := n.raft.GetConfiguration()
	return fut.Error() == nil && len(fut.Configuration().Servers) > 0
}

// keepRegistered makes sure the replicated server table holds this node's
// current HTTP address (it may change across restarts), by asking the
// leader to (re)join it. The leader registers itself in its leader loop.
func (n *Node) keepRegistered(ctx context.Context) {
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		if n.registered() || n.IsLeader() || n.cfg.Discovery == nil {
			continue
		}
		_, leaderHTTP, ok := n.Leader()
		if !ok {
			n.rejoin(ctx) // our address changed: the leader cannot reach us to say who leads
			continue
		}
		jctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := n.cfg.Discovery.Join(jctx, leaderHTTP, n.Self()); err != nil {
			n.logger.Debug("register with leader failed", "error", err)
		}
		cancel()
	}
}

func (n *Node) registered() bool {
	srv, ok := n.fsm.Servers()[n.cfg.ID]
	return ok && srv == fsm.Server{ID: n.cfg.ID, RaftAddr: n.RaftAddr(), HTTPAddr: n.cfg.HTTPAddr}
}
