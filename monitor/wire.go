package monitor

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/shepherd/shepherd/api/client"
	"github.com/shepherd/shepherd/api/wire"
	"github.com/shepherd/shepherd/fsm"
)

// entry is one replicated event as the ring holds it. The *fsm.Task and
// *fsm.Worker are the FSM's copy-on-write records, never mutated after the
// entry is made, so holding the pointers is a copy.
type entry struct {
	index   uint64
	typ     string
	time    time.Time
	task    *fsm.Task
	worker  *fsm.Worker
	running []int64
	server  *fsm.Server
	reason  string

	once sync.Once
	data []byte
}

// wireEvent is the JSON of a replicated event (API.md, "Monitoring").
type wireEvent struct {
	Index  uint64             `json:"index"`
	Type   string             `json:"type"`
	Time   *time.Time         `json:"time,omitempty"`
	Node   string             `json:"node"`
	Task   *client.Task       `json:"task,omitempty"`
	Worker *client.Worker     `json:"worker,omitempty"`
	Server *client.ServerInfo `json:"server,omitempty"`
	Reason string             `json:"reason,omitempty"`
}

// encode returns the entry's JSON, encoding it on first use. Every
// subscriber shares the same bytes.
func (e *entry) encode(node string) []byte {
	e.once.Do(func() {
		w := wireEvent{Index: e.index, Type: e.typ, Time: wire.TimePtr(e.time), Node: node, Reason: e.reason}
		if e.task != nil {
			t := wire.Task(*e.task)
			w.Task = &t
		}
		if e.worker != nil {
			wk := wire.Worker(*e.worker, e.running)
			w.Worker = &wk
		}
		if e.server != nil {
			w.Server = &client.ServerInfo{ID: e.server.ID, RaftAddr: e.server.RaftAddr, HTTPAddr: e.server.HTTPAddr}
		}
		e.data = mustJSON(w)
	})
	return e.data
}

// mustJSON marshals values built from plain types only; a failure is a bug.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("monitor: encode event: " + err.Error())
	}
	return b
}

// toCounts turns the FSM's counts into {queue: {status: n}}.
func toCounts(c map[string]map[fsm.TaskStatus]int) map[string]map[string]int {
	out := make(map[string]map[string]int, len(c))
	for q, by := range c {
		m := make(map[string]int, len(by))
		for st, n := range by {
			m[string(st)] = n
		}
		out[q] = m
	}
	return out
}
