// Package worker is the Shepherd worker agent and its Go SDK. A Worker
// registers with the master cluster, heartbeats with CPU and memory load,
// long-polls the leader for leases, runs each leased task in its own
// goroutine under the task's timeout, and reports results, piggybacked on
// the next poll whenever one is about to happen.
//
// Handlers are registered by task name with Handle; the built-in executors
// echo, sleep, http and shell are registered by default (shell refuses to
// run unless Config.EnableShell is set).
//
// A worker is a remote process: this package speaks only api/client and
// must not import cluster or fsm.
package worker
