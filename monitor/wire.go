package monitor

import (
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/shepherd/shepherd/api/client"
	"github.com/shepherd/shepherd/cluster"
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
		w := wireEvent{Index: e.index, Type: e.typ, Time: timePtr(e.time), Node: node, Reason: e.reason}
		if e.task != nil {
			t := toTask(*e.task)
			w.Task = &t
		}
		if e.worker != nil {
			wk := toWorker(*e.worker, e.running)
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

func toTask(t fsm.Task) client.Task {
	return client.Task{
		ID: t.ID, Name: t.Name, Queue: t.Queue, Description: t.Description, Payload: t.Payload,
		Priority: t.Priority, Labels: t.Labels, Status: string(t.Status), Attempt: t.Attempt,
		MaxAttempts: t.MaxAttempts, Timeout: formatDuration(t.Timeout), RunAt: timePtr(t.RunAt),
		WorkerID: t.WorkerID, LeaseExpiresAt: timePtr(t.LeaseExpiresAt), Progress: t.Progress,
		ProgressMessage: t.ProgressMessage, CancelRequested: t.CancelRequested, Result: t.Result,
		Error: t.Error, IdempotencyKey: t.IdempotencyKey,
		CreatedAt: t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC(),
	}
}

func toWorker(w fsm.Worker, running []int64) client.Worker {
	if running == nil {
		running = []int64{}
	}
	return client.Worker{
		ID: w.ID, Address: w.Address, Labels: w.Labels, Capacity: w.Capacity,
		Status: string(w.Status), Running: running, CPU: w.CPU, Memory: w.Memory,
		RegisteredAt: w.RegisteredAt.UTC(), LastSeenAt: w.LastSeenAt.UTC(),
	}
}

func toWorkers(ws []fsm.WorkerView) []client.Worker {
	out := make([]client.Worker, len(ws))
	for i, w := range ws {
		out[i] = toWorker(w.Worker, w.Running)
	}
	return out
}

func toClusterStatus(st cluster.ClusterStatus) client.ClusterStatus {
	conv := func(s cluster.ServerStatus) client.ServerInfo {
		return client.ServerInfo{ID: s.ID, RaftAddr: s.RaftAddr, HTTPAddr: s.HTTPAddr, Suffrage: s.Suffrage, State: s.State}
	}
	out := client.ClusterStatus{Term: st.Term, CommitIndex: st.CommitIndex, AppliedIndex: st.AppliedIndex,
		Servers: make([]client.ServerInfo, len(st.Servers))}
	if st.Leader != nil {
		l := conv(*st.Leader)
		out.Leader = &l
	}
	for i, s := range st.Servers {
		out.Servers[i] = conv(s)
	}
	return out
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

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// formatDuration writes "5m" rather than "5m0s", as the API does.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
