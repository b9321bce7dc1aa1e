// Package chaos is the engine of `shepherd chaos`: a Jepsen-style run that
// drives a workload against a Shepherd cluster while a nemesis kills,
// pauses and partitions masters and kills workers, records every client
// call, and then checks the history: nothing acknowledged is lost, nothing
// runs to completion twice, no task appears from nowhere, idempotency keys
// hold, the per-task lifecycle is linearizable (porcupine), every master
// streams the same events, and leadership losses heal quickly.
//
// It only speaks the public HTTP API (api/client and /v1/faults); process
// control (kill, pause) comes from a Controller: local child processes or
// docker containers.
package chaos

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
)

// Nemesis names accepted in Config.Nemeses.
const (
	NemesisKill       = "kill"
	NemesisPause      = "pause"
	NemesisPartition  = "partition"
	NemesisTransfer   = "transfer"
	NemesisWorkerKill = "worker-kill"
)

// Partition shapes accepted in Config.PartitionModes.
const (
	PartitionIsolateLeader = "isolate-leader"
	PartitionHalves        = "halves"
	PartitionBridge        = "bridge"
	PartitionOneWay        = "one-way"
	PartitionMinority      = "minority" // isolate followers only: the leader keeps a majority
)

var (
	allNemeses    = []string{NemesisKill, NemesisPause, NemesisPartition, NemesisTransfer, NemesisWorkerKill}
	allPartitions = []string{PartitionIsolateLeader, PartitionHalves, PartitionBridge, PartitionOneWay, PartitionMinority}
)

// Config configures one chaos run.
type Config struct {
	// Masters are the masters' HTTP addresses, in the Controller's order.
	Masters []string
	// Control kills and pauses masters; nil skips kill and pause.
	Control Controller

	Duration time.Duration // how long the nemesis runs
	// Interval is the time from one nemesis action to the next;
	// FaultDuration how long each fault lasts within it (default half).
	Interval      time.Duration
	FaultDuration time.Duration
	Seed          int64
	Nemeses       []string
	// PartitionModes are the shapes the partition nemesis picks from.
	PartitionModes []string
	// KillLeaderRatio is the chance that kill and pause target the leader
	// rather than a random master.
	KillLeaderRatio float64

	Submitters int
	Rate       float64 // submissions/s over all submitters; 0: as fast as they go
	Workers    int
	Capacity   int
	// WorkTime is how long a task "runs" in a worker.
	WorkTime time.Duration
	// TaskTimeout is the lease length of the submitted tasks.
	TaskTimeout time.Duration
	// HealTimeout bounds the wait, after healing, for every task to end.
	HealTimeout time.Duration
	// CheckTimeout bounds the linearizability search.
	CheckTimeout time.Duration

	RunID string // names the queue, keys and workers; default random
	// OutDir receives report.json and, on failure, linearizability.html.
	OutDir   string
	Progress io.Writer // progress line; nil for none
}

// DefaultConfig returns the defaults of `shepherd chaos`.
func DefaultConfig() Config {
	return Config{
		Duration:        2 * time.Minute,
		Interval:        10 * time.Second,
		Nemeses:         []string{NemesisKill, NemesisPause, NemesisPartition, NemesisWorkerKill},
		PartitionModes:  slices.Clone(allPartitions),
		KillLeaderRatio: 0.7,
		Submitters:      4,
		Rate:            50,
		Workers:         4,
		Capacity:        8,
		WorkTime:        200 * time.Millisecond,
		TaskTimeout:     15 * time.Second,
		HealTimeout:     90 * time.Second,
		CheckTimeout:    time.Minute,
	}
}

// Validate reports the first problem with the configuration.
func (c Config) Validate() error {
	switch {
	case len(c.Masters) == 0:
		return errors.New("chaos: no masters")
	case c.Duration <= 0 || c.Interval <= 0:
		return errors.New("chaos: duration and interval must be positive")
	case c.FaultDuration < 0 || c.FaultDuration > c.Interval:
		return errors.New("chaos: fault duration must be between 0 and the interval")
	case c.Submitters < 1 || c.Workers < 1 || c.Capacity < 1:
		return errors.New("chaos: submitters, workers and capacity must be positive")
	case c.Rate < 0 || c.KillLeaderRatio < 0 || c.KillLeaderRatio > 1:
		return errors.New("chaos: rate must not be negative, kill-leader ratio within [0,1]")
	case c.TaskTimeout < time.Second || c.HealTimeout <= 0:
		return errors.New("chaos: task timeout must be at least 1s, heal timeout positive")
	}
	for _, n := range c.Nemeses {
		if !slices.Contains(allNemeses, n) {
			return fmt.Errorf("chaos: unknown nemesis %q (want %v)", n, allNemeses)
		}
	}
	for _, p := range c.PartitionModes {
		if !slices.Contains(allPartitions, p) {
			return fmt.Errorf("chaos: unknown partition mode %q (want %v)", p, allPartitions)
		}
	}
	return nil
}
