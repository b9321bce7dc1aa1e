package chaos

import (
	"fmt"
	"time"

	"github.com/anishathalye/porcupine"
)

// The per-task lifecycle model checked with porcupine. One partition per
// idempotency key (one task per key): absent -> pending (submit) ->
// leased(attempt) -> done(attempt). Leases only move to a higher attempt
// (a lease whose poll answer was lost is invisible, so a gap is allowed);
// a completion is accepted only for the current attempt, and once done
// only the same attempt is accepted again (idempotent). A call whose
// outcome is unknown may or may not have taken effect. The final read
// after healing must agree with the state.

type lcInput struct {
	Kind    string
	TaskID  int64
	Attempt int
}

type lcOutput struct {
	Outcome string
	TaskID  int64
	Status  string // final read
	Attempt int    // final read
}

type lcState struct {
	Exists      bool
	ID          int64 // 0 while only an unknown submit created it
	Attempt     int
	Done        bool
	DoneAttempt int
}

func sameTask(s lcState, id int64) bool { return s.ID == 0 || s.ID == id }

func lcStep(st any, in any, out any) []any {
	s, i, o := st.(lcState), in.(lcInput), out.(lcOutput)
	switch i.Kind {
	case opSubmit:
		switch {
		case o.Outcome == outcomeFailed:
			return []any{s}
		case o.Outcome == outcomeUnknown && s.Exists:
			return []any{s}
		case o.Outcome == outcomeUnknown:
			return []any{s, lcState{Exists: true}}
		case !s.Exists || sameTask(s, o.TaskID):
			s.Exists, s.ID = true, o.TaskID
			return []any{s}
		}
	case opLease:
		if s.Exists && !s.Done && i.Attempt > s.Attempt && sameTask(s, i.TaskID) {
			s.Attempt, s.ID = i.Attempt, i.TaskID
			return []any{s}
		}
	case opComplete:
		current := s.Exists && !s.Done && i.Attempt == s.Attempt && sameTask(s, i.TaskID)
		repeat := s.Done && s.DoneAttempt == i.Attempt
		done := s
		done.Done, done.DoneAttempt = true, i.Attempt
		switch o.Outcome {
		case outcomeOK:
			if current {
				return []any{done}
			}
			if repeat {
				return []any{s}
			}
		case outcomeFailed:
			if !repeat {
				return []any{s}
			}
		case outcomeUnknown:
			if current {
				return []any{s, done}
			}
			return []any{s}
		}
	case opRead:
		if !s.Exists || !sameTask(s, i.TaskID) {
			return nil
		}
		if s.Done && o.Status == "completed" && o.Attempt == s.DoneAttempt {
			return []any{s}
		}
		if !s.Done && o.Status != "completed" && o.Attempt >= s.Attempt {
			return []any{s}
		}
	}
	return nil
}

var lifecycleModel = porcupine.NondeterministicModel{
	Init: func() []any { return []any{lcState{}} },
	Step: lcStep,
	Equal: func(a, b any) bool {
		return a.(lcState) == b.(lcState)
	},
	DescribeOperation: func(in, out any) string {
		i, o := in.(lcInput), out.(lcOutput)
		switch i.Kind {
		case opSubmit:
			return fmt.Sprintf("submit -> %s #%d", o.Outcome, o.TaskID)
		case opRead:
			return fmt.Sprintf("read #%d -> %s attempt %d", i.TaskID, o.Status, o.Attempt)
		}
		return fmt.Sprintf("%s #%d attempt %d -> %s", i.Kind, i.TaskID, i.Attempt, o.Outcome)
	},
	DescribeState: func(st any) string {
		s := st.(lcState)
		switch {
		case !s.Exists:
			return "absent"
		case s.Done:
			return fmt.Sprintf("#%d done(%d)", s.ID, s.DoneAttempt)
		case s.Attempt > 0:
			return fmt.Sprintf("#%d leased(%d)", s.ID, s.Attempt)
		}
		return fmt.Sprintf("#%d pending", s.ID)
	},
}

// toPorcupine converts the history: one partition per key. Calls whose
// outcome is unknown get a return time after everything else, so they may
// take effect at any point after their call.
func toPorcupine(ops []Op, keyOf map[int64]string) ([]porcupine.Operation, porcupine.Model) {
	var last time.Time
	for _, op := range ops {
		if op.End.After(last) {
			last = op.End
		}
	}
	never := last.Add(time.Hour).UnixNano()
	byKey := map[string][]int{}
	var hist []porcupine.Operation
	for _, op := range ops {
		key := op.Key
		if key == "" {
			key = keyOf[op.TaskID]
		}
		if key == "" {
			continue // a phantom: reported by its own check
		}
		ret := op.End.UnixNano()
		if op.Outcome == outcomeUnknown {
			ret = never
		}
		if ret <= op.Start.UnixNano() {
			ret = op.Start.UnixNano() + 1
		}
		byKey[key] = append(byKey[key], len(hist))
		hist = append(hist, porcupine.Operation{
			ClientId: len(byKey[key]) - 1,
			Input:    lcInput{Kind: op.Kind, TaskID: op.TaskID, Attempt: op.Attempt},
			Call:     op.Start.UnixNano(),
			Output:   lcOutput{Outcome: op.Outcome, TaskID: op.TaskID, Status: op.Status, Attempt: op.Attempt},
			Return:   ret,
		})
	}
	m := lifecycleModel.ToModel()
	m.Partition = func(h []porcupine.Operation) [][]porcupine.Operation {
		out := make([][]porcupine.Operation, 0, len(byKey))
		for _, idx := range byKey {
			part := make([]porcupine.Operation, len(idx))
			for i, j := range idx {
				part[i] = h[j]
			}
			out = append(out, part)
		}
		return out
	}
	return hist, m
}
