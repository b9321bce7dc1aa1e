package cluster

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/shepherd/shepherd/fsm"
)

// addNode starts one more node that joins the running cluster.
func (c *testCluster) addNode(id string, nonVoter bool) *Node {
	cfg := testConfig(c.t, id)
	cfg.Join = []string{c.cfgs[0].HTTPAddr, c.cfgs[1].HTTPAddr}
	cfg.NonVoter = nonVoter
	cfg.Discovery = memDiscovery{c}
	c.cfgs = append(c.cfgs, cfg)
	return c.start(len(c.cfgs) - 1)
}

func configuration(t *testing.T, n *Node) map[string]raft.Server {
	t.Helper()
	fut := n.raft.GetConfiguration()
	if err := fut.Error(); err != nil {
		t.Fatal(err)
	}
	out := map[string]raft.Server{}
	for _, s := range fut.Configuration().Servers {
		out[string(s.ID)] = s
	}
	return out
}

func nodeByID(c *testCluster, id string) *Node {
	for _, n := range c.live() {
		if n.cfg.ID == id {
			return n
		}
	}
	return nil
}

func TestRemoveServerGuardsQuorum(t *testing.T) {
	c := newTestCluster(t, 3)
	leader := c.waitLeader(10 * time.Second)
	fs := c.followers(leader)
	dead, alive := fs[0], fs[1]
	c.stop(dead)
	waitFor(t, 10*time.Second, "leader sees "+dead.cfg.ID+" failing", func() bool {
		return leader.health.failing(raft.ServerID(dead.cfg.ID))
	})
	ctx := context.Background()

	err := leader.RemoveServer(ctx, alive.cfg.ID, false)
	if !errors.Is(err, ErrQuorumAtRisk) || !errors.Is(err, fsm.ErrConflict) {
		t.Fatalf("removing a live voter with one dead: err = %v, want ErrQuorumAtRisk", err)
	}
	if err := leader.RemoveServer(ctx, "nope", false); !errors.Is(err, fsm.ErrNotFound) {
		t.Fatalf("removing an unknown server: err = %v, want not found", err)
	}
	if err := alive.RemoveServer(ctx, dead.cfg.ID, false); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("remove on a follower: err = %v, want ErrNotLeader", err)
	}
	if err := leader.RemoveServer(ctx, dead.cfg.ID, false); err != nil {
		t.Fatalf("removing the dead voter: %v", err)
	}
	if conf := configuration(t, leader); len(conf) != 2 {
		t.Fatalf("configuration after removal = %v", conf)
	}
	if _, ok := leader.State().Servers()[dead.cfg.ID]; ok {
		t.Fatal("removed server is still in the server table")
	}
	waitFor(t, 5*time.Second, "follower applies the removal", func() bool {
		_, ok := alive.State().Servers()[dead.cfg.ID]
		return !ok
	})
	// Two voters left: removing either loses quorum, unless forced.
	if err := leader.RemoveServer(ctx, alive.cfg.ID, false); err != nil {
		t.Fatalf("2 live voters -> 1: %v", err)
	}
	if conf := configuration(t, leader); len(conf) != 1 {
		t.Fatalf("configuration = %v", conf)
	}
	if err := leader.RemoveServer(ctx, leader.cfg.ID, false); !errors.Is(err, ErrQuorumAtRisk) {
		t.Fatalf("removing the last voter: err = %v", err)
	}
}

func TestForcedRemoveAndRejoinWithNewAddress(t *testing.T) {
	c := newTestCluster(t, 3)
	leader := c.waitLeader(10 * time.Second)
	f := c.followers(leader)[0]
	idx := -1
	for i, cfg := range c.cfgs {
		if cfg.ID == f.cfg.ID {
			idx = i
		}
	}
	c.stop(f)
	// The pod comes back with a new IP: same id and data, new address.
	c.cfgs[idx].RaftAddr = freePort(t)
	back := c.start(idx)
	waitFor(t, 15*time.Second, "leader replaces the old entry", func() bool {
		s, ok := configuration(t, leader)[back.cfg.ID]
		return ok && string(s.Address) == back.cfg.RaftAddr && len(configuration(t, leader)) == 3
	})
	if _, _, err := leader.Submit(context.Background(), []fsm.TaskSpec{spec("after-rejoin")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "rejoined node replicates", func() bool {
		_, ok := back.State().Task(1)
		return ok
	})
	waitFor(t, 10*time.Second, "server table has the new address", func() bool {
		return leader.State().Servers()[back.cfg.ID].RaftAddr == back.cfg.RaftAddr
	})
}

func TestTransferLeadershipAndShutdownHandOff(t *testing.T) {
	c := newTestCluster(t, 3)
	leader := c.waitLeader(10 * time.Second)
	target := c.followers(leader)[0]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := target.TransferLeadership(ctx, ""); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("transfer on a follower: %v", err)
	}
	if _, err := leader.TransferLeadership(ctx, "nope"); !errors.Is(err, fsm.ErrNotFound) {
		t.Fatalf("transfer to unknown: %v", err)
	}
	got, err := leader.TransferLeadership(ctx, target.cfg.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got != target.cfg.ID {
		t.Fatalf("new leader = %q, want %s", got, target.cfg.ID)
	}
	waitFor(t, 5*time.Second, "target takes over", func() bool { return target.leader() != nil })

	// A graceful shutdown of the leader moves leadership in one term.
	term := target.raft.CurrentTerm()
	start := time.Now()
	c.mu.Lock()
	delete(c.nodes, target.cfg.HTTPAddr)
	c.mu.Unlock()
	if err := target.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	next := c.waitLeader(5 * time.Second)
	t.Logf("leader shut down; %s leads %v later", next.cfg.ID, time.Since(start))
	if got := next.raft.CurrentTerm(); got != term+1 {
		t.Fatalf("term went %d -> %d: an election happened instead of a hand-off", term, got)
	}
}

func TestNonvoterReplicatesButNeverVotes(t *testing.T) {
	c := newTestCluster(t, 3)
	leader := c.waitLeader(10 * time.Second)
	replica := c.addNode("r1", true)
	waitFor(t, 10*time.Second, "replica joins as nonvoter", func() bool {
		s, ok := configuration(t, leader)["r1"]
		return ok && s.Suffrage == raft.Nonvoter
	})
	if _, _, err := leader.Submit(context.Background(), []fsm.TaskSpec{spec("read-me")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "replica applies", func() bool {
		_, ok := replica.State().Task(1)
		return ok
	})
	var st ServerStatus
	for _, s := range leader.Status().Servers {
		if s.ID == "r1" {
			st = s
		}
	}
	if st.Suffrage != "nonvoter" {
		t.Fatalf("status of r1 = %+v", st)
	}
	// A nonvoter can always be removed, even with a voter down.
	if err := leader.RemoveServer(context.Background(), "r1", false); err != nil {
		t.Fatal(err)
	}
	if _, err := leader.TransferLeadership(context.Background(), "r1"); !errors.Is(err, fsm.ErrNotFound) {
		t.Fatalf("transfer to a removed replica: %v", err)
	}
	if err := (Config{ID: "x", RaftAddr: "a:1", HTTPAddr: "a:2", DataDir: "d", BootstrapExpect: 3, Join: []string{"a"},
		Discovery: memDiscovery{c}, NonVoter: true, HeartbeatInterval: 1, HeartbeatTTL: 2}).Validate(); err == nil {
		t.Fatal("a nonvoter with bootstrap-expect validated")
	}
}

func TestDeadServerCleanup(t *testing.T) {
	c := newTestClusterWith(t, 3, func(cfg *Config) { cfg.DeadServerCleanup = time.Second })
	leader := c.waitLeader(10 * time.Second)
	dead := c.followers(leader)[0]
	c.stop(dead)
	waitFor(t, 20*time.Second, "dead server removed", func() bool {
		_, inConf := configuration(t, leader)[dead.cfg.ID]
		_, inTable := leader.State().Servers()[dead.cfg.ID]
		return !inConf && !inTable
	})
	if _, _, err := leader.Submit(context.Background(), []fsm.TaskSpec{spec("still-ok")}); err != nil {
		t.Fatal(err)
	}
}
