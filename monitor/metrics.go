package monitor

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/shepherd/shepherd/fsm"
)

// Metrics is the master's Prometheus registry (its own, not the global
// one). Counters and histograms are fed from the replicated events, so
// every master reports the same task figures; gauges of the state, Raft
// and the hub are read at scrape time.
type Metrics struct {
	reg   *prometheus.Registry
	state *fsm.FSM
	hub   atomic.Pointer[Hub]
	// liveFrom: task events stamped earlier are not counted (CountFrom).
	liveFrom time.Time

	submitted, completed, failed *prometheus.CounterVec
	submitToLease, runTime       *prometheus.HistogramVec
	leasesExpired, retries       prometheus.Counter
	requeued                     *prometheus.CounterVec
	leaderChanges                prometheus.Counter
	subscribersDropped           prometheus.Counter
	events                       prometheus.Counter
	apply                        prometheus.Histogram
	httpRequests                 *prometheus.CounterVec
	httpDuration                 *prometheus.HistogramVec
}

// CountFrom makes the task counters and histograms ignore events the
// leader stamped before t: a restarted master replays its log, and those
// entries happened before this process could see them. Call it before
// the FSM applies anything.
func (m *Metrics) CountFrom(t time.Time) { m.liveFrom = t }

// NewMetrics returns the registry for a master whose replica is state.
// Pass it to NewHub (Config.Metrics) to feed it.
func NewMetrics(state *fsm.FSM) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), state: state}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	m.submitted = counter("shepherd_tasks_submitted_total", "Tasks created, by queue.", "queue")
	m.completed = counter("shepherd_tasks_completed_total", "Tasks completed, by queue.", "queue")
	m.failed = counter("shepherd_tasks_failed_total", "Tasks failed for good (dead-lettered), by queue.", "queue")
	m.requeued = counter("shepherd_tasks_requeued_total", "Leases taken back, by cause.", "reason")
	m.submitToLease = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "shepherd_task_submit_to_lease_seconds",
		Help:    "Time from a task becoming runnable (created, or its run_at) to its first lease.",
		Buckets: prometheus.ExponentialBucketsRange(0.001, 600, 18),
	}, []string{"queue"})
	m.runTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "shepherd_task_run_seconds",
		Help:    "Time from lease to the end of an attempt, by queue and outcome.",
		Buckets: prometheus.ExponentialBucketsRange(0.01, 3600, 18),
	}, []string{"queue", "outcome"})
	m.leasesExpired = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "shepherd_leases_expired_total", Help: "Leases that ran out before their worker reported."})
	m.retries = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "shepherd_task_retries_total", Help: "Failed attempts scheduled for a retry."})
	m.leaderChanges = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "shepherd_raft_leader_changes_total", Help: "Leaders this master has seen elected."})
	m.subscribersDropped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "shepherd_event_subscribers_dropped_total", Help: "Event subscribers closed for falling behind (1013)."})
	m.events = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "shepherd_events_total", Help: "Replicated events observed."})
	m.apply = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "shepherd_raft_apply_duration_seconds", Help: "Time from proposing a command to its commit and apply.",
		Buckets: prometheus.ExponentialBucketsRange(0.0005, 10, 16)})
	m.httpRequests = counter("shepherd_http_requests_total", "HTTP requests answered.", "method", "route", "code")
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "shepherd_http_request_duration_seconds", Help: "HTTP request latency.",
		Buckets: prometheus.ExponentialBucketsRange(0.0005, 30, 16),
	}, []string{"method", "route"})

	m.reg.MustRegister(m.submitted, m.completed, m.failed, m.requeued, m.submitToLease, m.runTime,
		m.leasesExpired, m.retries, m.leaderChanges, m.subscribersDropped, m.events, m.apply,
		m.httpRequests, m.httpDuration, &stateCollector{m: m},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus text format (GET /metrics).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry is the registry itself, for other packages' collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ObserveHTTP records one answered request. route is the route pattern
// ("/v1/tasks/:id"), never the raw path, to bound the label set.
func (m *Metrics) ObserveHTTP(method, route string, status int, d time.Duration) {
	m.httpRequests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.httpDuration.WithLabelValues(method, route).Observe(d.Seconds())
}

// ObserveApply records the latency of one Raft apply as its proposer saw it.
func (m *Metrics) ObserveApply(d time.Duration) { m.apply.Observe(d.Seconds()) }

func (m *Metrics) attach(h *Hub)      { m.hub.Store(h) }
func (m *Metrics) leaderChanged()     { m.leaderChanges.Inc() }
func (m *Metrics) subscriberDropped() { m.subscribersDropped.Inc() }

// observeEvents updates the event-fed metrics. It runs inside Observe:
// every operation here is a lock-free or briefly locked update.
func (m *Metrics) observeEvents(events []fsm.Event) {
	m.events.Add(float64(len(events)))
	for i := range events {
		ev := &events[i]
		t := ev.Task
		if t == nil || ev.Time.Before(m.liveFrom) {
			continue
		}
		switch ev.Type {
		case "task.submitted":
			m.submitted.WithLabelValues(t.Queue).Inc()
		case "task.leased":
			ready := t.CreatedAt
			if t.RunAt.After(ready) {
				ready = t.RunAt
			}
			if t.Attempt == 1 && !ready.IsZero() {
				m.submitToLease.WithLabelValues(t.Queue).Observe(nonNegative(ev.Time.Sub(ready)))
			}
		case "task.completed":
			m.completed.WithLabelValues(t.Queue).Inc()
			m.observeRun(ev, "completed")
		case "task.failed":
			m.failed.WithLabelValues(t.Queue).Inc()
			m.observeRun(ev, "failed")
			if t.Error == "lease expired" {
				m.leasesExpired.Inc() // the last attempt's lease ran out
			}
		case "task.retrying":
			m.retries.Inc()
			m.observeRun(ev, "retrying")
		case "task.canceled":
			m.observeRun(ev, "canceled")
		case "task.requeued":
			cause := requeueCause(ev.Reason)
			m.requeued.WithLabelValues(cause).Inc()
			if cause == "lease_expired" {
				m.leasesExpired.Inc()
			}
		}
	}
}

// observeRun records an attempt's run time when the task still carries
// its lease start (a retry clears it, so retries are rarely observed).
func (m *Metrics) observeRun(ev *fsm.Event, outcome string) {
	if !ev.Task.LeasedAt.IsZero() {
		m.runTime.WithLabelValues(ev.Task.Queue, outcome).Observe(nonNegative(ev.Time.Sub(ev.Task.LeasedAt)))
	}
}

// requeueCause maps the cluster's requeue reasons to a bounded label.
func requeueCause(reason string) string {
	switch {
	case reason == "lease expired":
		return "lease_expired"
	case strings.HasPrefix(reason, "worker ") && strings.Contains(reason, " down"):
		return "worker_down"
	case reason == "poll abandoned":
		return "poll_abandoned"
	case strings.HasPrefix(reason, "lease unknown"):
		return "lease_unknown"
	}
	return "other"
}

func nonNegative(d time.Duration) float64 { return max(d.Seconds(), 0) }
