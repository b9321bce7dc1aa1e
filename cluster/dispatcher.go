package cluster

import (
	"context"
	"sync"
	"time"

	"github.com/shepherd/shepherd/fsm"
)

// waiter is one parked long-poll.
type waiter struct {
	workerID string
	labels   map[string]string
	queues   []string
	max      int
	result   chan []fsm.Task // receives exactly once after the waiter is taken off the list
}

// dispatcher matches pending tasks to parked long-polls on the leader. It
// keeps no copy of the queue: candidates come from the FSM's ready index,
// and ids already proposed in a lease that has not committed yet are
// reserved so two polls never race for the same task. The FSM validates
// every lease again at apply time.
type dispatcher struct {
	n        *Node
	ctx      context.Context
	mu       sync.Mutex
	waiters  []*waiter
	reserved map[int64]string // reserved task id -> its queue
	queued   map[string]int   // reserved tasks per queue (count against limits)
	inflight sync.WaitGroup
	policy   *dispatchPolicy
}

func newDispatcher(n *Node, ctx context.Context, live func() map[string]workerLoad) *dispatcher {
	return &dispatcher{n: n, ctx: ctx, reserved: make(map[int64]string), queued: make(map[string]int),
		policy: newDispatchPolicy(n.cfg.Semantics.Dispatch, n.fsm, live)}
}

// reserve picks up to w.max tasks for w and reserves them.
func (d *dispatcher) reserve(w *waiter) []int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.policy.refresh()
	ids := d.reserveLocked(w)
	if len(ids) > 0 {
		d.policy.served(w.workerID)
	}
	return ids
}

func (d *dispatcher) reserveLocked(w *waiter) []int64 {
	owner := d.policy.affinityOwner()
	picked := make(map[int64]string)
	ids := d.n.fsm.Dispatchable(fsm.CandidateQuery{
		WorkerID: w.workerID, Queues: w.queues, Labels: w.labels, Max: w.max, InFlight: d.queued,
		Skip: func(t *fsm.Task) bool {
			if _, taken := d.reserved[t.ID]; taken {
				return true
			}
			if owner != nil && t.AffinityKey != "" && owner(t) != w.workerID {
				return true
			}
			picked[t.ID] = t.Queue
			return false
		},
	})
	for _, id := range ids {
		d.reserved[id] = picked[id]
		d.queued[picked[id]]++
	}
	return ids
}

func (d *dispatcher) release(ids []int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, id := range ids {
		if q, ok := d.reserved[id]; ok {
			delete(d.reserved, id)
			if d.queued[q]--; d.queued[q] <= 0 {
				delete(d.queued, q)
			}
		}
	}
}

// park adds w to the waiting list and nudges the dispatcher, in case tasks
// arrived between the caller's own attempt and now.
func (d *dispatcher) park(w *waiter) {
	d.mu.Lock()
	d.waiters = append(d.waiters, w)
	d.mu.Unlock()
	select {
	case d.n.wakeup <- struct{}{}:
	default:
	}
}

// unpark removes w if it is still waiting; false means a lease for it is
// in flight and its result will arrive.
func (d *dispatcher) unpark(w *waiter) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, x := range d.waiters {
		if x == w {
			d.waiters = append(d.waiters[:i], d.waiters[i+1:]...)
			return true
		}
	}
	return false
}

// assign serves every parked poll for which tasks are pending now. Leases
// are proposed concurrently so Raft commits them in one batch.
// Waiters are served in the order of the dispatch policy.
func (d *dispatcher) assign() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.waiters) == 0 {
		return
	}
	d.policy.refresh()
	served := make(map[*waiter]bool)
	for _, w := range d.policy.order(d.waiters) {
		ids := d.reserveLocked(w)
		if len(ids) == 0 {
			continue
		}
		served[w] = true
		d.policy.served(w.workerID)
		d.inflight.Add(1)
		go d.serve(w, ids)
	}
	kept := d.waiters[:0]
	for _, w := range d.waiters {
		if !served[w] {
			kept = append(kept, w)
		}
	}
	clear(d.waiters[len(kept):])
	d.waiters = kept
}

func (d *dispatcher) serve(w *waiter, ids []int64) {
	defer d.inflight.Done()
	now := time.Now().UTC()
	resp, err := d.n.applyChecked(d.ctx, fsm.Lease{Now: now, WorkerID: w.workerID, TaskIDs: ids})
	d.release(ids)
	if err != nil {
		d.n.logger.Debug("lease failed", "worker", w.workerID, "error", err)
		w.result <- nil
		return
	}
	w.result <- resp.Tasks
}

// close wakes every parked poll; they answer ErrNotLeader.
func (d *dispatcher) close() {
	d.inflight.Wait()
}

// runDispatcher assigns tasks whenever some became pending, and once a
// second in case a wake-up was coalesced away.
func (n *Node) runDispatcher(ctx context.Context, ls *leaderState) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.wakeup:
		case <-t.C:
		}
		ls.dispatcher.assign()
	}
}
