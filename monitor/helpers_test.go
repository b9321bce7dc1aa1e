package monitor

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/goleak"

	"github.com/shepherd/shepherd/cluster"
	"github.com/shepherd/shepherd/fsm"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// testEnv is a real FSM with a hub observing it, driven entry by entry.
type testEnv struct {
	t     *testing.T
	state *fsm.FSM
	hub   *Hub
	index uint64
}

func newEnv(t *testing.T, cfg Config) *testEnv {
	t.Helper()
	if cfg.State == nil {
		cfg.State = fsm.New(nil)
	}
	state := cfg.State
	if cfg.NodeID == "" {
		cfg.NodeID = "m1"
	}
	h, err := NewHub(cfg)
	if err != nil {
		t.Fatal(err)
	}
	state.AddObserver(h)
	t.Cleanup(func() { h.Close() })
	return &testEnv{t: t, state: state, hub: h}
}

// apply commits one command through FSM.Apply, as Raft would.
func (e *testEnv) apply(cmd fsm.Command) *fsm.Response {
	e.t.Helper()
	buf, err := fsm.Encode(cmd)
	if err != nil {
		e.t.Fatal(err)
	}
	e.index++
	resp, _ := e.state.Apply(&raft.Log{Index: e.index, Type: raft.LogCommand, Data: buf}).(*fsm.Response)
	if resp != nil && resp.Err != nil {
		e.t.Fatalf("apply %T: %v", cmd, resp.Err)
	}
	return resp
}

func (e *testEnv) submit(name, queue string) int64 {
	resp := e.apply(fsm.Submit{Now: t0, Tasks: []fsm.TaskSpec{{Name: name, Queue: queue, MaxAttempts: 3, Timeout: 30 * time.Second}}})
	return resp.Tasks[0].ID
}

func (e *testEnv) register(id string) {
	e.apply(fsm.RegisterWorker{Now: t0, ID: id, Capacity: 4})
}

func (e *testEnv) lease(worker string, ids ...int64) {
	e.apply(fsm.Lease{Now: t0.Add(time.Second), WorkerID: worker, TaskIDs: ids})
}

func (e *testEnv) complete(worker string, id int64) {
	e.apply(fsm.Complete{Now: t0.Add(3 * time.Second), WorkerID: worker, TaskID: id, Attempt: 1, Result: json.RawMessage(`{"ok":true}`)})
}

// wireMsg is the part of a message the tests look at.
type wireMsg struct {
	Index  uint64          `json:"index"`
	Type   string          `json:"type"`
	Node   string          `json:"node"`
	Task   json.RawMessage `json:"task"`
	Worker json.RawMessage `json:"worker"`
	Since  uint64          `json:"since"`
	Counts map[string]map[string]int
	raw    []byte
}

func decode(t *testing.T, b []byte) wireMsg {
	t.Helper()
	var m wireMsg
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	m.raw = b
	return m
}

// drain reads everything a subscription has now.
func drain(t *testing.T, s *Subscription) []wireMsg {
	t.Helper()
	var out []wireMsg
	for {
		msgs, err := s.Next(nil, 64)
		if err != nil {
			t.Fatalf("next: %v", err)
		}
		if len(msgs) == 0 {
			return out
		}
		for _, b := range msgs {
			out = append(out, decode(t, b))
		}
	}
}

func mustSubscribe(t *testing.T, h *Hub, o SubscribeOptions) *Subscription {
	t.Helper()
	s, err := h.Subscribe(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fakeCluster is a Cluster whose status the test sets.
type fakeCluster struct {
	id string
	mu sync.Mutex
	st cluster.ClusterStatus
}

func (f *fakeCluster) NodeID() string { return f.id }

func (f *fakeCluster) Status() cluster.ClusterStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st
}

func (f *fakeCluster) set(leader string, term uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	servers := []cluster.ServerStatus{
		{ID: "m1", HTTPAddr: "127.0.0.1:7001", State: "follower"},
		{ID: "m2", HTTPAddr: "http://m2.example:7002", State: "follower"},
	}
	f.st = cluster.ClusterStatus{Term: term, CommitIndex: 10, AppliedIndex: 9}
	for i := range servers {
		if servers[i].ID == leader {
			servers[i].State = "leader"
			l := servers[i]
			f.st.Leader = &l
		}
	}
	f.st.Servers = servers
}
