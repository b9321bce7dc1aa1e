package monitor

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/shepherd/shepherd/fsm"
)

// scrape fetches /metrics and parses it with the Prometheus text parser.
func scrape(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", "text/plain")
	m.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d", rec.Code)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(io.Reader(rec.Body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// metricValue sums the samples of a family whose labels include want.
func metricValue(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		return 0
	}
	var sum float64
next:
	for _, mt := range f.GetMetric() {
		for k, v := range want {
			found := false
			for _, l := range mt.GetLabel() {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case mt.Counter != nil:
			sum += mt.Counter.GetValue()
		case mt.Gauge != nil:
			sum += mt.Gauge.GetValue()
		case mt.Histogram != nil:
			sum += float64(mt.Histogram.GetSampleCount())
		}
	}
	return sum
}

func counterValue(t *testing.T, m *Metrics, name string) float64 {
	t.Helper()
	return metricValue(t, scrape(t, m), name, nil)
}

func TestMetricsParseAndMoveWithTheWorkload(t *testing.T) {
	fc := &fakeCluster{id: "m1"}
	fc.set("m1", 2)
	state := fsm.New(nil)
	m := NewMetrics(state)
	e := newEnv(t, Config{State: state, Cluster: fc, Metrics: m, StatusInterval: 5 * time.Millisecond})
	h := e.hub
	h.Start()

	before := scrape(t, m)
	if v := metricValue(t, before, "shepherd_tasks_completed_total", nil); v != 0 {
		t.Fatalf("completed before the workload = %v", v)
	}
	e.register("w1")
	a, b, c := e.submit("a", "default"), e.submit("b", "default"), e.submit("c", "other")
	e.lease("w1", a, b, c)
	e.complete("w1", a)
	e.apply(fsm.Fail{Now: t0.Add(2 * time.Second), WorkerID: "w1", TaskID: b, Attempt: 1, Error: "boom", Retry: true, RetryAt: t0.Add(time.Minute)})
	e.apply(fsm.Requeue{Now: t0.Add(40 * time.Second), Leases: []fsm.TaskAttempt{{TaskID: c, Attempt: 1}}, Reason: "lease expired"})
	m.ObserveHTTP("GET", "/v1/tasks/:id", 200, 3*time.Millisecond)
	m.ObserveApply(2 * time.Millisecond)
	waitFor(t, "status poll", func() bool { return h.status.Load() != nil })

	after := scrape(t, m)
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"shepherd_tasks_submitted_total", nil, 3},
		{"shepherd_tasks_completed_total", map[string]string{"queue": "default"}, 1},
		{"shepherd_task_retries_total", nil, 1},
		{"shepherd_leases_expired_total", nil, 1},
		{"shepherd_tasks_requeued_total", map[string]string{"reason": "lease_expired"}, 1},
		{"shepherd_task_submit_to_lease_seconds", nil, 3},
		{"shepherd_task_run_seconds", map[string]string{"outcome": "completed"}, 1},
		{"shepherd_tasks", map[string]string{"queue": "default", "status": "completed"}, 1},
		{"shepherd_tasks", map[string]string{"queue": "default", "status": "scheduled"}, 1},
		{"shepherd_tasks", map[string]string{"queue": "other", "status": "pending"}, 1},
		{"shepherd_workers", map[string]string{"status": "ready"}, 1},
		{"shepherd_worker_cpu_ratio", map[string]string{"worker": "w1"}, 0},
		{"shepherd_raft_state", map[string]string{"state": "leader"}, 1},
		{"shepherd_raft_term", nil, 2},
		{"shepherd_raft_commit_index", nil, 10},
		{"shepherd_raft_applied_index", nil, float64(e.index)},
		{"shepherd_http_requests_total", map[string]string{"route": "/v1/tasks/:id", "code": "200"}, 1},
		{"shepherd_http_request_duration_seconds", nil, 1},
		{"shepherd_raft_apply_duration_seconds", nil, 1},
		{"shepherd_event_subscribers", nil, 0},
		{"shepherd_events_total", nil, 10},
	}
	for _, c := range checks {
		if _, ok := after[c.name]; !ok {
			t.Errorf("%s missing", c.name)
			continue
		}
		if got := metricValue(t, after, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if _, ok := after["go_goroutines"]; !ok {
		t.Error("go collector missing")
	}
}

func TestMetricsHandlerServesTextFormat(t *testing.T) {
	m := NewMetrics(fsm.New(nil))
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("content type %q", ct)
	}
}

// Events the leader stamped before CountFrom (a restarted master replaying
// its log) do not move the task counters.
func TestReplayedEventsAreNotCounted(t *testing.T) {
	m := NewMetrics(nil)
	m.CountFrom(t0.Add(time.Minute))
	old := &fsm.Task{ID: 1, Name: "n", Queue: "q", Status: fsm.StatusCompleted}
	m.observeEvents([]fsm.Event{{Index: 1, Type: "task.completed", Time: t0, Task: old}})
	if got := counterValue(t, m, "shepherd_tasks_completed_total"); got != 0 {
		t.Fatalf("replayed completion counted: %v", got)
	}
	m.observeEvents([]fsm.Event{{Index: 2, Type: "task.completed", Time: t0.Add(2 * time.Minute), Task: old}})
	if got := counterValue(t, m, "shepherd_tasks_completed_total"); got != 1 {
		t.Fatalf("live completion counted %v times, want 1", got)
	}
}
