package fsm

import (
	"slices"
	"time"
)

// CandidateQuery selects pending tasks a worker may lease now.
type CandidateQuery struct {
	// WorkerID is the leasing worker: broadcast children pinned to another
	// worker are skipped (and all of them when it is empty).
	WorkerID string
	Queues   []string
	Labels   map[string]string
	Max      int
	// InFlight counts, per queue, leases proposed but not applied yet; they
	// count against the queue's concurrency limit.
	InFlight map[string]int
	// Skip, when set, is asked about each otherwise eligible task, under
	// the FSM's read lock: it must not call the FSM nor modify the task.
	Skip func(t *Task) bool
}

// Dispatchable returns up to q.Max pending task ids from q.Queues, in
// queue order, then highest priority first and FIFO within a priority. A
// paused queue gives nothing; a queue with a concurrency limit gives at
// most the room left under it.
func (f *FSM) Dispatchable(q CandidateQuery) []int64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var out []int64
	for i, name := range q.Queues {
		if slices.Contains(q.Queues[:i], name) || len(out) >= q.Max {
			continue
		}
		tree := f.s.ready[name]
		settings := f.s.queues[name]
		if tree == nil || settings.Paused {
			continue
		}
		room := q.Max - len(out)
		if settings.MaxRunning > 0 {
			room = min(room, settings.MaxRunning-f.s.running[name]-q.InFlight[name])
		}
		taken := 0
		tree.Ascend(func(k readyKey) bool {
			if taken >= room {
				return false
			}
			t := f.s.tasks[k.id]
			if t.PinnedWorker != "" && t.PinnedWorker != q.WorkerID {
				return true
			}
			if LabelsMatch(t.Labels, q.Labels) && (q.Skip == nil || !q.Skip(t)) {
				out = append(out, k.id)
				taken++
			}
			return true
		})
	}
	return out
}

// Schedules lists every schedule in id order.
func (f *FSM) Schedules() []Schedule {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]Schedule, 0, len(f.s.schedules))
	for _, s := range f.s.schedules {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b Schedule) int { return compareStrings(a.ID, b.ID) })
	return out
}

// Schedule returns one schedule.
func (f *FSM) Schedule(id string) (Schedule, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	s, ok := f.s.schedules[id]
	if !ok {
		return Schedule{}, false
	}
	return *s, true
}

// QueueView is a queue's settings and its task counts by status.
type QueueView struct {
	QueueSettings
	Counts map[TaskStatus]int
}

// Queues lists every queue that holds tasks or has settings, by name.
func (f *FSM) Queues() []QueueView {
	f.mu.RLock()
	defer f.mu.RUnlock()
	names := make(map[string]struct{}, len(f.s.counts)+len(f.s.queues))
	for q := range f.s.counts {
		names[q] = struct{}{}
	}
	for q := range f.s.queues {
		names[q] = struct{}{}
	}
	out := make([]QueueView, 0, len(names))
	for name := range names {
		v := QueueView{QueueSettings: f.s.queues[name], Counts: map[TaskStatus]int{}}
		v.Name = name
		for st, n := range f.s.counts[name] {
			if n > 0 {
				v.Counts[st] = n
			}
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b QueueView) int { return compareStrings(a.Name, b.Name) })
	return out
}

// Queue returns a queue's settings (the zero settings for an unknown one).
func (f *FSM) Queue(name string) QueueSettings {
	f.mu.RLock()
	defer f.mu.RUnlock()
	q := f.s.queues[name]
	q.Name = name
	return q
}

// RunningIn is the number of leased tasks in a queue.
func (f *FSM) RunningIn(queue string) int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.s.running[queue]
}

// FinishedBefore lists up to max tasks that finished at or before t,
// oldest first.
func (f *FSM) FinishedBefore(t time.Time, max int) []int64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var out []int64
	f.s.finished.Ascend(func(k timedKey) bool {
		if k.at.After(t) || len(out) >= max {
			return false
		}
		out = append(out, k.id)
		return true
	})
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
