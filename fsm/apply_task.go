package fsm

import (
	"fmt"
	"time"
)

// Limits the FSM enforces itself, whatever the leader checked.
const (
	MaxNameLen    = 256
	MaxResultSize = 64 << 10
)

func validateSpec(sp TaskSpec) error {
	switch {
	case sp.Name == "":
		return fmt.Errorf("%w: name is required", ErrInvalid)
	case len(sp.Name) > MaxNameLen:
		return fmt.Errorf("%w: name longer than %d bytes", ErrInvalid, MaxNameLen)
	case sp.Queue == "":
		return fmt.Errorf("%w: queue is required", ErrInvalid)
	case sp.MaxAttempts < 1:
		return fmt.Errorf("%w: max_attempts must be at least 1", ErrInvalid)
	case sp.Timeout <= 0:
		return fmt.Errorf("%w: timeout must be positive", ErrInvalid)
	}
	return nil
}

func (f *FSM) applySubmit(index uint64, c Submit) Response {
	for i, sp := range c.Tasks {
		if err := validateSpec(sp); err != nil {
			return Response{Err: fmt.Errorf("task %d: %w", i, err)}
		}
	}
	resp := Response{Tasks: make([]Task, 0, len(c.Tasks)), Existing: make([]bool, 0, len(c.Tasks))}
	for _, sp := range c.Tasks {
		if id, ok := f.s.keys[sp.IdempotencyKey]; ok && sp.IdempotencyKey != "" {
			resp.Tasks = append(resp.Tasks, *f.s.tasks[id])
			resp.Existing = append(resp.Existing, true)
			continue
		}
		t := f.createTask(index, sp, c.Now)
		resp.Tasks = append(resp.Tasks, *t)
		resp.Existing = append(resp.Existing, false)
	}
	return resp
}

func (f *FSM) newTask(sp TaskSpec, now time.Time) *Task {
	t := &Task{
		ID: f.s.nextID, Name: sp.Name, Queue: sp.Queue, Description: sp.Description,
		Payload: sp.Payload, Priority: sp.Priority, Labels: sp.Labels, Status: StatusPending,
		MaxAttempts: sp.MaxAttempts, Timeout: sp.Timeout, RunAt: sp.RunAt,
		IdempotencyKey: sp.IdempotencyKey, CreatedAt: now, UpdatedAt: now,
		RetryBase: sp.RetryBase, RetryMax: sp.RetryMax, AffinityKey: sp.AffinityKey, Broadcast: sp.Broadcast,
		ScheduleID: sp.ScheduleID, ScheduleTick: sp.ScheduleTick,
	}
	f.s.nextID++
	if sp.RunAt.After(now) {
		t.Status = StatusScheduled
	}
	return t
}

func (f *FSM) applyLease(index uint64, c Lease) Response {
	w, ok := f.s.workers[c.WorkerID]
	if !ok {
		return Response{Err: fmt.Errorf("%w: worker %q", ErrNotFound, c.WorkerID)}
	}
	if w.Status != WorkerStatusReady {
		return Response{Err: fmt.Errorf("%w: worker %q is %s", ErrConflict, c.WorkerID, w.Status)}
	}
	resp := Response{Tasks: make([]Task, 0, len(c.TaskIDs))}
	for _, id := range c.TaskIDs {
		old, ok := f.s.tasks[id]
		if !ok || old.Status != StatusPending || !LabelsMatch(old.Labels, w.Labels) || !f.leasable(old, c.WorkerID) {
			continue // taken, canceled or not eligible since the leader chose it
		}
		expires := c.Now.Add(old.Timeout)
		if expires.Year() > maxYear {
			continue // a deadline JSON cannot encode would make every later snapshot fail
		}
		t := old.clone()
		t.Status, t.WorkerID, t.Attempt = StatusRunning, c.WorkerID, old.Attempt+1
		t.LeasedAt, t.LeaseExpiresAt, t.UpdatedAt = c.Now, expires, c.Now
		t.Progress, t.ProgressMessage, t.Error = 0, "", ""
		f.s.putTask(t)
		f.emit(index, "task.leased", c.Now, t, nil)
		resp.Tasks = append(resp.Tasks, *t)
	}
	return resp
}

// maxYear is the last year time.Time.MarshalJSON accepts; the snapshot
// stores times as JSON.
const maxYear = 9999

// reportedLease is currentLease for a worker's own report (complete, fail):
// the worker id is part of the fence, so an empty one is refused rather than
// read as "any worker".
func (f *FSM) reportedLease(taskID int64, workerID string, attempt int) (*Task, error) {
	if workerID == "" {
		return nil, fmt.Errorf("%w: worker_id is required", ErrInvalid)
	}
	return f.currentLease(taskID, workerID, attempt)
}

// currentLease returns the running task whose lease (worker, attempt) is
// the given one, or the rejection to answer. An empty workerID matches any
// worker (a requeue by the leader).
func (f *FSM) currentLease(taskID int64, workerID string, attempt int) (*Task, error) {
	t, ok := f.s.tasks[taskID]
	if !ok {
		return nil, fmt.Errorf("%w: task %d", ErrNotFound, taskID)
	}
	if t.Status != StatusRunning || t.Attempt != attempt || (workerID != "" && t.WorkerID != workerID) {
		return t, fmt.Errorf("%w: task %d is %s at attempt %d", ErrStaleLease, taskID, t.Status, t.Attempt)
	}
	return t, nil
}

func (f *FSM) applyComplete(index uint64, c Complete) Response {
	if len(c.Result) > MaxResultSize {
		return Response{Err: fmt.Errorf("%w: result of %d bytes exceeds %d", ErrInvalid, len(c.Result), MaxResultSize)}
	}
	old, err := f.reportedLease(c.TaskID, c.WorkerID, c.Attempt)
	if err != nil {
		if old != nil && old.Status == StatusCompleted && old.Attempt == c.Attempt && old.WorkerID == c.WorkerID {
			return Response{Tasks: []Task{*old}} // a repeated report of the same success
		}
		return Response{Err: err}
	}
	t := old.clone()
	t.Result, t.Error, t.Progress, t.UpdatedAt = c.Result, "", 1, c.Now
	f.finish(t, StatusCompleted, c.Now)
	f.s.putTask(t)
	f.emit(index, "task.completed", c.Now, t, nil)
	return Response{Tasks: []Task{*t}}
}

func (f *FSM) applyFail(index uint64, c Fail) Response {
	old, err := f.reportedLease(c.TaskID, c.WorkerID, c.Attempt)
	if err != nil {
		if old != nil && old.Attempt == c.Attempt && repeatedFailure(old.Status) {
			return Response{Tasks: []Task{*old}} // a repeated report of the same failure
		}
		return Response{Err: err}
	}
	t := old.clone()
	t.Error, t.UpdatedAt = c.Error, c.Now
	switch {
	case old.CancelRequested:
		f.finish(t, StatusCanceled, c.Now)
		f.s.putTask(t)
		f.emit(index, "task.canceled", c.Now, t, nil)
	case c.Retry && t.Attempt < t.MaxAttempts:
		f.backOff(t, c.RetryAt, c.Now)
		f.s.putTask(t)
		f.emit(index, "task.retrying", c.Now, t, nil)
	default:
		f.finish(t, StatusFailed, c.Now)
		f.s.putTask(t)
		f.emit(index, "task.failed", c.Now, t, nil)
	}
	return Response{Tasks: []Task{*t}}
}

// repeatedFailure reports whether a task no longer running at the reported
// attempt may have ended that attempt with a failure. A completed attempt
// did not fail: a fail for it is stale, not a repeat.
func repeatedFailure(s TaskStatus) bool {
	return s == StatusScheduled || s == StatusFailed || s == StatusCanceled
}

// backOff returns a task to the queue, scheduled for retryAt if that is
// still ahead.
func (f *FSM) backOff(t *Task, retryAt, now time.Time) {
	t.WorkerID, t.LeaseExpiresAt, t.LeasedAt = "", time.Time{}, time.Time{}
	t.Status, t.RunAt = StatusPending, retryAt
	if retryAt.After(now) {
		t.Status = StatusScheduled
	}
}

func (f *FSM) finish(t *Task, status TaskStatus, now time.Time) {
	t.Status, t.FinishedAt = status, now
	t.LeaseExpiresAt = time.Time{}
}

func (f *FSM) applyRequeue(index uint64, c Requeue) Response {
	resp := Response{}
	for _, l := range c.Leases {
		if t := f.requeueLease(index, l, c.Reason, c.Now); t != nil {
			resp.Tasks = append(resp.Tasks, *t)
		}
	}
	return resp
}

// requeueLease takes back one lease if it is still current: pending again
// while attempts remain, failed otherwise.
func (f *FSM) requeueLease(index uint64, l TaskAttempt, reason string, now time.Time) *Task {
	old, err := f.currentLease(l.TaskID, "", l.Attempt)
	if err != nil {
		return nil
	}
	t := old.clone()
	t.UpdatedAt, t.Error = now, reason
	switch {
	case old.CancelRequested:
		f.finish(t, StatusCanceled, now)
		f.s.putTask(t)
		f.emit(index, "task.canceled", now, t, nil)
	case t.Attempt >= t.MaxAttempts:
		f.finish(t, StatusFailed, now)
		f.s.putTask(t)
		f.emit(index, "task.failed", now, t, nil)
	default:
		f.backOff(t, now, now)
		f.s.putTask(t)
		f.events = append(f.events, Event{Index: index, Type: "task.requeued", Time: now, Task: t, Reason: reason})
	}
	return t
}

func (f *FSM) applyCancel(index uint64, c Cancel) Response {
	old, ok := f.s.tasks[c.TaskID]
	if !ok {
		return Response{Err: fmt.Errorf("%w: task %d", ErrNotFound, c.TaskID)}
	}
	if old.Status.Terminal() {
		return Response{Err: fmt.Errorf("%w: task %d is already %s", ErrConflict, c.TaskID, old.Status)}
	}
	if old.isParent() {
		return f.cancelParent(index, old, c.Now)
	}
	t := old.clone()
	t.UpdatedAt = c.Now
	if old.Status == StatusRunning {
		t.CancelRequested = true
		f.s.putTask(t)
		f.emit(index, "task.cancel_requested", c.Now, t, nil)
		return Response{Tasks: []Task{*t}}
	}
	f.finish(t, StatusCanceled, c.Now)
	f.s.putTask(t)
	f.emit(index, "task.canceled", c.Now, t, nil)
	return Response{Tasks: []Task{*t}}
}

// cancelParent cancels every unfinished child of a broadcast parent; the
// parent ends with them.
func (f *FSM) cancelParent(index uint64, parent *Task, now time.Time) Response {
	for _, id := range parent.Children {
		if c, ok := f.s.tasks[id]; ok && !c.Status.Terminal() && !c.CancelRequested {
			f.applyCancel(index, Cancel{Now: now, TaskID: id})
		}
	}
	f.settleParents(index)
	return Response{Tasks: []Task{*f.s.tasks[parent.ID]}}
}

func (f *FSM) applyPromote(index uint64, c Promote) Response {
	var due []int64
	f.s.scheduled.Ascend(func(k timedKey) bool {
		if k.at.After(c.Now) {
			return false
		}
		due = append(due, k.id)
		return true
	})
	resp := Response{Tasks: make([]Task, 0, len(due))}
	for _, id := range due {
		t := f.s.tasks[id].clone()
		t.Status, t.UpdatedAt = StatusPending, c.Now
		f.s.putTask(t)
		f.emit(index, "task.promoted", c.Now, t, nil)
		resp.Tasks = append(resp.Tasks, *t)
	}
	return resp
}
