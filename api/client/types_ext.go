package client

import "time"

// Wire types of the task semantics: retries, schedules and queues.

// RetryBackoff bounds a task's retry backoff: exponential from Base,
// capped at Max, with jitter. Empty fields take the cluster's defaults.
type RetryBackoff struct {
	Base string `json:"base,omitempty"`
	Max  string `json:"max,omitempty"`
}

// RetryRequest is the optional body of POST /v1/tasks/{id}/retry.
type RetryRequest struct {
	// Attempts is how many more attempts the task gets (default 3).
	Attempts int `json:"attempts,omitempty"`
}

// ScheduleRequest is the body of POST /v1/schedules.
type ScheduleRequest struct {
	// ID names the schedule; empty lets the cluster name it. Posting an
	// existing id replaces its definition and keeps its progress.
	ID string `json:"id,omitempty"`
	// Cron is a cron expression: five fields, or six with leading seconds,
	// or a descriptor (@hourly, @every 30s).
	Cron     string `json:"cron"`
	TimeZone string `json:"timezone,omitempty"`
	// Task is the template of each run (run_at, delay and idempotency_key
	// are not allowed: each tick sets them).
	Task SubmitRequest `json:"task"`
	// Overlap is "allow" (default) or "skip" (skip a tick while the
	// previous run is unfinished).
	Overlap string `json:"overlap,omitempty"`
	// Misfire is "skip" (default) or "run-once": what to do with ticks
	// missed while the cluster was down.
	Misfire string `json:"misfire,omitempty"`
}

// Schedule is a recurring task as the cluster stores it.
type Schedule struct {
	ID         string        `json:"id"`
	Cron       string        `json:"cron"`
	TimeZone   string        `json:"timezone,omitempty"`
	Task       SubmitRequest `json:"task"`
	Overlap    string        `json:"overlap"`
	Misfire    string        `json:"misfire"`
	CreatedAt  time.Time     `json:"created_at"`
	UpdatedAt  time.Time     `json:"updated_at"`
	LastTick   *time.Time    `json:"last_tick,omitempty"`
	NextTick   *time.Time    `json:"next_tick,omitempty"`
	LastTaskID int64         `json:"last_task_id,omitempty"`
	Fired      int64         `json:"fired"`
	Skipped    int64         `json:"skipped"`
	Paused     bool          `json:"paused"`
}

// ScheduleList is the answer of GET /v1/schedules.
type ScheduleList struct {
	Schedules []Schedule `json:"schedules"`
}

// Queue is a queue's settings and its task counts by status.
type Queue struct {
	Name       string         `json:"name"`
	Paused     bool           `json:"paused"`
	MaxRunning int            `json:"max_running"`
	Counts     map[string]int `json:"counts"`
}

// QueueList is the answer of GET /v1/queues.
type QueueList struct {
	Queues []Queue `json:"queues"`
}

// QueueUpdate is the body of PUT /v1/queues/{name}; absent fields keep
// their value. MaxRunning 0 removes the limit.
type QueueUpdate struct {
	Paused     *bool `json:"paused,omitempty"`
	MaxRunning *int  `json:"max_running,omitempty"`
}
