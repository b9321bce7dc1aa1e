package chaos

import (
	"errors"
	"sync"
	"time"

	"github.com/shepherd/shepherd/api/client"
)

// Kinds of recorded operations.
const (
	opSubmit   = "submit"
	opLease    = "lease"
	opComplete = "complete"
	opRead     = "read" // the final read of a task after healing
)

// Outcomes of a call.
const (
	outcomeOK      = "ok"
	outcomeFailed  = "failed"  // definitely not applied
	outcomeUnknown = "unknown" // may or may not have been applied
)

// Op is one recorded client call (or, for leases, one task a poll
// returned). Times are wall-clock.
type Op struct {
	Kind    string    `json:"kind"`
	Process string    `json:"process"`
	Key     string    `json:"key,omitempty"`
	TaskID  int64     `json:"task_id,omitempty"`
	Attempt int       `json:"attempt,omitempty"`
	Outcome string    `json:"outcome"`
	Code    string    `json:"code,omitempty"`
	Error   string    `json:"error,omitempty"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	// Existing: a submit answered with an earlier task of the same key.
	Existing bool `json:"existing,omitempty"`
	// Grant is when the leader granted a lease (its expiry minus the
	// task's timeout); Status is a final read's task status.
	Grant  time.Time `json:"grant,omitzero"`
	Status string    `json:"status,omitempty"`
}

// History is the run's operations, appended concurrently.
type History struct {
	mu  sync.Mutex
	ops []Op
}

func (h *History) add(op Op) {
	h.mu.Lock()
	h.ops = append(h.ops, op)
	h.mu.Unlock()
}

// Ops returns a copy of the operations recorded so far.
func (h *History) Ops() []Op {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Op(nil), h.ops...)
}

// classify turns a call's error into an outcome: a 4xx answer means the
// call was refused and changed nothing; anything else (5xx, connection
// errors, timeouts) leaves the outcome unknown.
func classify(err error) (outcome, code string) {
	if err == nil {
		return outcomeOK, ""
	}
	var ce *client.Error
	if errors.As(err, &ce) {
		if ce.Status >= 400 && ce.Status < 500 {
			return outcomeFailed, ce.Code
		}
		return outcomeUnknown, ce.Code
	}
	return outcomeUnknown, ""
}
