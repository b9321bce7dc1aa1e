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
package fsm
