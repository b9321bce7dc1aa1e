package fsm

import (
	"encoding/json"
	"time"
)

// TaskStatus is a task's place in its lifecycle.
type TaskStatus string

// The task lifecycle (API.md "Tasks").
const (
	StatusScheduled TaskStatus = "scheduled"
	StatusPending   TaskStatus = "pending"
	StatusRunning   TaskStatus = "running"
	StatusCompleted TaskStatus = "completed"
	StatusFailed    TaskStatus = "failed"
	StatusCanceled  TaskStatus = "canceled"
)

// Terminal reports whether no further transition leaves s.
func (s TaskStatus) Terminal() bool {
	return s == StatusCompleted || s == StatusFailed || s == StatusCanceled
}

// AllTaskStatuses lists every status in lifecycle order.
var AllTaskStatuses = []TaskStatus{StatusScheduled, StatusPending, StatusRunning,
	StatusCompleted, StatusFailed, StatusCanceled}

// Task is one unit of work. A *Task stored in the state is never mutated:
// changes replace it with a copy (copy-on-write), so readers may keep it.
type Task struct {
	ID              int64             `json:"id"`
	Name            string            `json:"name"`
	Queue           string            `json:"queue"`
	Description     string            `json:"description,omitempty"`
	Payload         json.RawMessage   `json:"payload,omitempty"`
	Priority        int               `json:"priority"`
	Labels          map[string]string `json:"labels,omitempty"`
	Status          TaskStatus        `json:"status"`
	Attempt         int               `json:"attempt"`
	MaxAttempts     int               `json:"max_attempts"`
	Timeout         time.Duration     `json:"timeout"`
	RunAt           time.Time         `json:"run_at"`
	WorkerID        string            `json:"worker_id,omitempty"`
	LeasedAt        time.Time         `json:"leased_at"`
	LeaseExpiresAt  time.Time         `json:"lease_expires_at"`
	Progress        float64           `json:"progress,omitempty"`
	ProgressMessage string            `json:"progress_message,omitempty"`
	CancelRequested bool              `json:"cancel_requested,omitempty"`
	Result          json.RawMessage   `json:"result,omitempty"`
	Error           string            `json:"error,omitempty"`
	IdempotencyKey  string            `json:"idempotency_key,omitempty"`
	CreatedAt       time.Time         `json:"created_at"`
	UpdatedAt       time.Time         `json:"updated_at"`
	FinishedAt      time.Time         `json:"finished_at"`

	// Retry backoff of this task; zero takes the leader's defaults.
	RetryBase time.Duration `json:"retry_base,omitempty"`
	RetryMax  time.Duration `json:"retry_max,omitempty"`
	// AffinityKey sends tasks with the same key to the same live worker
	// under the affinity dispatch policy.
	AffinityKey string `json:"affinity_key,omitempty"`
	// Broadcast marks a parent task: it runs nowhere itself, its Children
	// (one per eligible worker, pinned to it) do. It is running while any
	// child is, then ends completed, failed or canceled with them.
	Broadcast bool    `json:"broadcast,omitempty"`
	Children  []int64 `json:"children,omitempty"`
	// ParentID and PinnedWorker mark a broadcast child.
	ParentID     int64  `json:"parent_id,omitempty"`
	PinnedWorker string `json:"pinned_worker,omitempty"`
	// ScheduleID and ScheduleTick name the schedule tick that created the task.
	ScheduleID   string    `json:"schedule_id,omitempty"`
	ScheduleTick time.Time `json:"schedule_tick,omitzero"`
}

// isParent reports whether t is a broadcast parent, which is never leased.
func (t *Task) isParent() bool { return t.Broadcast }

// clone returns a shallow copy; Labels, Payload and Result are never
// mutated in place, so sharing them is safe.
func (t *Task) clone() *Task {
	c := *t
	return &c
}

// WorkerStatus is a worker's liveness as the cluster sees it.
type WorkerStatus string

// Worker states (API.md "Workers").
const (
	WorkerStatusReady    WorkerStatus = "ready"
	WorkerStatusDraining WorkerStatus = "draining"
	WorkerStatusDown     WorkerStatus = "down"
)

// Worker is one registered worker process. Copy-on-write like Task.
type Worker struct {
	ID           string            `json:"id"`
	Address      string            `json:"address,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	Capacity     int               `json:"capacity"`
	Status       WorkerStatus      `json:"status"`
	CPU          float64           `json:"cpu"`
	Memory       float64           `json:"memory"`
	RegisteredAt time.Time         `json:"registered_at"`
	LastSeenAt   time.Time         `json:"last_seen_at"`
}

func (w *Worker) clone() *Worker {
	c := *w
	return &c
}

// Server is one master's addresses, replicated so that any master can send
// a client to the leader's HTTP address.
type Server struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
}

// LabelsMatch reports whether have includes every key/value of want.
func LabelsMatch(want, have map[string]string) bool {
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			return false
		}
	}
	return true
}
