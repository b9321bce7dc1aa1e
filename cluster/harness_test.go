package cluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// testCluster is N real nodes on loopback TCP with boltdb in temp dirs.
// Discovery is in-process: "HTTP addresses" are names in a shared map.
type testCluster struct {
	t       *testing.T
	mu      sync.Mutex
	nodes   map[string]*Node // by http name
	cfgs    []Config
	started map[int]bool // nodes that ran once keep their Raft address
}

type memDiscovery struct{ c *testCluster }

func (d memDiscovery) node(addr string) (*Node, error) {
	d.c.mu.Lock()
	defer d.c.mu.Unlock()
	n := d.c.nodes[addr]
	if n == nil {
		return nil, fmt.Errorf("%s: connection refused", addr)
	}
	return n, nil
}

func (d memDiscovery) NodeInfo(ctx context.Context, addr string) (NodeInfo, error) {
	n, err := d.node(addr)
	if err != nil {
		return NodeInfo{}, err
	}
	return n.Self(), nil
}

func (d memDiscovery) Join(ctx context.Context, addr string, self NodeInfo) error {
	n, err := d.node(addr)
	if err != nil {
		return err
	}
	if !n.IsLeader() {
		_, leaderHTTP, ok := n.Leader()
		if !ok {
			return ErrNoLeader
		}
		if n, err = d.node(leaderHTTP); err != nil {
			return err
		}
	}
	if self.NonVoter {
		return n.JoinNonvoter(ctx, self.ID, self.RaftAddr, self.HTTPAddr)
	}
	return n.Join(ctx, self.ID, self.RaftAddr, self.HTTPAddr)
}

// freePort is a free loopback address below the kernel's ephemeral range
// (32768 and up), so outgoing connections do not take it before Raft binds.
func freePort(t *testing.T) string {
	t.Helper()
	for range 1000 {
		addr := fmt.Sprintf("127.0.0.1:%d", 20000+rand.IntN(12000))
		if l, err := net.Listen("tcp", addr); err == nil {
			l.Close()
			return addr
		}
	}
	t.Fatal("no free loopback port")
	return ""
}

// testConfig returns fast timings for tests.
func testConfig(t *testing.T, id string) Config {
	cfg := DefaultConfig()
	cfg.ID = id
	cfg.RaftAddr = freePort(t)
	cfg.HTTPAddr = "http-" + id
	cfg.DataDir = t.TempDir()
	cfg.RaftProfile = "fast"
	cfg.HeartbeatInterval = 100 * time.Millisecond
	cfg.HeartbeatTTL = time.Second
	cfg.UnknownLeaseGrace = 300 * time.Millisecond
	cfg.LeaderGrace = 200 * time.Millisecond
	cfg.StatsInterval = 200 * time.Millisecond
	cfg.RetryBaseDelay = 50 * time.Millisecond
	cfg.RetryMaxDelay = 200 * time.Millisecond
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: id, Level: hclog.Warn, Output: testWriter{t}})
	return cfg
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

func newTestCluster(t *testing.T, size int) *testCluster {
	return newTestClusterWith(t, size, nil)
}

// newTestClusterWith is newTestCluster with every config edited first
// (edit may be nil).
func newTestClusterWith(t *testing.T, size int, edit func(*Config)) *testCluster {
	c := &testCluster{t: t, nodes: make(map[string]*Node), started: make(map[int]bool)}
	var joins []string
	for i := range size {
		cfg := testConfig(t, fmt.Sprintf("m%d", i+1))
		if edit != nil {
			edit(&cfg)
		}
		c.cfgs = append(c.cfgs, cfg)
		joins = append(joins, cfg.HTTPAddr)
	}
	for i := range c.cfgs {
		c.cfgs[i].Join, c.cfgs[i].BootstrapExpect, c.cfgs[i].Discovery = joins, size, memDiscovery{c}
	}
	for i := range c.cfgs {
		c.start(i)
	}
	t.Cleanup(c.closeAll)
	return c
}

func (c *testCluster) start(i int) *Node {
	c.t.Helper()
	n, err := c.open(i)
	for try := 0; err != nil && isAddrInUse(err) && !c.started[i] && try < 5; try++ {
		// The port freePort picked was taken by another process before
		// Raft bound it; a node that never ran may take another one.
		c.cfgs[i].RaftAddr = freePort(c.t)
		n, err = c.open(i)
	}
	if err != nil {
		c.t.Fatal(err)
	}
	if c.started == nil {
		c.started = map[int]bool{}
	}
	c.started[i] = true
	c.mu.Lock()
	c.nodes[c.cfgs[i].HTTPAddr] = n
	c.mu.Unlock()
	return n
}

func (c *testCluster) open(i int) (*Node, error) {
	n, err := New(c.cfgs[i])
	if err != nil {
		return nil, err
	}
	if err := n.Open(); err != nil {
		_ = n.Close() // release what Open got before it failed
		return nil, err
	}
	return n, nil
}

func isAddrInUse(err error) bool { return errors.Is(err, syscall.EADDRINUSE) }

func (c *testCluster) stop(n *Node) {
	c.mu.Lock()
	delete(c.nodes, n.cfg.HTTPAddr)
	c.mu.Unlock()
	if err := n.Close(); err != nil {
		c.t.Logf("close %s: %v", n.cfg.ID, err)
	}
}

func (c *testCluster) closeAll() {
	for _, n := range c.live() {
		c.stop(n)
	}
}

func (c *testCluster) live() []*Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*Node
	for _, n := range c.nodes {
		out = append(out, n)
	}
	return out
}

// waitLeader waits until one live node leads and has taken over.
func (c *testCluster) waitLeader(timeout time.Duration) *Node {
	c.t.Helper()
	var leader *Node
	waitFor(c.t, timeout, "a leader", func() bool {
		for _, n := range c.live() {
			if n.leader() != nil {
				leader = n
				return true
			}
		}
		return false
	})
	return leader
}

func (c *testCluster) followers(leader *Node) []*Node {
	var out []*Node
	for _, n := range c.live() {
		if n != leader {
			out = append(out, n)
		}
	}
	return out
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
