package fsm

import (
	"strconv"
	"time"
)

// Overlap policies of a schedule.
const (
	OverlapAllow = "allow" // fire every tick
	OverlapSkip  = "skip"  // skip a tick while the previous run is active
)

// Misfire policies of a schedule: what the leader does with ticks it
// missed by more than the misfire grace (the cluster was down).
const (
	MisfireSkip    = "skip"     // drop them
	MisfireRunOnce = "run-once" // fire the latest of them once
)

// Schedule is a recurring task. The FSM only stores it and turns ticks
// into tasks; the leader parses the cron expression and decides the ticks.
// Copy-on-write like Task.
type Schedule struct {
	ID       string `json:"id"`
	Cron     string `json:"cron"`
	TimeZone string `json:"timezone,omitempty"`
	// Task is the template of every run; its RunAt and IdempotencyKey are
	// set per tick.
	Task      TaskSpec  `json:"task"`
	Overlap   string    `json:"overlap"`
	Misfire   string    `json:"misfire"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// LastTick is the last tick decided (fired or skipped); ticks up to it
	// never fire again.
	LastTick   time.Time `json:"last_tick"`
	LastTaskID int64     `json:"last_task_id,omitempty"`
	Fired      int64     `json:"fired"`
	Skipped    int64     `json:"skipped"`
	// Paused schedules decide no ticks (PauseSchedule).
	Paused bool `json:"paused,omitempty"`
}

func (s *Schedule) clone() *Schedule {
	c := *s
	return &c
}

// ScheduleKey is the idempotency key of a schedule's run for one tick.
func ScheduleKey(id string, tick time.Time) string {
	return "schedule/" + id + "/" + strconv.FormatInt(tick.UnixNano(), 10)
}

// QueueSettings are a queue's replicated settings. The zero value is a
// running queue without a concurrency limit.
type QueueSettings struct {
	Name   string `json:"name"`
	Paused bool   `json:"paused,omitempty"`
	// MaxRunning caps the queue's running tasks across the cluster; 0 is
	// no limit.
	MaxRunning int       `json:"max_running,omitempty"`
	UpdatedAt  time.Time `json:"updated_at"`
}
