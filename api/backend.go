package api

import (
	"context"
	"io"

	"github.com/shepherd/shepherd/cluster"
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

	// Operations (leader only): see handle_membership.go, handle_backup.go.
	JoinNonvoter(ctx context.Context, id, raftAddr, httpAddr string) error
	RemoveServer(ctx context.Context, id string, force bool) error
	TransferLeadership(ctx context.Context, id string) (newLeader string, err error)
	OpenBackup(ctx context.Context) (*Backup, error)
	Restore(ctx context.Context, r io.Reader) (BackupInfo, error)

	// Task semantics (leader only): see handle_semantics.go.
	Retry(ctx context.Context, taskID int64, attempts int) (fsm.Task, error)
	PutSchedule(ctx context.Context, s fsm.Schedule) (fsm.Schedule, error)
	DeleteSchedule(ctx context.Context, id string) (fsm.Schedule, error)
	PauseSchedule(ctx context.Context, id string, paused bool) (fsm.Schedule, error)
	SetQueue(ctx context.Context, queue string, paused *bool, maxRunning *int) (fsm.QueueSettings, error)
	RemoveWorker(ctx context.Context, workerID string) error
}

// Errors a Backend returns beyond the fsm's business rejections
// (fsm.ErrNotFound, fsm.ErrStaleLease, fsm.ErrInvalid, fsm.ErrConflict).
// They are cluster's errors: the server maps them with errors.Is.
var (
	ErrNotLeader = cluster.ErrNotLeader
	// ErrNoLeader: no leader is known; retry later.
	ErrNoLeader = cluster.ErrNoLeader
	// ErrLeadershipLost: the outcome of a write is unknown; retry with the
	// same idempotency key.
	ErrLeadershipLost = cluster.ErrLeadershipLost
	// ErrTimeout: the write did not commit in time; outcome unknown.
	ErrTimeout = cluster.ErrTimeout
	// ErrShutdown: the master is shutting down.
	ErrShutdown = cluster.ErrShutdown
)

// The request and answer types are cluster's own; api converts the wire
// JSON (api/client types) to and from them.
type (
	NodeInfo           = cluster.NodeInfo
	ServerStatus       = cluster.ServerStatus
	ClusterStatus      = cluster.ClusterStatus
	Completion         = cluster.Completion
	Failure            = cluster.Failure
	WorkerRegistration = cluster.WorkerRegistration
	Heartbeat          = cluster.Heartbeat
	HeartbeatAnswer    = cluster.HeartbeatAnswer
	PollRequest        = cluster.PollRequest
	PollResult         = cluster.PollResult
	Rejection          = cluster.Rejection
)

var _ Backend = (*cluster.Node)(nil)
