package client

import (
	"encoding/json"
	"time"
)

// Task is a task as the wire contract (API.md, "Tasks") shows it.
type Task struct {
	ID              int64             `json:"id"`
	Name            string            `json:"name"`
	Queue           string            `json:"queue"`
	Description     string            `json:"description,omitempty"`
	Payload         json.RawMessage   `json:"payload,omitempty"`
	Priority        int               `json:"priority"`
	Labels          map[string]string `json:"labels,omitempty"`
	Status          string            `json:"status"`
	Attempt         int               `json:"attempt"`
	MaxAttempts     int               `json:"max_attempts"`
	Timeout         string            `json:"timeout"`
	RunAt           *time.Time        `json:"run_at,omitempty"`
	WorkerID        string            `json:"worker_id"`
	LeaseExpiresAt  *time.Time        `json:"lease_expires_at"`
	Progress        float64           `json:"progress"`
	ProgressMessage string            `json:"progress_message,omitempty"`
	CancelRequested bool              `json:"cancel_requested,omitempty"`
	Result          json.RawMessage   `json:"result"`
	Error           string            `json:"error"`
	IdempotencyKey  string            `json:"idempotency_key"`
	CreatedAt       time.Time         `json:"created_at"`
	UpdatedAt       time.Time         `json:"updated_at"`
	// Task semantics extensions (types_ext.go).
	FinishedAt   *time.Time    `json:"finished_at,omitempty"`
	RetryBackoff *RetryBackoff `json:"retry_backoff,omitempty"`
	AffinityKey  string        `json:"affinity_key,omitempty"`
	Broadcast    bool          `json:"broadcast,omitempty"`
	Children     []int64       `json:"children,omitempty"`
	ParentID     int64         `json:"parent_id,omitempty"`
	PinnedWorker string        `json:"pinned_worker,omitempty"`
	ScheduleID   string        `json:"schedule_id,omitempty"`
	ScheduleTick *time.Time    `json:"schedule_tick,omitempty"`
}

// TimeoutDuration parses Timeout; zero when it is empty or malformed.
func (t Task) TimeoutDuration() time.Duration {
	d, _ := time.ParseDuration(t.Timeout)
	return d
}

// SubmitRequest is the body of POST /v1/tasks and one element of a batch.
type SubmitRequest struct {
	Name           string            `json:"name"`
	Queue          string            `json:"queue,omitempty"`
	Description    string            `json:"description,omitempty"`
	Payload        json.RawMessage   `json:"payload,omitempty"`
	Priority       int               `json:"priority,omitempty"`
	Labels         map[string]string `json:"labels,omitempty"`
	MaxAttempts    int               `json:"max_attempts,omitempty"`
	Timeout        string            `json:"timeout,omitempty"`
	RunAt          *time.Time        `json:"run_at,omitempty"`
	Delay          string            `json:"delay,omitempty"`
	IdempotencyKey string            `json:"idempotency_key,omitempty"`
	RetryBackoff   *RetryBackoff     `json:"retry_backoff,omitempty"`
	AffinityKey    string            `json:"affinity_key,omitempty"`
	Broadcast      bool              `json:"broadcast,omitempty"`
}

// BatchSubmitRequest is the body of POST /v1/tasks/batch.
type BatchSubmitRequest struct {
	Tasks []SubmitRequest `json:"tasks"`
}

// TaskList is the answer of GET /v1/tasks and POST /v1/tasks/batch.
type TaskList struct {
	Tasks []Task `json:"tasks"`
	Next  int64  `json:"next,omitempty"`
}

// Worker is a worker as the wire contract (API.md, "Workers") shows it.
type Worker struct {
	ID           string            `json:"id"`
	Address      string            `json:"address"`
	Labels       map[string]string `json:"labels,omitempty"`
	Capacity     int               `json:"capacity"`
	Status       string            `json:"status"`
	Running      []int64           `json:"running"`
	CPU          float64           `json:"cpu"`
	Memory       float64           `json:"memory"`
	RegisteredAt time.Time         `json:"registered_at"`
	LastSeenAt   time.Time         `json:"last_seen_at"`
}

// WorkerList is the answer of GET /v1/workers.
type WorkerList struct {
	Workers []Worker `json:"workers"`
}

// RegisterRequest is the body of POST /v1/workers.
type RegisterRequest struct {
	ID       string            `json:"id"`
	Address  string            `json:"address,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	Capacity int               `json:"capacity,omitempty"`
	// Running lists the tasks a re-registering worker still runs: it keeps
	// those whose leases are still valid, the rest are requeued. Absent or
	// null: not reported, nothing is taken back.
	Running []int64 `json:"running"`
}

// HeartbeatRequest is the body of POST /v1/workers/{id}/heartbeat.
// Progress maps a task id (decimal string) to a fraction in [0,1].
type HeartbeatRequest struct {
	CPU      float64            `json:"cpu"`
	Memory   float64            `json:"memory"`
	Running  []int64            `json:"running"`
	Progress map[string]float64 `json:"progress,omitempty"`
	// ProgressMessage maps a task id to a short message (at most 256 bytes).
	ProgressMessage map[string]string `json:"progress_message,omitempty"`
	// Extend lists running tasks whose leases to renew for their timeout.
	Extend []int64 `json:"extend,omitempty"`
}

// HeartbeatResponse tells the worker which tasks to stop and how often to beat.
type HeartbeatResponse struct {
	Cancel            []int64 `json:"cancel"`
	HeartbeatInterval string  `json:"heartbeat_interval"`
}

// Completion reports a successful attempt, inside a poll or on its own.
type Completion struct {
	ID      int64           `json:"id"`
	Attempt int             `json:"attempt"`
	Result  json.RawMessage `json:"result,omitempty"`
}

// Failure reports a failed attempt, inside a poll or on its own.
type Failure struct {
	ID      int64  `json:"id"`
	Attempt int    `json:"attempt"`
	Error   string `json:"error"`
	Retry   bool   `json:"retry"`
}

// PollRequest is the body of POST /v1/workers/{id}/poll.
type PollRequest struct {
	Max       int          `json:"max,omitempty"`
	Wait      string       `json:"wait,omitempty"`
	Queues    []string     `json:"queues,omitempty"`
	Completed []Completion `json:"completed,omitempty"`
	Failed    []Failure    `json:"failed,omitempty"`
}

// Rejection names a reported result the leader refused, with its error code.
type Rejection struct {
	ID   int64  `json:"id"`
	Code string `json:"code"`
}

// PollResponse is the answer of a poll: new leases and refused reports.
type PollResponse struct {
	Tasks    []Task      `json:"tasks"`
	Rejected []Rejection `json:"rejected,omitempty"`
}

// CompleteRequest is the body of POST /v1/tasks/{id}/complete.
type CompleteRequest struct {
	WorkerID string          `json:"worker_id"`
	Attempt  int             `json:"attempt"`
	Result   json.RawMessage `json:"result,omitempty"`
}

// FailRequest is the body of POST /v1/tasks/{id}/fail.
type FailRequest struct {
	WorkerID string `json:"worker_id"`
	Attempt  int    `json:"attempt"`
	Error    string `json:"error"`
	Retry    bool   `json:"retry"`
}

// ServerInfo names one master.
type ServerInfo struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
	Suffrage string `json:"suffrage,omitempty"`
	State    string `json:"state,omitempty"`
}

// ClusterStatus is the answer of GET /v1/cluster.
type ClusterStatus struct {
	Leader       *ServerInfo  `json:"leader"`
	Term         uint64       `json:"term"`
	CommitIndex  uint64       `json:"commit_index"`
	AppliedIndex uint64       `json:"applied_index"`
	Servers      []ServerInfo `json:"servers"`
}

// NodeInfo is the answer of GET /v1/cluster/self, used by masters to find
// each other at start-up (an extension of API.md).
type NodeInfo struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
	// HasState is true when the node already belongs to a cluster (it has
	// Raft state on disk or has bootstrapped).
	HasState bool `json:"has_state"`
	// LeaderHTTP is the leader's HTTP address when the node knows one.
	LeaderHTTP string `json:"leader_http,omitempty"`
}

// JoinRequest is the body of POST /v1/cluster/join.
type JoinRequest struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
	// Suffrage is "voter" (the default) or "nonvoter" (a read replica).
	Suffrage string `json:"suffrage,omitempty"`
}

// ErrorBody is the error shape of every non-2xx answer.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail carries the contract's error code and a readable message.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}
