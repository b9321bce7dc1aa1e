package cluster

import (
	"encoding/json"
	"time"

	"github.com/shepherd/shepherd/fsm"
)

// NodeInfo describes a master for discovery at start-up.
type NodeInfo struct {
	ID, RaftAddr, HTTPAddr string
	// HasState is true once the node belongs to a cluster.
	HasState bool
	// LeaderHTTP is the leader's HTTP address when known.
	LeaderHTTP string
	// NonVoter asks to join as a read replica.
	NonVoter bool
}

// ServerStatus is one master as ClusterStatus lists it.
type ServerStatus struct {
	ID, RaftAddr, HTTPAddr string
	Suffrage               string // "voter" | "nonvoter"
	State                  string // "leader" | "follower" | "candidate" | "unknown"
}

// ClusterStatus describes the cluster as one master sees it.
type ClusterStatus struct {
	Leader       *ServerStatus
	Term         uint64
	CommitIndex  uint64
	AppliedIndex uint64
	Servers      []ServerStatus
}

// Completion reports a successful attempt.
type Completion struct {
	TaskID  int64
	Attempt int
	Result  json.RawMessage
}

// Failure reports a failed attempt.
type Failure struct {
	TaskID  int64
	Attempt int
	Error   string
	Retry   bool
}

// WorkerRegistration registers or re-registers a worker.
type WorkerRegistration struct {
	ID, Address string
	Labels      map[string]string
	Capacity    int
	// With ReportsRunning, Running lists the tasks the worker still runs;
	// it keeps those whose leases are still valid, the rest are requeued.
	ReportsRunning bool
	Running        []int64
}

// Heartbeat is one worker heartbeat.
type Heartbeat struct {
	CPU, Memory float64
	Running     []int64
	Progress    map[int64]float64
	// Messages are short progress messages by task.
	Messages map[int64]string
	// Extend lists running tasks whose leases to renew for their timeout.
	Extend []int64
}

// HeartbeatAnswer tells the worker what to stop and when to beat again.
type HeartbeatAnswer struct {
	Cancel   []int64
	Interval time.Duration
}

// PollRequest is a long-poll: results of earlier leases, applied first,
// then up to Max new leases from Queues, waiting up to Wait for one.
type PollRequest struct {
	Max       int
	Wait      time.Duration
	Queues    []string
	Completed []Completion
	Failed    []Failure
}

// PollResult lists new leases and the reports the leader refused.
type PollResult struct {
	Tasks    []fsm.Task
	Rejected []Rejection
}

// Rejection is a refused report: the task id and the error.
type Rejection struct {
	TaskID int64
	Err    error
}
