// Package api owns Shepherd's HTTP edge on a master: the Echo server behind
// Server (Open/Close), the /v1 handlers (handleXxx), the one table that maps
// errors to HTTP statuses and contract codes, the leader redirect, strict
// JSON decoding with a body limit, and validation of every request before it
// reaches the cluster. The wire contract is /work/shared/API.md; the JSON
// types are those of api/client.
//
// api consumes a master through the small Backend interface (backend.go) and
// knows nothing of Raft. Only this package imports echo: other packages
// (monitor's WebSocket, /metrics, the dashboard) attach plain net/http
// handlers with Server.Mount.
//
// A request that api rejects changes nothing: every check runs before the
// Backend is called, and a batch is validated as a whole before any of it is
// submitted.
package api
