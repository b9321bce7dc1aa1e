package cluster

import (
	"hash/fnv"
	"slices"
	"strings"

	"github.com/shepherd/shepherd/fsm"
)

// workerLoad is what the leader knows of a live worker's load from its
// latest heartbeat.
type workerLoad struct {
	cpu, memory float64
}

// dispatchPolicy orders the parked polls of eligible workers when tasks
// are pending, and picks the owner of affinity keys. It is used under the
// dispatcher's lock; refresh reads the FSM and liveness first, because the
// FSM must not be called back from inside a candidate scan.
type dispatchPolicy struct {
	name string
	fsm  *fsm.FSM
	live func() map[string]workerLoad

	workers []fsm.WorkerView      // ready, live workers in id order (refreshed)
	loads   map[string]workerLoad // by worker id (refreshed)
	last    string                // round-robin: last worker served
}

func newDispatchPolicy(name string, f *fsm.FSM, live func() map[string]workerLoad) *dispatchPolicy {
	if name == "" {
		name = DispatchLeastLoaded
	}
	return &dispatchPolicy{name: name, fsm: f, live: live}
}

// refresh snapshots the live ready workers and their loads.
func (p *dispatchPolicy) refresh() {
	p.loads = p.live()
	p.workers = p.workers[:0]
	for _, w := range p.fsm.Workers() {
		if _, alive := p.loads[w.ID]; alive && w.Status == fsm.WorkerStatusReady {
			p.workers = append(p.workers, w)
		}
	}
}

// utilisation is a worker's load in [0,1]: the mean of CPU, memory and
// running/capacity.
func (p *dispatchPolicy) utilisation(id string) float64 {
	i, ok := slices.BinarySearchFunc(p.workers, id, func(w fsm.WorkerView, id string) int { return strings.Compare(w.ID, id) })
	if !ok {
		return 1
	}
	w, l := p.workers[i], p.loads[id]
	return (l.cpu + l.memory + float64(len(w.Running))/float64(max(w.Capacity, 1))) / 3
}

// order returns the waiters in the order they are to be served.
func (p *dispatchPolicy) order(waiters []*waiter) []*waiter {
	out := slices.Clone(waiters)
	switch p.name {
	case DispatchRoundRobin:
		// By worker id, starting after the last worker served.
		slices.SortStableFunc(out, func(a, b *waiter) int {
			ka, kb := a.workerID <= p.last, b.workerID <= p.last
			if ka != kb {
				if ka {
					return 1
				}
				return -1
			}
			return strings.Compare(a.workerID, b.workerID)
		})
	default: // least-loaded, and affinity for tasks without a key
		util := make(map[string]float64, len(out))
		for _, w := range out {
			util[w.workerID] = p.utilisation(w.workerID)
		}
		slices.SortStableFunc(out, func(a, b *waiter) int {
			if ua, ub := util[a.workerID], util[b.workerID]; ua != ub {
				if ua < ub {
					return -1
				}
				return 1
			}
			return strings.Compare(a.workerID, b.workerID)
		})
	}
	return out
}

func (p *dispatchPolicy) served(workerID string) { p.last = workerID }

// affinityOwner returns a function naming the worker that owns a task's
// affinity key: among live ready workers whose labels the task matches,
// the one with the highest rendezvous hash of (key, worker). When the owner
// leaves, only its keys move. It is nil under other policies.
func (p *dispatchPolicy) affinityOwner() func(t *fsm.Task) string {
	if p.name != DispatchAffinity {
		return nil
	}
	return func(t *fsm.Task) string {
		best, bestScore := "", uint64(0)
		for _, w := range p.workers {
			if !fsm.LabelsMatch(t.Labels, w.Labels) {
				continue
			}
			h := fnv.New64a()
			h.Write([]byte(t.AffinityKey))
			h.Write([]byte{0})
			h.Write([]byte(w.ID))
			if s := h.Sum64(); best == "" || s > bestScore {
				best, bestScore = w.ID, s
			}
		}
		return best
	}
}
