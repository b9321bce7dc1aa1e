package fsm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/google/btree"
	"github.com/hashicorp/raft"
)

// base is the fixed clock of every test: the FSM never reads the real one.
var base = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// at is base plus d.
func at(d time.Duration) time.Time { return base.Add(d) }

// harness applies commands to one FSM at increasing log indexes.
type harness struct {
	t     testing.TB
	f     *FSM
	index uint64
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	return &harness{t: t, f: New(nil)}
}

// apply encodes cmd and applies it at the next index.
func (h *harness) apply(cmd Command) (*Response, []Event) {
	h.t.Helper()
	buf, err := Encode(cmd)
	if err != nil {
		h.t.Fatalf("encode %s: %v", cmd.Type(), err)
	}
	h.index++
	return h.f.ApplyCommand(h.index, buf)
}

// must applies cmd and fails the test on a rejection.
func (h *harness) must(cmd Command) *Response {
	h.t.Helper()
	resp, _ := h.apply(cmd)
	if resp.Err != nil {
		h.t.Fatalf("%s rejected: %v", cmd.Type(), resp.Err)
	}
	return resp
}

// submit creates tasks at base time and returns their ids.
func (h *harness) submit(specs ...TaskSpec) []int64 {
	h.t.Helper()
	resp := h.must(Submit{Now: base, Tasks: specs})
	ids := make([]int64, len(resp.Tasks))
	for i, t := range resp.Tasks {
		ids[i] = t.ID
	}
	return ids
}

func (h *harness) worker(id string, labels map[string]string) {
	h.t.Helper()
	h.must(RegisterWorker{Now: base, ID: id, Labels: labels, Capacity: 4})
}

// lease leases ids to worker at base and fails unless all were taken.
func (h *harness) lease(worker string, ids ...int64) {
	h.t.Helper()
	resp := h.must(Lease{Now: base, WorkerID: worker, TaskIDs: ids})
	if len(resp.Tasks) != len(ids) {
		h.t.Fatalf("lease %v to %s took %d tasks", ids, worker, len(resp.Tasks))
	}
}

func (h *harness) task(id int64) Task {
	h.t.Helper()
	t, ok := h.f.Task(id)
	if !ok {
		h.t.Fatalf("task %d not found", id)
	}
	return t
}

func (h *harness) status(id int64) TaskStatus { return h.task(id).Status }

// spec is a valid task spec in queue "default".
func spec(name string) TaskSpec {
	return TaskSpec{Name: name, Queue: "default", MaxAttempts: 3, Timeout: 30 * time.Second}
}

func with(sp TaskSpec, edit func(*TaskSpec)) TaskSpec {
	edit(&sp)
	return sp
}

// stateBytes encodes the replicated state without the applied index, so
// that a rejected command (which still advances the index) compares equal.
func stateBytes(t testing.TB, f *FSM) []byte {
	t.Helper()
	f.mu.RLock()
	snap := f.capture()
	f.mu.RUnlock()
	snap.header.Applied = 0
	var buf bytes.Buffer
	if err := snap.Encode(&buf); err != nil {
		t.Fatalf("encode snapshot: %v", err)
	}
	return buf.Bytes()
}

// snapshotBytes runs the real raft path: Snapshot, then Persist to a sink.
func snapshotBytes(t testing.TB, f *FSM) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	defer snap.Release()
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatalf("persist: %v", err)
	}
	if !sink.closed {
		t.Fatal("persist did not close the sink")
	}
	return sink.Bytes()
}

func restored(t testing.TB, b []byte) *FSM {
	t.Helper()
	f := New(nil)
	if err := f.Restore(io.NopCloser(bytes.NewReader(b))); err != nil {
		t.Fatalf("restore: %v", err)
	}
	return f
}

// memSink is a raft.SnapshotSink in memory.
type memSink struct {
	bytes.Buffer
	closed, canceled bool
}

var _ raft.SnapshotSink = (*memSink)(nil)

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Close() error  { s.closed = true; return nil }
func (s *memSink) Cancel() error { s.canceled = true; return nil }

// discardSink counts bytes and keeps none (benchmarks).
type discardSink struct{ n int64 }

func (s *discardSink) Write(p []byte) (int, error) { s.n += int64(len(p)); return len(p), nil }
func (s *discardSink) ID() string                  { return "discard" }
func (s *discardSink) Close() error                { return nil }
func (s *discardSink) Cancel() error               { return nil }

// checkRejected asserts that a command was refused with want and changed
// nothing: same state bytes, no events.
func checkRejected(t testing.TB, before []byte, f *FSM, resp *Response, events []Event, want error) {
	t.Helper()
	if !errors.Is(resp.Err, want) {
		t.Fatalf("err = %v, want %v", resp.Err, want)
	}
	if len(events) != 0 {
		t.Errorf("rejected command emitted %d events: %v", len(events), eventKeys(events))
	}
	if after := stateBytes(t, f); !bytes.Equal(before, after) {
		t.Errorf("rejected command changed the state:\nbefore %s\nafter  %s", before, after)
	}
}

// eventKey is what must match across replicas.
type eventKey struct {
	Index  uint64
	Type   string
	TaskID int64
	Worker string
}

func eventKeys(events []Event) []eventKey {
	out := make([]eventKey, 0, len(events))
	for _, e := range events {
		k := eventKey{Index: e.Index, Type: e.Type}
		if e.Task != nil {
			k.TaskID = e.Task.ID
		}
		if e.Worker != nil {
			k.Worker = e.Worker.ID
		}
		if e.Server != nil {
			k.Worker = "server:" + e.Server.ID
		}
		out = append(out, k)
	}
	return out
}

func eventTypes(events []Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.Type
	}
	return out
}

// checkIndexes rebuilds every index from the task table and compares it
// with the live one, so a handler that forgets to re-index shows up.
func checkIndexes(t testing.TB, f *FSM) {
	t.Helper()
	if err := indexMismatch(f); err != nil {
		t.Fatal(err)
	}
}

func indexMismatch(f *FSM) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	live := f.s
	fresh := newState()
	for _, id := range slices.Sorted(maps.Keys(live.tasks)) {
		fresh.putTask(live.tasks[id])
	}
	for q := range mergeKeys(live.ready, fresh.ready) {
		if a, b := treeKeys(live.ready[q]), treeKeys(fresh.ready[q]); !slices.Equal(a, b) {
			return fmt.Errorf("ready[%q] = %v, rebuilt %v", q, a, b)
		}
	}
	if a, b := treeKeys(live.scheduled), treeKeys(fresh.scheduled); !slices.EqualFunc(a, b, timedEq) {
		return fmt.Errorf("scheduled = %v, rebuilt %v", a, b)
	}
	if a, b := treeKeys(live.leases), treeKeys(fresh.leases); !slices.EqualFunc(a, b, timedEq) {
		return fmt.Errorf("leases = %v, rebuilt %v", a, b)
	}
	if !maps.EqualFunc(live.byWorker, fresh.byWorker, maps.Equal) {
		return fmt.Errorf("byWorker = %v, rebuilt %v", live.byWorker, fresh.byWorker)
	}
	if a, b := nonZero(live.counts), nonZero(fresh.counts); !maps.EqualFunc(a, b, maps.Equal) {
		return fmt.Errorf("counts = %v, rebuilt %v", a, b)
	}
	if a, b := treeKeys(live.finished), treeKeys(fresh.finished); !slices.EqualFunc(a, b, timedEq) {
		return fmt.Errorf("finished = %v, rebuilt %v", a, b)
	}
	if !maps.EqualFunc(live.pinned, fresh.pinned, maps.Equal) {
		return fmt.Errorf("pinned = %v, rebuilt %v", live.pinned, fresh.pinned)
	}
	if !maps.Equal(live.running, fresh.running) {
		return fmt.Errorf("running = %v, rebuilt %v", live.running, fresh.running)
	}
	if !maps.Equal(live.keys, fresh.keys) {
		return fmt.Errorf("keys = %v, rebuilt %v", live.keys, fresh.keys)
	}
	for id, tk := range live.tasks {
		if id != tk.ID || id >= live.nextID || id < 1 {
			return fmt.Errorf("task %d stored under %d, next id %d", tk.ID, id, live.nextID)
		}
	}
	return nil
}

func timedEq(a, b timedKey) bool { return a.id == b.id && a.at.Equal(b.at) }

func mergeKeys[V any](a, b map[string]V) map[string]struct{} {
	out := make(map[string]struct{})
	for k := range a {
		out[k] = struct{}{}
	}
	for k := range b {
		out[k] = struct{}{}
	}
	return out
}

func treeKeys[K any](tree *btree.BTreeG[K]) []K {
	var out []K
	if tree == nil {
		return nil
	}
	tree.Ascend(func(k K) bool { out = append(out, k); return true })
	return out
}

func nonZero(c map[string]map[TaskStatus]int) map[string]map[TaskStatus]int {
	out := make(map[string]map[TaskStatus]int)
	for q, byStatus := range c {
		for st, n := range byStatus {
			if n != 0 {
				if out[q] == nil {
					out[q] = make(map[TaskStatus]int)
				}
				out[q][st] = n
			}
		}
	}
	return out
}
