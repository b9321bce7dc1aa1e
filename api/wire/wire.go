// Package wire converts the replicated state's types (fsm, cluster) into
// the JSON types of the wire contract (api/client). The HTTP API and the
// monitoring stream both use it, so a task looks the same in a GET answer
// and in an event. Times leave in UTC; zero times leave as null; lists
// leave as [] rather than null.
package wire

import (
	"strings"
	"time"

	"github.com/shepherd/shepherd/api/client"
	"github.com/shepherd/shepherd/cluster"
	"github.com/shepherd/shepherd/fsm"
)

// Task converts a task.
func Task(t fsm.Task) client.Task {
	return client.Task{
		ID: t.ID, Name: t.Name, Queue: t.Queue, Description: t.Description, Payload: t.Payload,
		Priority: t.Priority, Labels: t.Labels, Status: string(t.Status), Attempt: t.Attempt,
		MaxAttempts: t.MaxAttempts, Timeout: Duration(t.Timeout), RunAt: TimePtr(t.RunAt),
		WorkerID: t.WorkerID, LeaseExpiresAt: TimePtr(t.LeaseExpiresAt), Progress: t.Progress,
		ProgressMessage: t.ProgressMessage, CancelRequested: t.CancelRequested, Result: t.Result,
		Error: t.Error, IdempotencyKey: t.IdempotencyKey,
		CreatedAt: t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC(),
		FinishedAt: TimePtr(t.FinishedAt), RetryBackoff: Backoff(t.RetryBase, t.RetryMax),
		AffinityKey: t.AffinityKey, Broadcast: t.Broadcast, Children: t.Children, ParentID: t.ParentID,
		PinnedWorker: t.PinnedWorker, ScheduleID: t.ScheduleID, ScheduleTick: TimePtr(t.ScheduleTick),
	}
}

// Tasks converts a list of tasks.
func Tasks(ts []fsm.Task) []client.Task {
	out := make([]client.Task, len(ts))
	for i, t := range ts {
		out[i] = Task(t)
	}
	return out
}

// Worker converts a worker and the ids of the tasks it runs.
func Worker(w fsm.Worker, running []int64) client.Worker {
	if running == nil {
		running = []int64{}
	}
	return client.Worker{
		ID: w.ID, Address: w.Address, Labels: w.Labels, Capacity: w.Capacity,
		Status: string(w.Status), Running: running, CPU: w.CPU, Memory: w.Memory,
		RegisteredAt: w.RegisteredAt.UTC(), LastSeenAt: w.LastSeenAt.UTC(),
	}
}

// Workers converts a list of workers.
func Workers(ws []fsm.WorkerView) []client.Worker {
	out := make([]client.Worker, len(ws))
	for i, w := range ws {
		out[i] = Worker(w.Worker, w.Running)
	}
	return out
}

// ServerInfo converts one master of a cluster status.
func ServerInfo(s cluster.ServerStatus) client.ServerInfo {
	return client.ServerInfo{ID: s.ID, RaftAddr: s.RaftAddr, HTTPAddr: s.HTTPAddr, Suffrage: s.Suffrage, State: s.State}
}

// ClusterStatus converts a cluster status.
func ClusterStatus(st cluster.ClusterStatus) client.ClusterStatus {
	out := client.ClusterStatus{Term: st.Term, CommitIndex: st.CommitIndex, AppliedIndex: st.AppliedIndex,
		Servers: make([]client.ServerInfo, len(st.Servers))}
	if st.Leader != nil {
		l := ServerInfo(*st.Leader)
		out.Leader = &l
	}
	for i, s := range st.Servers {
		out.Servers[i] = ServerInfo(s)
	}
	return out
}

// Backoff converts a task's retry backoff; nil when it uses the defaults.
func Backoff(base, max time.Duration) *client.RetryBackoff {
	if base == 0 && max == 0 {
		return nil
	}
	b := &client.RetryBackoff{}
	if base > 0 {
		b.Base = Duration(base)
	}
	if max > 0 {
		b.Max = Duration(max)
	}
	return b
}

// TimePtr is nil for the zero time, else the time in UTC.
func TimePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// Duration writes a Go duration without trailing zero units: "5m" rather
// than "5m0s". time.ParseDuration reads both.
func Duration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
