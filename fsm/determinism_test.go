package fsm

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/hashicorp/raft"
)

// replay applies a log through raft's entry point, the way a follower
// does, with configuration entries mixed in, and records the events its
// observer saw and each response's error text.
func replay(t testing.TB, f *FSM, log [][]byte, first uint64) ([]eventKey, []string) {
	t.Helper()
	var events []eventKey
	f.AddObserver(ObserverFunc(func(ev []Event) { events = append(events, eventKeys(ev)...) }))
	var errs []string
	for i, buf := range log {
		resp, ok := f.Apply(&raft.Log{Index: first + uint64(i), Type: raft.LogCommand, Data: buf}).(*Response)
		if !ok {
			t.Fatalf("entry %d: response is not a *Response", i)
		}
		errs = append(errs, responseErrs(resp))
	}
	return events, errs
}

func responseErrs(r *Response) string {
	s := fmt.Sprint(r.Err)
	for _, inner := range r.Results {
		s += "|" + responseErrs(&inner)
	}
	return s
}

func TestDeterministicReplay(t *testing.T) {
	const n = 3000
	for seed := uint64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			log, a, eventsA := genLog(t, seed, n)
			checkIndexes(t, a)

			b, c := New(nil), New(nil)
			eventsB, errsB := replay(t, b, log, 1)
			eventsC, errsC := replay(t, c, log, 1)
			snapA, snapB, snapC := snapshotBytes(t, a), snapshotBytes(t, b), snapshotBytes(t, c)
			if !bytes.Equal(snapA, snapB) || !bytes.Equal(snapB, snapC) {
				t.Fatalf("replicas diverged: %d, %d, %d snapshot bytes", len(snapA), len(snapB), len(snapC))
			}
			if !slices.Equal(eventsA, eventsB) || !slices.Equal(eventsB, eventsC) {
				t.Fatalf("event sequences differ: %d, %d, %d events", len(eventsA), len(eventsB), len(eventsC))
			}
			if !slices.Equal(errsB, errsC) {
				t.Fatal("responses differ")
			}
			checkCoverage(t, eventsA, errsB)
		})
	}
}

// TestReplayFromSnapshot: a follower that restores a snapshot taken midway
// and applies the rest of the log ends where the others do. This is what
// proves that Restore rebuilds every index the handlers consult.
func TestReplayFromSnapshot(t *testing.T) {
	const n = 3000
	log, a, eventsA := genLog(t, 7, n)
	for _, k := range []int{1, 500, 1700, n - 1} {
		b := New(nil)
		replay(t, b, log[:k], 1)
		c := restored(t, snapshotBytes(t, b))
		if c.AppliedIndex() != uint64(k) {
			t.Fatalf("restored applied index %d, want %d", c.AppliedIndex(), k)
		}
		checkIndexes(t, c)
		eventsC, _ := replay(t, c, log[k:], uint64(k+1))
		if !bytes.Equal(snapshotBytes(t, a), snapshotBytes(t, c)) {
			t.Fatalf("restore at %d then replay diverged", k)
		}
		var tail []eventKey
		for _, e := range eventsA {
			if e.Index > uint64(k) {
				tail = append(tail, e)
			}
		}
		if !slices.Equal(tail, eventsC) {
			t.Fatalf("restore at %d: events differ (%d vs %d)", k, len(tail), len(eventsC))
		}
	}
}

// checkCoverage guards the generator: a log that never completes, retries
// or rejects anything would prove little.
func checkCoverage(t *testing.T, events []eventKey, errs []string) {
	t.Helper()
	seen := map[string]int{}
	for _, e := range events {
		seen[e.Type]++
	}
	for _, typ := range []string{"task.submitted", "task.leased", "task.completed", "task.failed", "task.retrying",
		"task.requeued", "task.canceled", "task.cancel_requested", "task.promoted", "task.progress",
		"worker.registered", "worker.down", "worker.draining", "worker.stats", "cluster.membership",
		"task.retried", "task.purged", "task.lease_extended", "worker.removed", "schedule.updated",
		"schedule.deleted", "schedule.skipped", "schedule.paused", "schedule.resumed", "queue.paused", "queue.resumed", "queue.updated"} {
		if seen[typ] == 0 {
			t.Errorf("generated log never caused %s", typ)
		}
	}
	for _, want := range []error{ErrStaleLease, ErrNotFound, ErrInvalid, ErrConflict} {
		found := false
		for _, e := range errs {
			if bytes.Contains([]byte(e), []byte(want.Error())) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("generated log never got %v", want)
		}
	}
}

// TestNonCommandEntries: configuration and barrier entries advance the
// applied index and nothing else.
func TestNonCommandEntries(t *testing.T) {
	h := newHarness(t)
	h.submit(spec("a"))
	before := stateBytes(t, h.f)
	var seen int
	h.f.AddObserver(ObserverFunc(func([]Event) { seen++ }))
	for i, typ := range []raft.LogType{raft.LogConfiguration, raft.LogBarrier, raft.LogNoop} {
		if resp := h.f.Apply(&raft.Log{Index: uint64(10 + i), Type: typ, Data: []byte("junk")}); resp != nil {
			t.Errorf("%v: response %v", typ, resp)
		}
	}
	if h.f.AppliedIndex() != 12 || !bytes.Equal(before, stateBytes(t, h.f)) || seen != 0 {
		t.Errorf("applied %d, observer calls %d", h.f.AppliedIndex(), seen)
	}
}
