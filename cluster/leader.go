package cluster

import (
	"context"
	"sync"
	"time"

	"github.com/shepherd/shepherd/fsm"
)

// leaderState is the leader-only state of one term of leadership. It is
// rebuilt from the FSM on every leadership gain and dropped on loss.
type leaderState struct {
	ctx        context.Context
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	since      time.Time
	dispatcher *dispatcher
	liveness   *liveness
}

// watchLeadership starts leader work on every gain and stops it on loss.
func (n *Node) watchLeadership() {
	var current *leaderState
	stop := func() {
		if current != nil {
			n.leading.Store(nil)
			current.stop()
			current = nil
			n.logger.Info("stopped leader work")
		}
	}
	defer stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case isLeader := <-n.notifyCh:
			stop()
			if isLeader {
				current = n.startLeader()
			}
		}
	}
}

func (n *Node) startLeader() *leaderState {
	ctx, cancel := context.WithCancel(n.ctx)
	ls := &leaderState{ctx: ctx, cancel: cancel, liveness: newLiveness()}
	ls.dispatcher = newDispatcher(n, ctx, ls.liveness.loads)
	ls.wg.Add(1)
	go func() {
		defer ls.wg.Done()
		n.runLeader(ls)
	}()
	return ls
}

func (ls *leaderState) stop() {
	ls.cancel()
	// The loops first: the dispatcher loop adds in-flight leases, and a
	// WaitGroup must not be waited on while it may still be added to.
	ls.wg.Wait()
	ls.dispatcher.close()
}

// runLeader waits for the whole log to be applied (Barrier), rebuilds the
// leader-only state from the FSM, then serves until leadership ends.
func (n *Node) runLeader(ls *leaderState) {
	n.logger.Info("gained leadership, waiting for barrier")
	for {
		if err := n.raft.Barrier(time.Minute).Error(); err == nil {
			break
		} else if ls.ctx.Err() != nil {
			return
		} else {
			n.logger.Warn("barrier failed, retrying", "error", err)
		}
	}
	now := time.Now().UTC()
	ls.since = now
	ls.liveness.reset(n.fsm.Workers(), now)
	n.leading.Store(ls)
	n.logger.Info("leader ready", "workers", ls.liveness.size())
	n.registerServers(ls.ctx)

	loops := []func(context.Context, *leaderState){n.runDispatcher, n.runReaper, n.runTTL, n.runPromoter, n.runStats,
		n.runScheduler, n.runRetention}
	var wg sync.WaitGroup
	for _, loop := range loops {
		wg.Add(1)
		go func() { defer wg.Done(); loop(ls.ctx, ls) }()
	}
	wg.Wait()
}

// leader returns the current leader state, or nil when this node does not
// lead or has not finished taking over.
func (n *Node) leader() *leaderState { return n.leading.Load() }

// registerServers records this leader's and the bootstrap peers' addresses.
func (n *Node) registerServers(ctx context.Context) {
	n.peersMu.Lock()
	peers := append([]NodeInfo{n.Self()}, n.peers...)
	n.peersMu.Unlock()
	known := n.fsm.Servers()
	for _, p := range peers {
		srv := fsm.Server{ID: p.ID, RaftAddr: p.RaftAddr, HTTPAddr: p.HTTPAddr}
		if known[p.ID] == srv || (p.ID != n.cfg.ID && known[p.ID].ID != "") {
			continue // a peer's own join is fresher than what we saw at bootstrap
		}
		if _, err := n.applyChecked(ctx, fsm.RegisterServer{Server: srv}); err != nil {
			n.logger.Warn("could not register server", "id", p.ID, "error", err)
		}
	}
}

// every runs fn every interval until ctx ends.
func every(ctx context.Context, interval time.Duration, fn func(now time.Time)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			fn(now.UTC())
		}
	}
}
