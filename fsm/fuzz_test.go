package fsm

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// fuzzBase is the state FuzzApply starts from: workers, servers and tasks
// in every status, as a snapshot so each input restores a fresh copy.
func fuzzBase(t testing.TB) ([]byte, *FSM) {
	_, f, _ := genLog(t, 21, 300)
	return snapshotBytes(t, f), f
}

// applicable reports whether ApplyCommand is meant to return for buf rather
// than panic: it decodes, and a batch's inner commands decode or may be
// skipped. (Panicking on the rest is the contract; TestApplyUndecodable
// covers it.)
func applicable(buf []byte) bool {
	cmd, err := Decode(buf)
	if err != nil {
		return false
	}
	if b, ok := cmd.(Batch); ok {
		for _, inner := range b.Commands {
			if _, err := Decode(inner); err != nil && !(len(inner) > 0 && CommandType(inner[0])&IgnorableFlag != 0) {
				return false
			}
		}
	}
	return true
}

func FuzzApply(f *testing.F) {
	baseSnap, oracle := fuzzBase(f)
	for _, c := range sampleCommands(f) {
		buf, _ := Encode(c)
		f.Add(buf)
	}
	// Commands that hit the base state: leases of real pending tasks,
	// reports on real running ones, and so on.
	g := newGen(22, oracle)
	g.now = base.Add(10 * time.Minute)
	for range 40 {
		buf, _ := Encode(g.next())
		f.Add(buf)
	}
	f.Add([]byte{byte(CmdSubmit), commandVersion, '{', '}'})
	f.Add([]byte{byte(CmdLease), commandVersion, 'n', 'u', 'l', 'l'})
	f.Add(append([]byte{byte(CmdBatch), commandVersion}, `{"commands":["AgF7fQ==","/wF7fQ==","CwF7fQ=="]}`...))
	f.Add(append([]byte{byte(CmdComplete), commandVersion}, `{"worker_id":"w1","task_id":1,"attempt":1,"result":{"a":[1,2]}}`...))
	f.Add(append([]byte{byte(CmdLease), commandVersion}, `{"now":"9999-12-31T23:59:59Z","worker_id":"w1","task_ids":[1,2,3,4,5,6,7,8,9,10]}`...))

	f.Fuzz(func(t *testing.T, buf []byte) {
		if !applicable(buf) {
			return
		}
		fsm := restored(t, baseSnap)
		before := stateBytes(t, fsm)
		resp, events := fsm.ApplyCommand(1000, buf)
		if resp == nil {
			t.Fatal("nil response")
		}
		if resp.Err != nil {
			if len(events) != 0 || !bytes.Equal(before, stateBytes(t, fsm)) {
				t.Fatalf("rejected command (%v) changed the state", resp.Err)
			}
		}
		for _, e := range events {
			if e.Index != 1000 || e.Type == "" {
				t.Fatalf("event %+v", e)
			}
		}
		checkIndexes(t, fsm)
		snap := snapshotBytes(t, fsm)
		if again := snapshotBytes(t, restored(t, snap)); !bytes.Equal(snap, again) {
			t.Fatal("snapshot does not round-trip")
		}
	})
}

func FuzzRestore(f *testing.F) {
	baseSnap, _ := fuzzBase(f)
	f.Add(baseSnap)
	small := newHarness(f)
	small.worker("w1", map[string]string{"a": "b"})
	small.submit(spec("a"), with(spec("b"), func(s *TaskSpec) { s.RunAt = at(time.Hour); s.IdempotencyKey = "k" }), spec("c"))
	small.lease("w1", 1)
	small.must(RegisterServer{Server: Server{ID: "m1"}})
	smallSnap := snapshotBytes(f, small.f)
	f.Add(smallSnap)
	f.Add(smallSnap[:len(smallSnap)/2])
	f.Add(smallSnap[:bytes.IndexByte(smallSnap, '\n')+1])
	f.Add([]byte{})
	f.Add([]byte(`{"format":"shepherd-fsm","version":1,"applied":5,"next_id":1,"tasks":0,"workers":0,"servers":0}`))
	f.Add([]byte(`{"format":"shepherd-fsm","version":1,"next_id":9,"tasks":1,"workers":1,"servers":0}` + "\n" +
		`{"id":3,"status":"running","worker_id":"","priority":-9223372036854775808,"lease_expires_at":"0000-01-01T00:00:00+01:00"}` + "\n" +
		`{"id":"w","status":"weird"}`))

	f.Fuzz(func(t *testing.T, data []byte) {
		fsm := New(nil)
		if err := fsm.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
			return
		}
		checkIndexes(t, fsm)
		snap := snapshotBytes(t, fsm)
		if again := snapshotBytes(t, restored(t, snap)); !bytes.Equal(snap, again) {
			t.Fatalf("restored state does not round-trip:\n%s\n%s", snap, again)
		}
		// Whatever was restored, the leader's periodic commands apply.
		far := base.Add(1000 * time.Hour)
		for _, c := range []Command{
			Promote{Now: far},
			Requeue{Now: far, Leases: fsm.ExpiredLeases(far), Reason: "expired"},
			WorkerStats{Now: far, Stats: []WorkerStat{{WorkerID: "w", Progress: map[int64]float64{3: 0.5}}}},
		} {
			buf, _ := Encode(c)
			fsm.ApplyCommand(fsm.AppliedIndex()+1, buf)
		}
		for _, w := range fsm.Workers() {
			buf, _ := Encode(WorkerDown{Now: far, WorkerID: w.ID})
			fsm.ApplyCommand(fsm.AppliedIndex()+1, buf)
		}
		checkIndexes(t, fsm)
	})
}
