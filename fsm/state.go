package fsm

import (
	"time"

	"github.com/google/btree"
)

// readyKey orders a queue's pending tasks: higher priority first, then
// submission order (ids increase with submission). The priority is kept as
// is and compared in reverse: negating it would overflow for math.MinInt.
type readyKey struct {
	priority int
	id       int64
}

func lessReady(a, b readyKey) bool {
	if a.priority != b.priority {
		return a.priority > b.priority
	}
	return a.id < b.id
}

// timedKey orders tasks by a deadline, then id.
type timedKey struct {
	at time.Time
	id int64
}

func lessTimed(a, b timedKey) bool {
	if !a.at.Equal(b.at) {
		return a.at.Before(b.at)
	}
	return a.id < b.id
}

// state is the replicated data plus the indexes derived from it. Indexes
// are never snapshotted: Restore rebuilds them.
type state struct {
	nextID  int64
	tasks   map[int64]*Task
	workers map[string]*Worker
	servers map[string]Server

	keys      map[string]int64
	ready     map[string]*btree.BTreeG[readyKey]
	scheduled *btree.BTreeG[timedKey]
	leases    *btree.BTreeG[timedKey] // running tasks by lease expiry
	byWorker  map[string]map[int64]struct{}
	counts    map[string]map[TaskStatus]int // queue -> status -> n
}

func newState() *state {
	return &state{
		nextID:    1,
		tasks:     make(map[int64]*Task),
		workers:   make(map[string]*Worker),
		servers:   make(map[string]Server),
		keys:      make(map[string]int64),
		ready:     make(map[string]*btree.BTreeG[readyKey]),
		scheduled: btree.NewG(32, lessTimed),
		leases:    btree.NewG(32, lessTimed),
		byWorker:  make(map[string]map[int64]struct{}),
		counts:    make(map[string]map[TaskStatus]int),
	}
}

// putTask stores t in place of the task with its id, keeping every index
// in step. t must be a fresh copy (copy-on-write).
func (s *state) putTask(t *Task) {
	if old, ok := s.tasks[t.ID]; ok {
		s.unindex(old)
	}
	s.tasks[t.ID] = t
	s.index(t)
}

func (s *state) index(t *Task) {
	byStatus := s.counts[t.Queue]
	if byStatus == nil {
		byStatus = make(map[TaskStatus]int)
		s.counts[t.Queue] = byStatus
	}
	byStatus[t.Status]++
	if t.IdempotencyKey != "" {
		s.keys[t.IdempotencyKey] = t.ID
	}
	switch t.Status {
	case StatusPending:
		s.readyQueue(t.Queue).ReplaceOrInsert(readyKey{t.Priority, t.ID})
	case StatusScheduled:
		s.scheduled.ReplaceOrInsert(timedKey{t.RunAt, t.ID})
	case StatusRunning:
		s.leases.ReplaceOrInsert(timedKey{t.LeaseExpiresAt, t.ID})
		ids := s.byWorker[t.WorkerID]
		if ids == nil {
			ids = make(map[int64]struct{})
			s.byWorker[t.WorkerID] = ids
		}
		ids[t.ID] = struct{}{}
	}
}

func (s *state) unindex(t *Task) {
	s.counts[t.Queue][t.Status]--
	switch t.Status {
	case StatusPending:
		s.readyQueue(t.Queue).Delete(readyKey{t.Priority, t.ID})
	case StatusScheduled:
		s.scheduled.Delete(timedKey{t.RunAt, t.ID})
	case StatusRunning:
		s.leases.Delete(timedKey{t.LeaseExpiresAt, t.ID})
		if ids := s.byWorker[t.WorkerID]; ids != nil {
			delete(ids, t.ID)
			if len(ids) == 0 {
				delete(s.byWorker, t.WorkerID)
			}
		}
	}
}

func (s *state) readyQueue(queue string) *btree.BTreeG[readyKey] {
	q := s.ready[queue]
	if q == nil {
		q = btree.NewG(32, lessReady)
		s.ready[queue] = q
	}
	return q
}

// runningOf lists the ids of the tasks leased to a worker, in id order.
func (s *state) runningOf(workerID string) []int64 {
	ids := make([]int64, 0, len(s.byWorker[workerID]))
	for id := range s.byWorker[workerID] {
		ids = append(ids, id)
	}
	sortIDs(ids)
	return ids
}
