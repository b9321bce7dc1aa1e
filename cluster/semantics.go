package cluster

import (
	"fmt"
	"time"
)

// Dispatch policies: how the leader chooses among waiting eligible
// workers when tasks are pending.
const (
	// DispatchLeastLoaded prefers the worker with the lowest utilisation
	// (CPU and memory from its latest heartbeat, running/capacity).
	DispatchLeastLoaded = "least-loaded"
	// DispatchRoundRobin serves waiting workers in turn.
	DispatchRoundRobin = "round-robin"
	// DispatchAffinity sends tasks with the same affinity key to the same
	// live worker (rendezvous hashing); others go least-loaded.
	DispatchAffinity = "affinity"
)

// SemanticsConfig configures the task semantics the leader enforces.
type SemanticsConfig struct {
	// Dispatch is the dispatch policy.
	Dispatch string
	// Retention is how long finished tasks (and their idempotency keys)
	// are kept; RetentionInterval how often the leader collects them.
	Retention         time.Duration
	RetentionInterval time.Duration
	// MisfireGrace is how late a schedule tick may fire; older missed
	// ticks follow the schedule's misfire policy.
	MisfireGrace time.Duration
	// ScheduleInterval is how often the leader looks for due ticks.
	ScheduleInterval time.Duration
	// RetryAttempts is how many attempts a manual retry grants by default.
	RetryAttempts int
}

// DefaultSemanticsConfig returns the production defaults.
func DefaultSemanticsConfig() SemanticsConfig {
	return SemanticsConfig{
		Dispatch:          DispatchLeastLoaded,
		Retention:         24 * time.Hour,
		RetentionInterval: time.Minute,
		MisfireGrace:      time.Minute,
		ScheduleInterval:  100 * time.Millisecond,
		RetryAttempts:     3,
	}
}

func (c SemanticsConfig) validate() error {
	switch c.Dispatch {
	case DispatchLeastLoaded, DispatchRoundRobin, DispatchAffinity:
	default:
		return fmt.Errorf("config: unknown dispatch policy %q (want %s, %s or %s)",
			c.Dispatch, DispatchLeastLoaded, DispatchRoundRobin, DispatchAffinity)
	}
	switch {
	case c.Retention <= 0 || c.RetentionInterval <= 0:
		return fmt.Errorf("config: retention and its interval must be positive")
	case c.MisfireGrace < 0 || c.ScheduleInterval <= 0:
		return fmt.Errorf("config: misfire grace must not be negative, schedule interval must be positive")
	case c.RetryAttempts < 1:
		return fmt.Errorf("config: retry attempts must be at least 1")
	}
	return nil
}
