package fsm

import "time"

// Read-side methods. They take the read lock and return copies, so callers
// may keep the results.

// Task returns a task by id.
func (f *FSM) Task(id int64) (Task, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	t, ok := f.s.tasks[id]
	if !ok {
		return Task{}, false
	}
	return *t, true
}

// TaskFilter selects tasks in ListTasks; empty fields match everything.
type TaskFilter struct {
	Status   TaskStatus
	Queue    string
	Name     string
	WorkerID string
}

func (flt TaskFilter) match(t *Task) bool {
	return (flt.Status == "" || t.Status == flt.Status) && (flt.Queue == "" || t.Queue == flt.Queue) &&
		(flt.Name == "" || t.Name == flt.Name) && (flt.WorkerID == "" || t.WorkerID == flt.WorkerID)
}

// ListTasks returns up to limit matching tasks with ids above after, in id
// order, and the id to pass as after for the next page (0 at the end). A
// limit below 1 returns no tasks; a negative after counts as 0.
func (f *FSM) ListTasks(flt TaskFilter, after int64, limit int) ([]Task, int64) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	// Clamp before after+1: a client's after near MinInt64 or MaxInt64
	// would otherwise make the loop below run for ages.
	if limit < 1 || after >= f.s.nextID {
		return []Task{}, 0
	}
	after = max(after, 0)
	out := make([]Task, 0, min(limit, 64))
	for id := after + 1; id < f.s.nextID; id++ {
		t, ok := f.s.tasks[id]
		if !ok || !flt.match(t) {
			continue
		}
		if len(out) == limit {
			return out, out[len(out)-1].ID
		}
		out = append(out, *t)
	}
	return out, 0
}

// Worker returns a worker and the ids of the tasks leased to it.
func (f *FSM) Worker(id string) (Worker, []int64, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	w, ok := f.s.workers[id]
	if !ok {
		return Worker{}, nil, false
	}
	return *w, f.s.runningOf(id), true
}

// WorkerView is a worker with its running task ids.
type WorkerView struct {
	Worker
	Running []int64
}

// Workers lists every known worker in id order.
func (f *FSM) Workers() []WorkerView {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]WorkerView, 0, len(f.s.workers))
	for _, w := range f.s.workers {
		out = append(out, WorkerView{Worker: *w, Running: f.s.runningOf(w.ID)})
	}
	sortWorkers(out)
	return out
}

// Servers lists the known masters' addresses.
func (f *FSM) Servers() map[string]Server {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make(map[string]Server, len(f.s.servers))
	for id, s := range f.s.servers {
		out[id] = s
	}
	return out
}

// Candidates returns up to max pending task ids from the named queues that
// a worker with the given labels may run, highest priority first and FIFO
// within a priority, skipping ids for which skip returns true.
func (f *FSM) Candidates(queues []string, labels map[string]string, max int, skip func(int64) bool) []int64 {
	q := CandidateQuery{Queues: queues, Labels: labels, Max: max}
	if skip != nil {
		q.Skip = func(t *Task) bool { return skip(t.ID) }
	}
	return f.Dispatchable(q)
}

// ExpiredLeases lists running tasks whose lease ended before now.
func (f *FSM) ExpiredLeases(now time.Time) []TaskAttempt {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var out []TaskAttempt
	f.s.leases.Ascend(func(k timedKey) bool {
		if !k.at.Before(now) {
			return false
		}
		out = append(out, TaskAttempt{TaskID: k.id, Attempt: f.s.tasks[k.id].Attempt})
		return true
	})
	return out
}

// Leases lists the current leases of a worker with the time each began.
func (f *FSM) Leases(workerID string) []Task {
	f.mu.RLock()
	defer f.mu.RUnlock()
	ids := f.s.runningOf(workerID)
	out := make([]Task, 0, len(ids))
	for _, id := range ids {
		out = append(out, *f.s.tasks[id])
	}
	return out
}

// CancelRequested lists a worker's running tasks marked for cancellation.
func (f *FSM) CancelRequested(workerID string) []int64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var out []int64
	for _, id := range f.s.runningOf(workerID) {
		if f.s.tasks[id].CancelRequested {
			out = append(out, id)
		}
	}
	return out
}

// NextRunAt is the earliest run time among scheduled tasks.
func (f *FSM) NextRunAt() (time.Time, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	k, ok := f.s.scheduled.Min()
	return k.at, ok
}

// Counts returns task counts by queue and status.
func (f *FSM) Counts() map[string]map[TaskStatus]int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make(map[string]map[TaskStatus]int, len(f.s.counts))
	for q, byStatus := range f.s.counts {
		m := make(map[TaskStatus]int, len(byStatus))
		for st, n := range byStatus {
			if n > 0 {
				m[st] = n
			}
		}
		out[q] = m
	}
	return out
}

// PendingCount is the number of pending tasks over all queues.
func (f *FSM) PendingCount() int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	n := 0
	for _, tree := range f.s.ready {
		n += tree.Len()
	}
	return n
}

func sortWorkers(ws []WorkerView) {
	for i := 1; i < len(ws); i++ {
		for j := i; j > 0 && ws[j].ID < ws[j-1].ID; j-- {
			ws[j], ws[j-1] = ws[j-1], ws[j]
		}
	}
}
