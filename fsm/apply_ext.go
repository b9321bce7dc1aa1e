package fsm

import (
	"fmt"
	"slices"
	"time"
)

// MaxProgressMessage bounds a task's progress message.
const MaxProgressMessage = 256

// createTask stores a new task from a validated spec and emits its
// events. A broadcast spec becomes a parent plus one child per ready
// worker whose labels match, pinned to that worker, in worker id order; with
// no such worker the parent fails at once.
func (f *FSM) createTask(index uint64, sp TaskSpec, now time.Time) *Task {
	t := f.newTask(sp, now)
	if !sp.Broadcast {
		f.s.putTask(t)
		f.emit(index, "task.submitted", now, t, nil)
		return t
	}
	var targets []string
	for _, id := range sortedWorkerIDs(f.s.workers) {
		if w := f.s.workers[id]; w.Status == WorkerStatusReady && LabelsMatch(sp.Labels, w.Labels) {
			targets = append(targets, id)
		}
	}
	t.Status = StatusRunning
	if len(targets) == 0 {
		t.Error = "broadcast: no eligible worker"
		f.finish(t, StatusFailed, now)
	}
	for i := range targets {
		t.Children = append(t.Children, t.ID+1+int64(i))
	}
	f.s.putTask(t)
	f.emit(index, "task.submitted", now, t, nil)
	if len(targets) == 0 {
		f.emit(index, "task.failed", now, t, nil)
	}
	for _, w := range targets {
		csp := sp
		csp.Broadcast, csp.IdempotencyKey = false, ""
		c := f.newTask(csp, now)
		c.ParentID, c.PinnedWorker = t.ID, w
		f.s.putTask(c)
		f.emit(index, "task.submitted", now, c, nil)
	}
	f.s.settle = slices.DeleteFunc(f.s.settle, func(id int64) bool { return id == t.ID })
	return t
}

func sortedWorkerIDs(ws map[string]*Worker) []string {
	ids := make([]string, 0, len(ws))
	for id := range ws {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// leasable applies the queue's pause and concurrency limit and a broadcast
// child's pinning to a lease of t to workerID.
func (f *FSM) leasable(t *Task, workerID string) bool {
	if t.PinnedWorker != "" && t.PinnedWorker != workerID {
		return false
	}
	q := f.s.queues[t.Queue]
	if q.Paused {
		return false
	}
	return q.MaxRunning <= 0 || f.s.running[t.Queue] < q.MaxRunning
}

// settleParents brings every broadcast parent whose children changed in
// this entry in line with them: running while any child is not finished,
// then completed (all completed), failed (any failed) or canceled.
func (f *FSM) settleParents(index uint64) {
	for len(f.s.settle) > 0 {
		pid := f.s.settle[0]
		f.s.settle = f.s.settle[1:]
		if slices.Contains(f.s.settle, pid) {
			continue // settled once, at its last mention
		}
		f.settleParent(index, pid)
	}
}

func (f *FSM) settleParent(index uint64, pid int64) {
	old, ok := f.s.tasks[pid]
	if !ok || !old.isParent() {
		return
	}
	var done, failed, canceled int
	var now time.Time
	for _, id := range old.Children {
		c, ok := f.s.tasks[id]
		if !ok { // purged: it had finished
			done++
			continue
		}
		if c.UpdatedAt.After(now) {
			now = c.UpdatedAt
		}
		if c.Status.Terminal() {
			done++
		}
		switch c.Status {
		case StatusFailed:
			failed++
		case StatusCanceled:
			canceled++
		}
	}
	status := StatusRunning
	switch {
	case done < len(old.Children):
	case failed > 0:
		status = StatusFailed
	case canceled > 0:
		status = StatusCanceled
	default:
		status = StatusCompleted
	}
	progress := float64(done) / float64(max(len(old.Children), 1))
	if status == old.Status && progress == old.Progress {
		return
	}
	t := old.clone()
	t.Progress, t.UpdatedAt, t.Status, t.Error = progress, now, status, ""
	t.FinishedAt = time.Time{}
	switch status {
	case StatusRunning:
		f.s.putTask(t)
		f.emit(index, "task.progress", now, t, nil)
		return
	case StatusFailed:
		t.Error = fmt.Sprintf("%d of %d children failed", failed, len(old.Children))
	}
	f.finish(t, status, now)
	f.s.putTask(t)
	f.emit(index, "task."+string(status), now, t, nil)
}

func (f *FSM) applyRetry(index uint64, c Retry) Response {
	old, ok := f.s.tasks[c.TaskID]
	switch {
	case !ok:
		return Response{Err: fmt.Errorf("%w: task %d", ErrNotFound, c.TaskID)}
	case c.Attempts < 1:
		return Response{Err: fmt.Errorf("%w: attempts must be at least 1", ErrInvalid)}
	case old.isParent():
		return Response{Err: fmt.Errorf("%w: task %d is a broadcast parent; retry its children", ErrConflict, c.TaskID)}
	case old.Status != StatusFailed && old.Status != StatusCanceled:
		return Response{Err: fmt.Errorf("%w: task %d is %s, only failed or canceled tasks can be retried", ErrConflict, c.TaskID, old.Status)}
	}
	t := old.clone()
	t.Status, t.RunAt, t.UpdatedAt, t.FinishedAt = StatusPending, c.Now, c.Now, time.Time{}
	t.MaxAttempts = t.Attempt + c.Attempts
	t.CancelRequested, t.Result, t.WorkerID = false, nil, ""
	f.s.putTask(t)
	f.emit(index, "task.retried", c.Now, t, nil)
	return Response{Tasks: []Task{*t}}
}

func (f *FSM) applySetQueue(index uint64, c SetQueue) Response {
	if c.Queue == "" {
		return Response{Err: fmt.Errorf("%w: queue name is required", ErrInvalid)}
	}
	if c.MaxRunning != nil && *c.MaxRunning < 0 {
		return Response{Err: fmt.Errorf("%w: max_running must not be negative", ErrInvalid)}
	}
	q := f.s.queues[c.Queue]
	q.Name, q.UpdatedAt = c.Queue, c.Now
	if c.Paused != nil {
		q.Paused = *c.Paused
	}
	if c.MaxRunning != nil {
		q.MaxRunning = *c.MaxRunning
	}
	f.s.queues[c.Queue] = q
	typ := "queue.updated"
	if c.Paused != nil {
		typ = map[bool]string{true: "queue.paused", false: "queue.resumed"}[*c.Paused]
	}
	f.events = append(f.events, Event{Index: index, Type: typ, Time: c.Now, Queue: &q})
	return Response{}
}

func (f *FSM) applyPurge(index uint64, c Purge) Response {
	resp := Response{}
	for _, id := range c.TaskIDs {
		t, ok := f.s.tasks[id]
		if !ok || !t.Status.Terminal() || t.FinishedAt.After(c.Before) {
			continue
		}
		f.s.deleteTask(t)
		f.emit(index, "task.purged", c.Now, t, nil)
		resp.Tasks = append(resp.Tasks, Task{ID: t.ID, Status: t.Status})
	}
	return resp
}

func (f *FSM) applyExtendLeases(index uint64, c ExtendLeases) Response {
	if c.WorkerID == "" {
		return Response{Err: fmt.Errorf("%w: worker_id is required", ErrInvalid)}
	}
	resp := Response{}
	for _, l := range c.Leases {
		old, err := f.currentLease(l.TaskID, c.WorkerID, l.Attempt)
		if err != nil {
			continue
		}
		expires := c.Now.Add(old.Timeout)
		if !expires.After(old.LeaseExpiresAt) || expires.Year() > maxYear {
			continue
		}
		t := old.clone()
		t.LeaseExpiresAt = expires
		f.s.putTask(t)
		f.emit(index, "task.lease_extended", c.Now, t, nil)
		resp.Tasks = append(resp.Tasks, *t)
	}
	return resp
}

func (f *FSM) applyRemoveWorker(index uint64, c RemoveWorker) Response {
	old, ok := f.s.workers[c.WorkerID]
	if !ok {
		return Response{Err: fmt.Errorf("%w: worker %q", ErrNotFound, c.WorkerID)}
	}
	if n := len(f.s.byWorker[c.WorkerID]); n > 0 {
		return Response{Err: fmt.Errorf("%w: worker %q still runs %d tasks; drain it first", ErrConflict, c.WorkerID, n)}
	}
	delete(f.s.workers, c.WorkerID)
	f.emit(index, "worker.removed", c.Now, nil, old)
	f.failPinned(index, c.WorkerID, "worker "+c.WorkerID+" left", c.Now)
	return Response{}
}

// failPinned ends the unfinished broadcast children pinned to a worker
// that is gone: no other worker may run them.
func (f *FSM) failPinned(index uint64, workerID, reason string, now time.Time) {
	for _, id := range idsOf(f.s.pinned[workerID]) {
		t := f.s.tasks[id].clone()
		t.Error, t.UpdatedAt, t.WorkerID = reason, now, ""
		t.CancelRequested = false
		f.finish(t, StatusFailed, now)
		f.s.putTask(t)
		f.emit(index, "task.failed", now, t, nil)
	}
}

// keepOwnLeases requeues the leases of a re-registering worker that it no
// longer runs or whose lease has expired.
func (f *FSM) keepOwnLeases(index uint64, c RegisterWorker) {
	for _, id := range f.s.runningOf(c.ID) {
		t := f.s.tasks[id]
		reason := ""
		switch {
		case !slices.Contains(c.Running, id):
			reason = "worker " + c.ID + " re-registered without it"
		case t.LeaseExpiresAt.Before(c.Now):
			reason = "lease expired before worker " + c.ID + " re-registered"
		default:
			continue
		}
		f.requeueLease(index, TaskAttempt{TaskID: id, Attempt: t.Attempt}, reason, c.Now)
	}
}
