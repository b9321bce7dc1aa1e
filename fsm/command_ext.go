package fsm

import "time"

// Commands of the task semantics (retries, schedules, queues, retention,
// lease extension, worker removal). Every time they carry is the leader's.

// Retry puts a failed or canceled task back in its queue with Attempts
// more attempts. The attempt counter keeps growing, so old leases stay
// fenced off.
type Retry struct {
	Now      time.Time `json:"now"`
	TaskID   int64     `json:"task_id"`
	Attempts int       `json:"attempts"`
}

// PutSchedule creates a schedule (an empty ID gets the next "s<n>") or
// replaces the definition of an existing one, keeping its progress.
type PutSchedule struct {
	Now      time.Time `json:"now"`
	Schedule Schedule  `json:"schedule"`
}

// PauseSchedule stops (Paused) or restarts a schedule's ticks. Ticks
// that fall in a pause are skipped, never fired late: resuming moves the
// schedule's LastTick up to Now.
type PauseSchedule struct {
	Now    time.Time `json:"now"`
	ID     string    `json:"id"`
	Paused bool      `json:"paused"`
}

// DeleteSchedule removes a schedule; tasks it created stay.
type DeleteSchedule struct {
	Now time.Time `json:"now"`
	ID  string    `json:"id"`
}

// FireSchedule decides a schedule's ticks up to Through: each of Ticks
// after the schedule's LastTick creates one task from the template (unless
// the overlap policy skips it), keyed by the tick so that it is created
// once whatever the leader changes; LastTick becomes Through. A command
// whose Through is not after LastTick changes nothing.
type FireSchedule struct {
	Now        time.Time   `json:"now"`
	ScheduleID string      `json:"schedule_id"`
	Ticks      []time.Time `json:"ticks,omitempty"`
	Through    time.Time   `json:"through"`
}

// SetQueue changes a queue's settings; nil fields keep their value.
type SetQueue struct {
	Now        time.Time `json:"now"`
	Queue      string    `json:"queue"`
	Paused     *bool     `json:"paused,omitempty"`
	MaxRunning *int      `json:"max_running,omitempty"`
}

// Purge deletes the listed tasks that finished at or before Before, and
// their idempotency keys (retention GC).
type Purge struct {
	Now     time.Time `json:"now"`
	Before  time.Time `json:"before"`
	TaskIDs []int64   `json:"task_ids"`
}

// ExtendLeases renews a worker's current leases to Now plus each task's
// timeout (a long task's heartbeat).
type ExtendLeases struct {
	Now      time.Time     `json:"now"`
	WorkerID string        `json:"worker_id"`
	Leases   []TaskAttempt `json:"leases"`
}

// RemoveWorker forgets a worker that runs nothing (it drained and left).
type RemoveWorker struct {
	Now      time.Time `json:"now"`
	WorkerID string    `json:"worker_id"`
}
