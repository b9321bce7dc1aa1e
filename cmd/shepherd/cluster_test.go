package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/shepherd/shepherd/api"
	"github.com/shepherd/shepherd/api/client"
	"github.com/shepherd/shepherd/cluster"
	"github.com/shepherd/shepherd/cmd/shepherd/chaos"
	"github.com/shepherd/shepherd/fsm"
	"github.com/shepherd/shepherd/worker"
)

// localCluster is an in-process cluster of real masters (Raft over
// loopback TCP, fsync'd boltdb, real HTTP) and real workers.
type localCluster struct {
	t       *testing.T
	cfgs    []masterConfig
	masters []*master // nil when stopped
	https   []string
	events  *eventLog
}

// eventLog records, per task, the log indexes of its completions as one
// master applied them. A restart replays the log; the same index seen
// again is the same completion.
type eventLog struct {
	mu        sync.Mutex
	completed map[int64]map[uint64]bool
}

func (l *eventLog) Observe(events []fsm.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ev := range events {
		if ev.Type != "task.completed" {
			continue
		}
		if l.completed[ev.Task.ID] == nil {
			l.completed[ev.Task.ID] = map[uint64]bool{}
		}
		l.completed[ev.Task.ID][ev.Index] = true
	}
}

func (l *eventLog) completions() map[int64]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[int64]int, len(l.completed))
	for id, indexes := range l.completed {
		out[id] = len(indexes)
	}
	return out
}

// freeAddr is a loopback address outside the ephemeral port range (see
// chaos.FreeAddrs), so outgoing connections do not take it before a
// master binds it.
func freeAddr(t *testing.T) string {
	t.Helper()
	addrs, err := chaos.FreeAddrs(1)
	if err != nil {
		t.Fatal(err)
	}
	return addrs[0]
}

// newLocalCluster starts size masters; each tune (if any) adjusts every
// master's configuration first.
func newLocalCluster(t *testing.T, size int, tune ...func(*masterConfig)) *localCluster {
	c := &localCluster{t: t, events: &eventLog{completed: map[int64]map[uint64]bool{}}}
	for range size {
		c.https = append(c.https, freeAddr(t))
	}
	for i := range size {
		cc, ac := cluster.DefaultConfig(), api.DefaultConfig()
		cc.ID, cc.HTTPAddr, cc.RaftAddr = fmt.Sprintf("m%d", i+1), c.https[i], freeAddr(t)
		cc.DataDir, cc.BootstrapExpect, cc.Join = t.TempDir(), size, c.https
		cc.RaftProfile, cc.HeartbeatInterval, cc.HeartbeatTTL = "fast", 200*time.Millisecond, 2*time.Second
		cc.UnknownLeaseGrace, cc.LeaderGrace, cc.StatsInterval = time.Second, 500*time.Millisecond, time.Second
		ac.Addr = c.https[i]
		cfg := masterConfig{Cluster: cc, API: ac, LogLevel: "warn"}
		if i == 0 {
			cfg.Observers = []fsm.Observer{c.events}
		}
		for _, f := range tune {
			f(&cfg)
		}
		c.cfgs = append(c.cfgs, cfg)
	}
	c.masters = make([]*master, size)
	for i := range size {
		c.start(i)
	}
	t.Cleanup(c.stopAll)
	return c
}

func (c *localCluster) start(i int) {
	c.t.Helper()
	m, err := startMaster(c.cfgs[i], testLog{c.t})
	if err != nil {
		c.t.Fatalf("start m%d: %v", i+1, err)
	}
	c.masters[i] = m
}

func (c *localCluster) stop(i int) {
	if m := c.masters[i]; m != nil {
		c.masters[i] = nil
		if err := m.close(); err != nil {
			c.t.Logf("stop m%d: %v", i+1, err)
		}
	}
}

// crash stops master i without a leadership hand-off, as a kill would.
func (c *localCluster) crash(i int) {
	if m := c.masters[i]; m != nil {
		c.masters[i] = nil
		_ = m.abort()
	}
}

func (c *localCluster) stopAll() {
	for i := range c.masters {
		c.stop(i)
	}
}

// leader waits for a live master that leads and returns its index.
func (c *localCluster) leader(timeout time.Duration) int {
	c.t.Helper()
	idx := -1
	waitFor(c.t, timeout, "a leader", func() bool {
		for i, m := range c.masters {
			if m != nil && m.node.IsLeader() && m.node.Ready() {
				idx = i
				return true
			}
		}
		return false
	})
	return idx
}

func (c *localCluster) client() *client.Client {
	return client.New(c.https, client.WithRetryBudget(15*time.Second))
}

// startWorker runs a real worker agent until the test ends.
func (c *localCluster) startWorker(id string, handle map[string]worker.HandlerFunc) {
	c.t.Helper()
	w, err := worker.New(worker.Config{ID: id, Masters: c.https, Capacity: 8, PollWait: 2 * time.Second,
		Logger: hclog.New(&hclog.LoggerOptions{Name: id, Level: hclog.Warn, Output: testLog{c.t}})})
	if err != nil {
		c.t.Fatal(err)
	}
	for name, h := range handle {
		w.Handle(name, h)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	c.t.Cleanup(func() { cancel(); <-done })
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) { l.t.Log(string(p)); return len(p), nil }

var _ io.Writer = testLog{}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// allCompleted reports whether every task in ids is completed, as seen
// through the API.
func allCompleted(ctx context.Context, c *client.Client, ids []int64) bool {
	list, err := c.ListTasks(ctx, client.ListOptions{Status: "completed", Limit: 1000})
	if err != nil {
		return false
	}
	done := map[int64]bool{}
	for _, t := range list.Tasks {
		done[t.ID] = true
	}
	for _, id := range ids {
		if !done[id] {
			return false
		}
	}
	return true
}

func submitN(t *testing.T, c *client.Client, n int, prefix string) []int64 {
	t.Helper()
	var ids []int64
	for i := range n {
		task, _, err := c.Submit(context.Background(), client.SubmitRequest{Name: "count",
			Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)), IdempotencyKey: fmt.Sprintf("%s-%d", prefix, i)})
		if err != nil {
			t.Fatalf("submit %s-%d: %v", prefix, i, err)
		}
		ids = append(ids, task.ID)
	}
	return ids
}
