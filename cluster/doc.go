// Package cluster owns the Raft side of a master: the *raft.Raft with its
// TCP transport, fsync'd boltdb log/stable store and file snapshots;
// start-up discovery, bootstrap and join; Apply with a context and Raft's
// errors translated to this package's own; and the leader-only work that
// runs after every leadership gain (dispatcher for long-polls, lease
// reaper, worker heartbeat TTLs, scheduled-task promotion, stats batches).
//
// Leader-only work only proposes commands through Raft; it never edits the
// state directly, so a new leader continues from the replicated state.
// The package knows nothing of HTTP: discovery of peers goes through the
// Discovery interface that the composition root supplies.
package cluster
