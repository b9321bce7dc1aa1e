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

	schedules    map[string]*Schedule
	nextSchedule int64
	queues       map[string]QueueSettings
	finished     *btree.BTreeG[timedKey]       // terminal tasks by finish time
	pinned       map[string]map[int64]struct{} // live broadcast children by worker
	running      map[string]int                // leased tasks by queue (parents excluded)
	tokens       tokenTable                    // API tokens by id and hash (tokens.go)
	// settle lists parents whose children changed state in the entry
	// being applied; not replicated, drained by settleParents.
	settle []int64
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
		schedules: make(map[string]*Schedule),
		queues:    make(map[string]QueueSettings),
		finished:  btree.NewG(32, lessTimed),
		pinned:    make(map[string]map[int64]struct{}),
		running:   make(map[string]int),
	}
}

// putTask stores t in place of the task with its id, keeping every index
// in step. t must be a fresh copy (copy-on-write).
func (s *state) putTask(t *Task) {
	old, ok := s.tasks[t.ID]
	if ok {
		s.unindex(old)
	}
	s.tasks[t.ID] = t
	s.index(t)
	if t.ParentID != 0 && (!ok || old.Status.Terminal() != t.Status.Terminal()) {
		s.settle = append(s.settle, t.ParentID)
	}
}

// deleteTask removes a task and its idempotency key (retention GC).
func (s *state) deleteTask(t *Task) {
	s.unindex(t)
	delete(s.tasks, t.ID)
	if t.IdempotencyKey != "" && s.keys[t.IdempotencyKey] == t.ID {
		delete(s.keys, t.IdempotencyKey)
	}
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
	if t.Status.Terminal() {
		s.finished.ReplaceOrInsert(timedKey{t.FinishedAt, t.ID})
	} else if t.PinnedWorker != "" {
		setAdd(s.pinned, t.PinnedWorker, t.ID)
	}
	switch {
	case t.isParent():
		// never queued or leased itself
	case t.Status == StatusPending:
		s.readyQueue(t.Queue).ReplaceOrInsert(readyKey{t.Priority, t.ID})
	case t.Status == StatusScheduled:
		s.scheduled.ReplaceOrInsert(timedKey{t.RunAt, t.ID})
	case t.Status == StatusRunning:
		s.running[t.Queue]++
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
	if t.Status.Terminal() {
		s.finished.Delete(timedKey{t.FinishedAt, t.ID})
	} else if t.PinnedWorker != "" {
		setDel(s.pinned, t.PinnedWorker, t.ID)
	}
	switch {
	case t.isParent():
	case t.Status == StatusPending:
		s.readyQueue(t.Queue).Delete(readyKey{t.Priority, t.ID})
	case t.Status == StatusScheduled:
		s.scheduled.Delete(timedKey{t.RunAt, t.ID})
	case t.Status == StatusRunning:
		s.running[t.Queue]--
		if s.running[t.Queue] == 0 {
			delete(s.running, t.Queue)
		}
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

func setAdd(m map[string]map[int64]struct{}, k string, id int64) {
	ids := m[k]
	if ids == nil {
		ids = make(map[int64]struct{})
		m[k] = ids
	}
	ids[id] = struct{}{}
}

func setDel(m map[string]map[int64]struct{}, k string, id int64) {
	if ids := m[k]; ids != nil {
		delete(ids, id)
		if len(ids) == 0 {
			delete(m, k)
		}
	}
}

// idsOf lists the ids of a set in id order.
func idsOf(set map[int64]struct{}) []int64 {
	ids := make([]int64, 0, len(set))
	for id := range set {
		ids = append(ids, id)
	}
	sortIDs(ids)
	return ids
}
