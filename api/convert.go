package api

import (
	"strings"
	"time"

	"github.com/shepherd/shepherd/api/client"
	"github.com/shepherd/shepherd/fsm"
)

// Conversions from the fsm's and the Backend's types to the wire types of
// api/client. Times leave in UTC; slices leave as [] rather than null.

func toTask(t fsm.Task) client.Task {
	return client.Task{
		ID: t.ID, Name: t.Name, Queue: t.Queue, Description: t.Description, Payload: t.Payload,
		Priority: t.Priority, Labels: t.Labels, Status: string(t.Status), Attempt: t.Attempt,
		MaxAttempts: t.MaxAttempts, Timeout: formatDuration(t.Timeout), RunAt: timePtr(t.RunAt),
		WorkerID: t.WorkerID, LeaseExpiresAt: timePtr(t.LeaseExpiresAt), Progress: t.Progress,
		ProgressMessage: t.ProgressMessage, CancelRequested: t.CancelRequested, Result: t.Result,
		Error: t.Error, IdempotencyKey: t.IdempotencyKey,
		CreatedAt: t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC(),
		FinishedAt: timePtr(t.FinishedAt), RetryBackoff: toBackoff(t.RetryBase, t.RetryMax),
		AffinityKey: t.AffinityKey, Broadcast: t.Broadcast, Children: t.Children, ParentID: t.ParentID,
		PinnedWorker: t.PinnedWorker, ScheduleID: t.ScheduleID, ScheduleTick: timePtr(t.ScheduleTick),
	}
}

func toTasks(ts []fsm.Task) []client.Task {
	out := make([]client.Task, len(ts))
	for i, t := range ts {
		out[i] = toTask(t)
	}
	return out
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

func toServerInfo(s ServerStatus) client.ServerInfo {
	return client.ServerInfo{ID: s.ID, RaftAddr: s.RaftAddr, HTTPAddr: s.HTTPAddr, Suffrage: s.Suffrage, State: s.State}
}

func toClusterStatus(st ClusterStatus) client.ClusterStatus {
	out := client.ClusterStatus{
		Term: st.Term, CommitIndex: st.CommitIndex, AppliedIndex: st.AppliedIndex,
		Servers: make([]client.ServerInfo, len(st.Servers)),
	}
	if st.Leader != nil {
		l := toServerInfo(*st.Leader)
		out.Leader = &l
	}
	for i, s := range st.Servers {
		out.Servers[i] = toServerInfo(s)
	}
	return out
}

func toNodeInfo(n NodeInfo) client.NodeInfo {
	return client.NodeInfo{ID: n.ID, RaftAddr: n.RaftAddr, HTTPAddr: n.HTTPAddr, HasState: n.HasState, LeaderHTTP: n.LeaderHTTP}
}

func toRejections(rs []Rejection) []client.Rejection {
	if len(rs) == 0 {
		return nil
	}
	out := make([]client.Rejection, len(rs))
	for i, r := range rs {
		out[i] = client.Rejection{ID: r.TaskID, Code: codeOf(r.Err)}
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

// formatDuration writes a Go duration without trailing zero units: "5m"
// rather than "5m0s". time.ParseDuration reads both.
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
