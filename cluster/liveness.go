package cluster

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/shepherd/shepherd/fsm"
)

// beat is the latest heartbeat of one worker, kept in memory on the leader.
type beat struct {
	at       time.Time
	cpu      float64
	memory   float64
	progress map[int64]float64
	messages map[int64]string
	dirty    bool // not yet replicated in a stats batch
}

// liveness tracks worker heartbeats on the leader. Only transitions
// (worker down) and periodic stats batches reach the log.
type liveness struct {
	mu    sync.Mutex
	beats map[string]*beat
}

func newLiveness() *liveness { return &liveness{beats: make(map[string]*beat)} }

// reset gives every worker that is not down a fresh TTL from now: a new
// leader never expires a worker on the old leader's account.
func (l *liveness) reset(workers []fsm.WorkerView, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, w := range workers {
		if w.Status != fsm.WorkerStatusDown {
			l.beats[w.ID] = &beat{at: now}
		}
	}
}

func (l *liveness) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.beats)
}

// touch records a sign of life without statistics (registration, poll).
func (l *liveness) touch(id string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b := l.beats[id]; b != nil {
		b.at = now
		return
	}
	l.beats[id] = &beat{at: now}
}

func (l *liveness) record(id string, now time.Time, hb Heartbeat) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.beats[id] = &beat{at: now, cpu: hb.CPU, memory: hb.Memory, progress: hb.Progress, messages: hb.Messages, dirty: true}
}

// loads returns the latest load of every worker the leader considers live.
func (l *liveness) loads() map[string]workerLoad {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]workerLoad, len(l.beats))
	for id, b := range l.beats {
		out[id] = workerLoad{cpu: b.cpu, memory: b.memory}
	}
	return out
}

// expired lists workers silent for longer than ttl and forgets them.
func (l *liveness) expired(now time.Time, ttl time.Duration) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for id, b := range l.beats {
		if now.Sub(b.at) > ttl {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

func (l *liveness) forget(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.beats, id)
}

// drainStats returns the heartbeats not yet replicated.
func (l *liveness) drainStats() []fsm.WorkerStat {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []fsm.WorkerStat
	for id, b := range l.beats {
		if !b.dirty {
			continue
		}
		b.dirty = false
		out = append(out, fsm.WorkerStat{WorkerID: id, CPU: b.cpu, Memory: b.memory, SeenAt: b.at,
			Progress: b.progress, Messages: b.messages})
	}
	slices.SortFunc(out, func(a, b fsm.WorkerStat) int {
		if a.WorkerID < b.WorkerID {
			return -1
		}
		return 1
	})
	return out
}

// runTTL marks workers down whose heartbeats stopped for the TTL.
func (n *Node) runTTL(ctx context.Context, ls *leaderState) {
	every(ctx, n.cfg.HeartbeatTTL/4, func(now time.Time) {
		for _, id := range ls.liveness.expired(now, n.cfg.HeartbeatTTL) {
			w, _, ok := n.fsm.Worker(id)
			if !ok || w.Status == fsm.WorkerStatusDown {
				ls.liveness.forget(id)
				continue
			}
			n.logger.Warn("worker missed heartbeats, marking down", "worker", id)
			_, err := n.applyChecked(ctx, fsm.WorkerDown{Now: now, WorkerID: id, Reason: "heartbeat ttl expired"})
			if err != nil {
				n.logger.Warn("could not mark worker down", "worker", id, "error", err)
				continue
			}
			ls.liveness.forget(id)
		}
	})
}

// runStats replicates heartbeat statistics and progress in one batch.
func (n *Node) runStats(ctx context.Context, ls *leaderState) {
	every(ctx, n.cfg.StatsInterval, func(now time.Time) {
		stats := ls.liveness.drainStats()
		if len(stats) == 0 {
			return
		}
		if _, err := n.Apply(ctx, fsm.WorkerStats{Now: now, Stats: stats}); err != nil {
			n.logger.Debug("could not replicate worker stats", "error", err)
		}
	})
}
