package chaos

import (
	"os"
	"testing"
	"time"

	"github.com/shepherd/shepherd/api/client"
)

// script builds a history from steps one millisecond apart, each op
// taking half a millisecond.
type script struct {
	t0  time.Time
	n   int
	ops []Op
}

func (s *script) add(op Op) {
	op.Start = s.t0.Add(time.Duration(s.n) * time.Millisecond)
	op.End = op.Start.Add(500 * time.Microsecond)
	if op.Outcome == "" {
		op.Outcome = outcomeOK
	}
	s.n++
	s.ops = append(s.ops, op)
}

func newCheckRun(t *testing.T, ops []Op) *run {
	h := &History{}
	for _, op := range ops {
		h.add(op)
	}
	return &run{cfg: Config{CheckTimeout: 10 * time.Second, OutDir: t.TempDir(), Duration: time.Minute}, hist: h}
}

func checkOf(rep *Report, name string) Check {
	for _, c := range rep.Checks {
		if c.Name == name {
			return c
		}
	}
	return Check{}
}

// goodHistory: task 1 leased twice (the first lease expired), the stale
// completion refused, the second accepted and repeated idempotently; task
// 2's submit outcome is unknown but it exists and completes.
func goodHistory() ([]Op, map[int64]client.Task) {
	s := &script{t0: time.Unix(1000, 0)}
	s.add(Op{Kind: opSubmit, Key: "k1", TaskID: 1})
	s.add(Op{Kind: opSubmit, Key: "k2", Outcome: outcomeUnknown})
	s.add(Op{Kind: opLease, Key: "k1", TaskID: 1, Attempt: 1})
	s.add(Op{Kind: opLease, Key: "k1", TaskID: 1, Attempt: 2})
	s.add(Op{Kind: opComplete, Key: "k1", TaskID: 1, Attempt: 1, Outcome: outcomeFailed, Code: "stale_lease"})
	s.add(Op{Kind: opComplete, Key: "k1", TaskID: 1, Attempt: 2})
	s.add(Op{Kind: opComplete, Key: "k1", TaskID: 1, Attempt: 2})
	s.add(Op{Kind: opLease, Key: "k2", TaskID: 2, Attempt: 1})
	s.add(Op{Kind: opComplete, Key: "k2", TaskID: 2, Attempt: 1, Outcome: outcomeUnknown})
	s.add(Op{Kind: opRead, Key: "k1", TaskID: 1, Attempt: 2, Status: "completed"})
	s.add(Op{Kind: opRead, Key: "k2", TaskID: 2, Attempt: 1, Status: "completed"})
	final := map[int64]client.Task{
		1: {ID: 1, IdempotencyKey: "k1", Status: "completed", Attempt: 2},
		2: {ID: 2, IdempotencyKey: "k2", Status: "completed", Attempt: 1},
	}
	return s.ops, final
}

func TestCheckPassesAGoodHistory(t *testing.T) {
	ops, final := goodHistory()
	r := newCheckRun(t, ops)
	rep := r.check(ops[0].Start, ops[len(ops)-1].End, final, true, eventCheck{check: Check{Name: "event streams", Skipped: true}})
	if !rep.OK {
		t.Fatalf("good history failed: %+v", rep.Checks)
	}
	if rep.Counts.Redeliveries != 1 {
		t.Fatalf("redeliveries = %d, want 1", rep.Counts.Redeliveries)
	}
}

func TestCheckCatchesViolations(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(ops []Op, final map[int64]client.Task) []Op
		check  string
	}{
		{"stale completion accepted", func(ops []Op, _ map[int64]client.Task) []Op {
			ops[4].Outcome, ops[4].Code = outcomeOK, ""
			return ops
		}, "linearizability"},
		{"acknowledged task lost", func(ops []Op, final map[int64]client.Task) []Op {
			final[1] = client.Task{ID: 1, IdempotencyKey: "k1", Status: "running", Attempt: 2}
			return ops
		}, "lost"},
		{"completed twice", func(ops []Op, _ map[int64]client.Task) []Op {
			ops[4].Outcome, ops[4].Code = outcomeOK, ""
			return ops
		}, "duplicated"},
		{"phantom task", func(ops []Op, final map[int64]client.Task) []Op {
			final[3] = client.Task{ID: 3, IdempotencyKey: "nobody", Status: "completed", Attempt: 1}
			return ops
		}, "phantom"},
		{"key split over two tasks", func(ops []Op, _ map[int64]client.Task) []Op {
			ops[1].Outcome, ops[1].TaskID = outcomeOK, 2
			return append(ops, Op{Kind: opSubmit, Key: "k2", TaskID: 7, Outcome: outcomeOK, Start: ops[1].Start, End: ops[1].End})
		}, "idempotency"},
		{"idempotent repeat refused", func(ops []Op, _ map[int64]client.Task) []Op {
			ops[6].Outcome, ops[6].Code = outcomeFailed, "stale_lease"
			return ops
		}, "linearizability"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ops, final := goodHistory()
			ops = tt.mutate(ops, final)
			r := newCheckRun(t, ops)
			rep := r.check(ops[0].Start, ops[len(ops)-1].End, final, true, eventCheck{check: Check{Name: "event streams", Skipped: true}})
			if rep.OK {
				t.Fatal("a bad history passed")
			}
			if c := checkOf(rep, tt.check); c.Pass {
				t.Fatalf("check %s passed: %+v", tt.check, rep.Checks)
			}
			if tt.check == "linearizability" {
				if _, err := os.Stat(rep.Visualization); err != nil {
					t.Fatalf("no visualisation: %v", err)
				}
			}
		})
	}
}

func TestRecoveryUsesTheGrantTime(t *testing.T) {
	t0 := time.Unix(2000, 0)
	evs := []Event{{Kind: NemesisKill, LeaderLoss: true, Start: t0}}
	ops := []Op{
		// Granted before the kill, answered after it: not a recovery.
		{Kind: opLease, Grant: t0.Add(-time.Millisecond), Start: t0.Add(-time.Second), End: t0.Add(10 * time.Millisecond)},
		{Kind: opLease, Grant: t0.Add(1200 * time.Millisecond), Start: t0.Add(time.Second), End: t0.Add(1300 * time.Millisecond)},
	}
	rec := recovery(evs, ops)
	if rec.Count != 1 || rec.Max != 1300*time.Millisecond {
		t.Fatalf("recovery = %+v, want one of 1.3s", rec)
	}
}
