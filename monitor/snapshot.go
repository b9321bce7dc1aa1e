package monitor

import (
	"encoding/json"
	"time"

	"github.com/shepherd/shepherd/api/client"
	"github.com/shepherd/shepherd/api/wire"
)

// snapshotEvent is the state.snapshot message: the replica's state as of
// applied index Index. Live events after it have index > Index.
type snapshotEvent struct {
	Index   uint64                    `json:"index"`
	Type    string                    `json:"type"`
	Time    time.Time                 `json:"time"`
	Node    string                    `json:"node"`
	Counts  map[string]map[string]int `json:"counts"`
	Workers []client.Worker           `json:"workers"`
	Cluster *client.ClusterStatus     `json:"cluster"`
	// Recent holds, on a fresh connection, up to recentEvents of the
	// subscriber's events at or before Index, oldest first: history to
	// show, already reflected in Counts and Workers.
	Recent []json.RawMessage `json:"recent,omitempty"`
}

// recentEvents is how much history a fresh state.snapshot carries.
const recentEvents = 50

// resetEvent is the stream.reset message: events after Since are no longer
// all held; a state.snapshot follows.
type resetEvent struct {
	Type   string    `json:"type"`
	Time   time.Time `json:"time"`
	Node   string    `json:"node"`
	Since  uint64    `json:"since"`
	Oldest uint64    `json:"oldest"`
	Reason string    `json:"reason"`
}

// snapshot encodes a state.snapshot and returns the index it reflects.
// Counts and workers are read between two reads of the applied index and
// retried if an entry was applied in between, so they match that index.
// With history, it carries the last events opts selects up to that index.
func (h *Hub) snapshot(opts SubscribeOptions, history bool) ([]byte, uint64) {
	ev := snapshotEvent{Type: "state.snapshot", Time: time.Now().UTC(), Node: h.node}
	for range 5 {
		before := h.state.AppliedIndex()
		counts := h.state.Counts()
		workers := h.state.Workers()
		after := h.state.AppliedIndex()
		// Unstable after the last try: claim the earlier index, so the
		// client sees some events twice rather than misses one.
		ev.Index, ev.Counts, ev.Workers = before, toCounts(counts), wire.Workers(workers)
		if after == before {
			break
		}
	}
	if ns := h.status.Load(); ns != nil {
		cs := wire.ClusterStatus(ns.status)
		ev.Cluster = &cs
	}
	if history {
		for _, e := range h.ring.recent(recentEvents, ev.Index, opts.match) {
			ev.Recent = append(ev.Recent, e.encode(h.node))
		}
	}
	return mustJSON(ev), ev.Index
}

func (h *Hub) resetMessage(since, oldest uint64) []byte {
	return mustJSON(resetEvent{Type: "stream.reset", Time: time.Now().UTC(), Node: h.node, Since: since,
		Oldest: oldest, Reason: "events after since are no longer held; a state.snapshot follows"})
}
