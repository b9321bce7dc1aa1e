// Package monitor owns what a master shows about itself and the cluster:
// the event hub behind GET /v1/events (a WebSocket stream of the events the
// FSM emits, resumable by Raft index), node-local events (leader changes,
// per-second metrics), the Prometheus registry behind GET /metrics, and the
// embedded dashboard served at GET /.
//
// The Hub is an fsm.Observer. Observe runs on the goroutine that applies the
// Raft log, so it must never wait: it appends the events to one ring buffer
// (default 100,000 events) and signals subscribers without blocking. Each
// subscriber reads the ring from its own cursor at its own pace; one that
// the ring overtakes is closed with WebSocket close code 1013 and resumes
// with ?since=. Events are encoded to JSON once, by the first subscriber
// that needs them, and the bytes are shared by all.
//
// Wiring in a master (the composition root):
//
//	node, _ := cluster.New(cfg)
//	metrics := monitor.NewMetrics(node.State())
//	hub, _ := monitor.NewHub(monitor.Config{State: node.State(), Cluster: node, Metrics: metrics})
//	node.State().AddObserver(hub) // before node.Open: Raft replays the log into it
//	node.Open()
//	hub.Start()                   // leader watch and node.metrics; needs Raft running
//	apiServer.Mount("/v1/events", hub)
//	apiServer.Mount("/metrics", metrics.Handler())
//	apiServer.Mount("/", monitor.DashboardHandler())
//	...
//	hub.Close()                   // before node.Close: closes subscribers with 1001
//
// monitor imports fsm and cluster (for its types) and api/client (for the
// wire types), never api or echo: api mounts these plain net/http handlers.
//
// The stream (API.md, "Monitoring"), as this package writes it:
//
//   - Replicated events carry "index", "type", "time", "node" (the master
//     that sent it) and "task" (the API.md task), "worker" (the API.md
//     worker, with "running" as the replica knew it once the entry was
//     applied), or "server" with "reason" for cluster.membership.
//     task.requeued carries the requeue "reason".
//   - {"type":"stream.reset","node":..,"time":..,"since":S,"oldest":O,"reason":..}
//     comes first when since=S is older than what the master still holds
//     (O is the oldest index held, 0 when none). A state.snapshot follows.
//   - {"type":"state.snapshot","index":A,"node":..,"time":..,"counts":{queue:{status:n}},
//     "workers":[worker...],"cluster":<GET /v1/cluster body or null>}: the
//     replica's state as of applied index A. The live events that follow
//     all have index > A, so a client sets its resume point to A. Send
//     ?snapshot=true to get one at the start of any stream.
//   - node.leader_changed: {"type","node","time","leader":{"id","http_addr"} or
//     null,"term","previous"}; node.metrics once a second:
//     {"type","node","time","raft":{"state","term","commit_index",
//     "applied_index","lag","last_contact"},"queues":{queue:{status:n}},
//     "rates":{"submitted":per-second,"completed":per-second},"subscribers":n}.
//     Node-local events carry no index and are not replayed on resume.
//
// Query parameters of /v1/events: since=<index> (resume after it; without
// since the stream starts live), types=<prefix,prefix> (by event type
// prefix; node.* and stream control events are filtered the same way except
// stream.reset and state.snapshot, which always pass), queue= and name=
// (drop task events of other queues / task names; events without a task
// pass), snapshot=true.
package monitor
