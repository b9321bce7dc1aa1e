package fsm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"testing"
	"time"
)

// BenchmarkApplySubmitLeaseComplete is one task's life on the apply path:
// three log entries (submit, lease, complete), decoded and applied. One op
// is the three entries. Encoding happens before the timer, as on the
// leader.
func BenchmarkApplySubmitLeaseComplete(b *testing.B) {
	f := New(nil)
	reg, _ := Encode(RegisterWorker{Now: base, ID: "w1", Capacity: 8})
	f.ApplyCommand(1, reg)
	payload := json.RawMessage(`{"to":"someone@example.com","template":"welcome"}`)
	log := make([][]byte, 0, 3*b.N)
	for i := range b.N {
		id := int64(i + 1)
		now := base.Add(time.Duration(i) * time.Millisecond)
		sub, _ := Encode(Submit{Now: now, Tasks: []TaskSpec{{Name: "email.send", Queue: "default", Payload: payload,
			MaxAttempts: 3, Timeout: 30 * time.Second, IdempotencyKey: fmt.Sprint("k", id)}}})
		lease, _ := Encode(Lease{Now: now, WorkerID: "w1", TaskIDs: []int64{id}})
		done, _ := Encode(Complete{Now: now, WorkerID: "w1", TaskID: id, Attempt: 1, Result: json.RawMessage(`{"ok":true}`)})
		log = append(log, sub, lease, done)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i, buf := range log {
		if resp, _ := f.ApplyCommand(uint64(i+2), buf); resp.Err != nil {
			b.Fatal(resp.Err)
		}
	}
	b.StopTimer()
	if c := f.Counts()["default"][StatusCompleted]; c != b.N {
		b.Fatalf("%d completed, want %d", c, b.N)
	}
}

// snapshotFixture holds 100k tasks: 40k pending, 20k running, 40k
// completed with a small result, over 3 queues and 10 workers.
func snapshotFixture(b *testing.B) *FSM {
	const total, chunk = 100_000, 1000
	h := newHarness(b)
	for w := range 10 {
		h.worker(fmt.Sprint("w", w), nil)
	}
	for i := 0; i < total; i += chunk {
		specs := make([]TaskSpec, chunk)
		for j := range specs {
			specs[j] = TaskSpec{Name: "report.build", Queue: genQueues[j%3], Priority: j % 4, MaxAttempts: 3,
				Timeout: time.Minute, Payload: json.RawMessage(`{"customer":12345,"month":"2025-12"}`)}
		}
		h.must(Submit{Now: base, Tasks: specs})
	}
	for i := 0; i < 60_000; i += chunk {
		ids := make([]int64, chunk)
		for j := range ids {
			ids[j] = int64(i + j + 1)
		}
		h.must(Lease{Now: base, WorkerID: fmt.Sprint("w", i/chunk%10), TaskIDs: ids})
	}
	batch := make([]Command, 0, chunk)
	for id := int64(1); id <= 40_000; id++ {
		t := h.task(id)
		batch = append(batch, Complete{Now: base, WorkerID: t.WorkerID, TaskID: id, Attempt: 1, Result: json.RawMessage(`{"rows":42}`)})
		if len(batch) == chunk {
			h.must(mustBatch(b, batch...))
			batch = batch[:0]
		}
	}
	return h.f
}

// BenchmarkSnapshot: capture is what blocks Apply (raft calls Snapshot on
// the FSM goroutine); persist runs beside Apply. restore is for scale.
func BenchmarkSnapshot(b *testing.B) {
	f := snapshotFixture(b)
	var size int64
	b.Run("capture", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			snap, err := f.Snapshot()
			if err != nil {
				b.Fatal(err)
			}
			snap.Release()
		}
	})
	b.Run("persist", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			snap, _ := f.Snapshot()
			sink := &discardSink{}
			b.StartTimer()
			if err := snap.Persist(sink); err != nil {
				b.Fatal(err)
			}
			size = sink.n
		}
		b.SetBytes(size)
	})
	var buf bytes.Buffer
	snap, _ := f.Snapshot()
	if err := snap.(*fsmSnapshot).Encode(&buf); err != nil {
		b.Fatal(err)
	}
	b.Run("restore", func(b *testing.B) {
		b.SetBytes(int64(buf.Len()))
		for b.Loop() {
			if err := New(nil).Restore(io.NopCloser(bytes.NewReader(buf.Bytes()))); err != nil {
				b.Fatal(err)
			}
		}
	})
}
