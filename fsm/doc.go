// Package fsm owns Shepherd's replicated state: tasks, the per-queue ready
// order, the worker table, idempotency keys and the master address table.
//
// The state changes only through Apply, which decodes a typed, numbered and
// versioned command (see command.go) and mutates the state deterministically:
// every time, deadline and backoff a command needs is stamped into it by the
// leader. Apply never reads the clock, draws random numbers, does I/O or
// starts goroutines, so replaying the same log on any master yields the same
// state and the same events.
//
// Records are copy-on-write: a mutation replaces a *Task or *Worker with a
// fresh copy, so Snapshot only copies maps of pointers while Apply is
// blocked and encodes them afterwards (see snapshot.go).
//
// Why copy-on-write records and not hashicorp/go-memdb (as Nomad and
// Consul use): measured with `go test -bench . ./fsm/` on 2 cores, the
// capture that blocks Apply takes 1.0-1.6 ms for 100,000 tasks and the
// encoding (0.3 s) runs beside Apply; an apply costs about 4.5 us per
// entry. Radix-tree transactions would make every write allocate a path of
// nodes and every read go through a transaction, for a snapshot pause we
// do not have. The indexes the dispatcher needs (ready order per queue,
// running tasks by lease expiry and by worker, scheduled tasks by run time)
// are btrees and maps derived from the records and rebuilt on Restore,
// never snapshotted. The snapshot grows with the tasks kept; the leader's
// retention GC (default 24h) bounds it.
package fsm
