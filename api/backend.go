package api

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/shepherd/shepherd/fsm"
)

// Backend is what the HTTP edge needs from a master. cluster.Node
// implements it; tests use a fake. Leader-only methods return ErrNotLeader
// on a follower (the server redirects before calling them) and
// ErrNoLeader/ErrLeadershipLost/ErrTimeout as the cluster reports them.
type Backend interface {
	// NodeID is this master's id.
	NodeID() string
	// Self describes this master for start-up discovery.
	Self() NodeInfo
	// Leader returns the leader's id and HTTP address, if one is known.
	Leader() (id, httpAddr string, ok bool)
	// IsLeader reports whether this master leads now.
	IsLeader() bool
	// VerifyLeader confirms leadership with a quorum (for consistent reads).
	VerifyLeader(ctx context.Context) error
	// Ready reports whether the node knows a leader and has applied the log
	// up to the last commit index it heard of.
	Ready() bool
	// State is the local replica, for reads.
	State() *fsm.FSM
	// Status describes the cluster as this master sees it.
	Status() ClusterStatus

	Submit(ctx context.Context, specs []fsm.TaskSpec) (tasks []fsm.Task, existing []bool, err error)
	Cancel(ctx context.Context, taskID int64) (fsm.Task, error)
	Complete(ctx context.Context, workerID string, c Completion) (fsm.Task, error)
	Fail(ctx context.Context, workerID string, f Failure) (fsm.Task, error)
	RegisterWorker(ctx context.Context, w WorkerRegistration) (fsm.Worker, error)
	Heartbeat(ctx context.Context, workerID string, hb Heartbeat) (HeartbeatAnswer, error)
	Poll(ctx context.Context, workerID string, p PollRequest) (PollResult, error)
	Drain(ctx context.Context, workerID string) (fsm.Worker, error)
	Join(ctx context.Context, id, raftAddr, httpAddr string) error
}

// Errors a Backend returns beyond the fsm's business rejections
// (fsm.ErrNotFound, fsm.ErrStaleLease, fsm.ErrInvalid, fsm.ErrConflict).
var (
	ErrNotLeader = errors.New("not the leader")
	// ErrNoLeader: no leader is known; retry later.
	ErrNoLeader = errors.New("no leader")
	// ErrLeadershipLost: the outcome of a write is unknown; retry with the
	// same idempotency key.
	ErrLeadershipLost = errors.New("leadership lost, outcome unknown")
	// ErrTimeout: the write did not commit in time; outcome unknown.
	ErrTimeout = errors.New("timed out")
)

// NodeInfo describes a master for discovery at start-up.
type NodeInfo struct {
	ID, RaftAddr, HTTPAddr string
	HasState               bool
	LeaderHTTP             string
}

// ServerStatus is one master in ClusterStatus.
type ServerStatus struct {
	ID, RaftAddr, HTTPAddr string
	Suffrage               string // "voter" | "nonvoter"
	State                  string // "leader" | "follower" | "candidate" | "unknown"
}

// ClusterStatus is GET /v1/cluster.
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

// WorkerRegistration is POST /v1/workers.
type WorkerRegistration struct {
	ID, Address string
	Labels      map[string]string
	Capacity    int
}

// Heartbeat is one worker heartbeat.
type Heartbeat struct {
	CPU, Memory float64
	Running     []int64
	Progress    map[int64]float64
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
