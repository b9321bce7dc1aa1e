// Package client is the Go client of the Shepherd HTTP API (the wire
// contract in API.md). Workers and the command-line tool use it; it speaks
// plain net/http and must not import the server side (echo, cluster, fsm).
//
// A Client knows a list of masters. Every request goes to the preferred
// master; a 307 redirect to the leader is followed by hand (method and body
// kept) and the leader remembered as the preferred master. A connection
// error, a 502/503 (no_leader) or a 504 (timeout) answer rotates to the next
// master and retries with a short backoff until the context's deadline, or
// a retry budget (default 10 s) when the context has none.
//
// Retrying a write whose answer was lost or was 503/504 may apply it twice:
// the outcome of the first try is unknown. That is safe by design of the
// contract: submissions carry an idempotency key, and completions, failures
// and poll results are fenced by the lease attempt, so a duplicate changes
// nothing. Callers that submit without an idempotency key accept that a
// retried submit may create a second task.
package client
