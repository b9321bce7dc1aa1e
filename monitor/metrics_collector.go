package monitor

import (
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shepherd/shepherd/fsm"
)

// stateCollector reads gauges at scrape time: the replica's task and
// worker tables, the last cluster status the hub polled, and the hub.
type stateCollector struct{ m *Metrics }

var (
	descTasks       = prometheus.NewDesc("shepherd_tasks", "Tasks by queue and status.", []string{"queue", "status"}, nil)
	descWorkers     = prometheus.NewDesc("shepherd_workers", "Workers by status.", []string{"status"}, nil)
	descWorkerCPU   = prometheus.NewDesc("shepherd_worker_cpu_ratio", "Worker CPU use (0..1) from its last replicated heartbeat.", []string{"worker"}, nil)
	descWorkerMem   = prometheus.NewDesc("shepherd_worker_memory_ratio", "Worker memory use (0..1) from its last replicated heartbeat.", []string{"worker"}, nil)
	descWorkerLoad  = prometheus.NewDesc("shepherd_worker_running_tasks", "Tasks leased to a worker.", []string{"worker"}, nil)
	descRaftState   = prometheus.NewDesc("shepherd_raft_state", "1 for this master's current Raft role.", []string{"state"}, nil)
	descRaftTerm    = prometheus.NewDesc("shepherd_raft_term", "Current Raft term.", nil, nil)
	descRaftCommit  = prometheus.NewDesc("shepherd_raft_commit_index", "Raft commit index known to this master.", nil, nil)
	descRaftApplied = prometheus.NewDesc("shepherd_raft_applied_index", "Last log index applied to this master's state.", nil, nil)
	descRaftContact = prometheus.NewDesc("shepherd_raft_last_contact_seconds", "Time since the leader last reached this master (0 on the leader).", nil, nil)
	descRaftLeader  = prometheus.NewDesc("shepherd_raft_leader", "1 while a leader is known.", nil, nil)
	descSubscribers = prometheus.NewDesc("shepherd_event_subscribers", "Open event stream subscribers.", nil, nil)
	descRingEvents  = prometheus.NewDesc("shepherd_event_ring_events", "Events held for resumption.", nil, nil)
)

var raftStates = []string{"leader", "follower", "candidate", "shutdown", "unknown"}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descTasks, descWorkers, descWorkerCPU, descWorkerMem, descWorkerLoad,
		descRaftState, descRaftTerm, descRaftCommit, descRaftApplied, descRaftContact, descRaftLeader,
		descSubscribers, descRingEvents} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	if st := c.m.state; st != nil {
		for q, by := range st.Counts() {
			for _, s := range fsm.AllTaskStatuses {
				gauge(descTasks, float64(by[s]), q, string(s))
			}
		}
		byStatus := map[fsm.WorkerStatus]int{fsm.WorkerStatusReady: 0, fsm.WorkerStatusDraining: 0, fsm.WorkerStatusDown: 0}
		for _, w := range st.Workers() {
			byStatus[w.Status]++
			if w.Status != fsm.WorkerStatusDown {
				gauge(descWorkerCPU, w.CPU, w.ID)
				gauge(descWorkerMem, w.Memory, w.ID)
				gauge(descWorkerLoad, float64(len(w.Running)), w.ID)
			}
		}
		for s, n := range byStatus {
			gauge(descWorkers, float64(n), string(s))
		}
		gauge(descRaftApplied, float64(st.AppliedIndex()))
	}
	h := c.m.hub.Load()
	if h == nil {
		return
	}
	gauge(descSubscribers, float64(h.Subscribers()))
	tail, head, _ := h.ring.bounds()
	gauge(descRingEvents, float64(head-tail))
	ns := h.status.Load()
	if ns == nil {
		return
	}
	role := raftState(h.node, ns)
	for _, s := range raftStates {
		v := 0.0
		if s == role {
			v = 1
		}
		gauge(descRaftState, v, s)
	}
	gauge(descRaftTerm, float64(ns.status.Term))
	gauge(descRaftCommit, float64(ns.status.CommitIndex))
	leader := 0.0
	if ns.status.Leader != nil {
		leader = 1
	}
	gauge(descRaftLeader, leader)
	if lc, ok := lastContact(ns.stats, role); ok {
		gauge(descRaftContact, lc.Seconds())
	}
}

// lastContact parses raft.Stats()["last_contact"]: "never", "0" on the
// leader, or a duration.
func lastContact(stats map[string]string, role string) (time.Duration, bool) {
	if role == "leader" {
		return 0, true
	}
	s, ok := stats["last_contact"]
	if !ok || strings.EqualFold(s, "never") {
		return 0, false
	}
	if s == "0" {
		return 0, true
	}
	d, err := time.ParseDuration(s)
	return d, err == nil
}
