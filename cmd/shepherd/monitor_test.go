package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/shepherd/shepherd/api/client"
	"github.com/shepherd/shepherd/fsm"
	"github.com/shepherd/shepherd/worker"
)

// seqEvent is what the stream tests compare: a replicated event's index,
// type and subject.
type seqEvent struct {
	Index uint64
	Type  string
	ID    string
}

func (e seqEvent) String() string { return fmt.Sprintf("%d %s %s", e.Index, e.Type, e.ID) }

func seqOf(ev client.Event) seqEvent {
	s := seqEvent{Index: ev.Index, Type: ev.Type}
	switch {
	case ev.Task != nil:
		s.ID = strconv.FormatInt(ev.Task.ID, 10)
	case ev.Worker != nil:
		s.ID = ev.Worker.ID
	case ev.Server != nil:
		s.ID = ev.Server.ID
	}
	return s
}

// collector follows one master's event stream (client.EventStream, which
// reconnects to the same master) from a state.snapshot on.
type collector struct {
	mu     sync.Mutex
	start  uint64 // index of the first snapshot
	seq    []seqEvent
	resets int
}

func collect(t *testing.T, ctx context.Context, masters ...string) *collector {
	ctx, cancel := context.WithCancel(ctx)
	col := &collector{}
	started := make(chan struct{})
	done := make(chan struct{})
	go func(started chan struct{}) {
		defer close(done)
		s := client.New(masters).Events(client.EventOptions{Snapshot: true})
		defer s.Close()
		for {
			ev, err := s.Next(ctx)
			if err != nil {
				return
			}
			col.mu.Lock()
			switch {
			case ev.Type == "state.snapshot" && started != nil:
				col.start = ev.Index
				close(started)
				started = nil
			case ev.Type == "stream.reset":
				col.resets++
			case ev.Replicated():
				col.seq = append(col.seq, seqOf(ev))
			}
			col.mu.Unlock()
		}
	}(started)
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatalf("no state.snapshot from %v", masters)
	}
	return col
}

// between returns the events with from < index <= to.
func (c *collector) between(from, to uint64) []seqEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []seqEvent
	for _, e := range c.seq {
		if e.Index > from && e.Index <= to {
			out = append(out, e)
		}
	}
	return out
}

func (c *collector) last() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.seq) == 0 {
		return c.start
	}
	return c.seq[len(c.seq)-1].Index
}

// sameSeq fails the test at the first difference of two sequences.
func sameSeq(t *testing.T, what string, got, want []seqEvent) {
	t.Helper()
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Fatalf("%s: event %d is %v, want %v (got %d events, want %d)", what, i, got[i], want[i], len(got), len(want))
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d events, want %d", what, len(got), len(want))
	}
}

// dialEvents opens a raw /v1/events WebSocket.
func dialEvents(t *testing.T, d *websocket.Dialer, addr, query string) *websocket.Conn {
	t.Helper()
	conn, resp, err := d.Dial("ws://"+addr+"/v1/events?"+query, nil)
	if err != nil {
		t.Fatalf("dial %s?%s: %v (%v)", addr, query, err, resp)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// readReplicated reads the next replicated event, skipping node-local ones;
// a stream.reset fails the test (these resumes must be served in full).
func readReplicated(t *testing.T, conn *websocket.Conn) seqEvent {
	t.Helper()
	for {
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, data, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("read event: %v", err)
		}
		var ev client.Event
		if err := json.Unmarshal(data, &ev); err != nil {
			t.Fatalf("decode %s: %v", data, err)
		}
		if ev.Type == "stream.reset" {
			t.Fatalf("resume was not served: %s", data)
		}
		if ev.Replicated() {
			return seqOf(ev)
		}
	}
}

func okHandler(_ context.Context, task client.Task) (json.RawMessage, error) {
	return task.Payload, nil
}

func boomHandler(context.Context, client.Task) (json.RawMessage, error) {
	return nil, errors.New("boom")
}

// TestEventStreamsAgreeAcrossMastersAndResumeAnywhere: three masters
// send identical (index, type, id) sequences for one workload, and a
// client cut off in the middle of an entry (or between entries) resumes
// on another master with since and ends with exactly that sequence.
func TestEventStreamsAgreeAcrossMastersAndResumeAnywhere(t *testing.T) {
	c := newLocalCluster(t, 3)
	leader := c.leader(15 * time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	// Every replica has applied what the leader had, so each snapshot
	// index is a resume point every master still holds.
	caughtUp := c.masters[leader].node.State().AppliedIndex()
	waitFor(t, 10*time.Second, "the replicas caught up", func() bool {
		for _, m := range c.masters {
			if m.node.State().AppliedIndex() < caughtUp {
				return false
			}
		}
		return true
	})
	cols := make([]*collector, 3)
	for i := range cols {
		cols[i] = collect(t, ctx, c.https[i])
	}
	handlers := map[string]worker.HandlerFunc{"count": okHandler, "boom": boomHandler}
	c.startWorker("w1", handlers)
	c.startWorker("w2", handlers)

	api := c.client()
	var ids []int64
	for b := range 4 { // batches: one entry carries 25 events
		reqs := make([]client.SubmitRequest, 25)
		for i := range reqs {
			reqs[i] = client.SubmitRequest{Name: "count", Payload: json.RawMessage(strconv.Itoa(b*25 + i))}
		}
		tasks, err := api.SubmitBatch(ctx, reqs)
		if err != nil {
			t.Fatalf("submit batch %d: %v", b, err)
		}
		for _, task := range tasks {
			ids = append(ids, task.ID)
		}
	}
	for i := range 5 {
		if _, _, err := api.Submit(ctx, client.SubmitRequest{Name: "boom", MaxAttempts: 1,
			IdempotencyKey: fmt.Sprintf("boom-%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	state := c.masters[leader].node.State()
	waitFor(t, 30*time.Second, "100 tasks completed and 5 failed", func() bool {
		n := countStatus(state)
		return n[fsm.StatusCompleted] == 100 && n[fsm.StatusFailed] == 5
	})
	end := state.AppliedIndex()
	for i, col := range cols {
		waitFor(t, 10*time.Second, fmt.Sprintf("m%d streamed up to index %d", i+1, end), func() bool { return col.last() >= end })
	}
	from := max(cols[0].start, cols[1].start, cols[2].start)
	ref := cols[leader].between(from, end)
	for i, col := range cols {
		sameSeq(t, fmt.Sprintf("m%d's stream against m%d's", i+1, leader+1), col.between(from, end), ref)
		col.mu.Lock()
		resets := col.resets
		col.mu.Unlock()
		if resets != 0 {
			t.Errorf("m%d sent %d stream resets", i+1, resets)
		}
	}
	kinds := map[string]int{}
	for _, e := range ref {
		kinds[e.Type]++
	}
	if kinds["task.submitted"] != 105 || kinds["task.completed"] != 100 || kinds["task.failed"] != 5 {
		t.Fatalf("event counts %v", kinds)
	}
	t.Logf("%d identical events on 3 masters, indexes %d..%d: %v", len(ref), from+1, end, kinds)

	// Cut a reader off inside an entry (the next event has the same index)
	// and resume on another master with since=last-1, skipping what it has.
	other1, other2 := c.https[(leader+1)%3], c.https[(leader+2)%3]
	cut := slices.IndexFunc(ref, func(e seqEvent) bool { return e.Type == "task.submitted" })
	cut += 3
	if ref[cut].Index != ref[cut-1].Index {
		t.Fatalf("events %v and %v are not one entry", ref[cut-1], ref[cut])
	}
	resumeAt(t, ref, cut, from, end, other1, other2, true)
	// And between two entries, with since=last, on the leader.
	cut += 30
	for ref[cut].Index == ref[cut-1].Index {
		cut++
	}
	resumeAt(t, ref, cut, from, end, other2, c.https[leader], false)
}

// resumeAt reads the first cut events of ref from one master, disconnects,
// resumes on another and checks the whole is ref, without gap or
// duplicate.
func resumeAt(t *testing.T, ref []seqEvent, cut int, from, end uint64, first, second string, midEntry bool) {
	t.Helper()
	d := &websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	conn := dialEvents(t, d, first, "since="+strconv.FormatUint(from, 10))
	var got []seqEvent
	for len(got) < cut {
		got = append(got, readReplicated(t, conn))
	}
	conn.Close()
	last := got[len(got)-1].Index
	have := 0
	for _, e := range got {
		if e.Index == last {
			have++
		}
	}
	since := last
	if midEntry {
		since = last - 1
	}
	conn = dialEvents(t, d, second, "since="+strconv.FormatUint(since, 10))
	skip := 0
	if midEntry {
		skip = have
	}
	for {
		e := readReplicated(t, conn)
		if e.Index > end {
			break
		}
		if e.Index == last && skip > 0 {
			skip--
			continue
		}
		got = append(got, e)
	}
	sameSeq(t, fmt.Sprintf("cut after %d events (index %d, mid-entry %v) and resumed on another master", cut, last, midEntry), got, ref)
}

func countStatus(state *fsm.FSM) map[fsm.TaskStatus]int {
	out := map[fsm.TaskStatus]int{}
	for _, by := range state.Counts() {
		for st, n := range by {
			out[st] += n
		}
	}
	return out
}

// TestStuckSubscriberIsDroppedAndTasksKeepTheirPace: a subscriber that
// never reads is closed with 1013 once the ring overtakes it, and the
// task throughput with it connected matches the throughput without.
func TestStuckSubscriberIsDroppedAndTasksKeepTheirPace(t *testing.T) {
	c := newLocalCluster(t, 3, func(cfg *masterConfig) {
		cfg.Monitor.Capacity = 512
		cfg.Monitor.WriteWait = time.Minute // the stuck writer waits; the ring decides
	})
	leader := c.leader(15 * time.Second)
	c.startWorker("w1", map[string]worker.HandlerFunc{"count": okHandler})
	c.startWorker("w2", map[string]worker.HandlerFunc{"count": okHandler})
	api := c.client()
	state := c.masters[leader].node.State()
	payload := json.RawMessage(`"` + strings.Repeat("x", 2048) + `"`)
	run := func(n int) float64 {
		t.Helper()
		target := countStatus(state)[fsm.StatusCompleted] + n
		start := time.Now()
		for sent := 0; sent < n; sent += 50 {
			reqs := make([]client.SubmitRequest, min(50, n-sent))
			for i := range reqs {
				reqs[i] = client.SubmitRequest{Name: "count", Payload: payload}
			}
			if _, err := api.SubmitBatch(context.Background(), reqs); err != nil {
				t.Fatalf("submit: %v", err)
			}
		}
		waitFor(t, 60*time.Second, fmt.Sprintf("%d tasks completed", n), func() bool {
			return countStatus(state)[fsm.StatusCompleted] >= target
		})
		return float64(n) / time.Since(start).Seconds()
	}
	run(100) // warm up
	without := run(600)

	hub := c.masters[leader].hub
	before := hub.Subscribers()
	// The stuck subscriber, on the leader, never reads: socket buffers
	// fill (about a megabyte: the tasks carry 2 KiB each), the hub's writer
	// blocks and the ring (512 events) overtakes it.
	d := &websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	stuck := dialEvents(t, d, c.https[leader], "")
	waitFor(t, 5*time.Second, "the stuck subscriber registered", func() bool { return hub.Subscribers() == before+1 })
	dropped0 := scrapeValue(t, c.https[leader], "shepherd_event_subscribers_dropped_total", nil)
	with := run(600)
	for extra := 0; scrapeValue(t, c.https[leader], "shepherd_event_subscribers_dropped_total", nil) == dropped0; extra++ {
		if extra == 20 {
			t.Fatal("the stuck subscriber was never dropped")
		}
		run(50) // not measured: the ring has not overtaken it yet
	}
	ratio := with / without
	t.Logf("throughput without a stuck subscriber %.0f tasks/s, with one %.0f tasks/s (%.0f%%)", without, with, 100*ratio)
	if ratio < 0.7 {
		t.Errorf("a stuck subscriber slowed tasks to %.0f%% of their pace", 100*ratio)
	}
	// Once it reads, it finds what the socket held, then the 1013 close.
	stuck.SetReadDeadline(time.Now().Add(30 * time.Second))
	for n, size := 0, 0; ; n++ {
		_, msg, err := stuck.ReadMessage()
		if err == nil {
			size += len(msg)
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseTryAgainLater {
			t.Fatalf("stuck subscriber ended with %v after %d messages (%d bytes), want close 1013", err, n, size)
		}
		break
	}
	waitFor(t, 10*time.Second, "the stuck subscriber removed", func() bool { return hub.Subscribers() == before })
}

// scrape fetches /metrics of a master and parses it with the Prometheus
// text parser.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/metrics", nil)
	req.Header.Set("Accept", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// familyValue sums the samples whose labels include want (histograms:
// their sample counts).
func familyValue(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	var sum float64
	for _, m := range fams[name].GetMetric() {
		match := true
		for k, v := range want {
			found := false
			for _, l := range m.GetLabel() {
				found = found || (l.GetName() == k && l.GetValue() == v)
			}
			match = match && found
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

func scrapeValue(t *testing.T, addr, name string, labels map[string]string) float64 {
	t.Helper()
	return familyValue(scrape(t, addr), name, labels)
}

// TestMetricsOfARealMasterMoveWithTheWorkload scrapes a follower of a
// running cluster over HTTP before and after a workload.
func TestMetricsOfARealMasterMoveWithTheWorkload(t *testing.T) {
	c := newLocalCluster(t, 3)
	leader := c.leader(15 * time.Second)
	follower := c.https[(leader+1)%3]
	c.startWorker("w1", map[string]worker.HandlerFunc{"count": okHandler, "boom": boomHandler})
	waitFor(t, 10*time.Second, "w1 known to the follower", func() bool {
		return scrapeValue(t, follower, "shepherd_workers", map[string]string{"status": "ready"}) == 1
	})
	before := scrape(t, follower)
	api := c.client()
	ids := submitN(t, api, 20, "metrics")
	for i := range 3 {
		if _, _, err := api.Submit(context.Background(), client.SubmitRequest{Name: "boom", MaxAttempts: 1,
			IdempotencyKey: fmt.Sprintf("metrics-boom-%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 20*time.Second, "the workload done on the follower", func() bool {
		n := countStatus(c.masters[(leader+1)%3].node.State())
		return allCompleted(context.Background(), api, ids) && n[fsm.StatusFailed] == 3
	})
	var after map[string]*dto.MetricFamily
	q := map[string]string{"queue": "default"}
	waitFor(t, 5*time.Second, "the follower's counters", func() bool {
		after = scrape(t, follower)
		return familyValue(after, "shepherd_tasks_completed_total", q) == 20
	})
	for _, tc := range []struct {
		name   string
		labels map[string]string
		delta  float64
	}{
		{"shepherd_tasks_submitted_total", q, 23},
		{"shepherd_tasks_completed_total", q, 20},
		{"shepherd_tasks_failed_total", q, 3},
		{"shepherd_tasks", map[string]string{"queue": "default", "status": "completed"}, 20},
		{"shepherd_task_submit_to_lease_seconds", q, 23},
		{"shepherd_task_run_seconds", map[string]string{"queue": "default", "outcome": "completed"}, 20},
	} {
		if d := familyValue(after, tc.name, tc.labels) - familyValue(before, tc.name, tc.labels); d != tc.delta {
			t.Errorf("%s%v moved by %v, want %v", tc.name, tc.labels, d, tc.delta)
		}
	}
	for _, name := range []string{"shepherd_events_total", "shepherd_raft_applied_index", "shepherd_raft_commit_index"} {
		if familyValue(after, name, nil) <= familyValue(before, name, nil) {
			t.Errorf("%s did not grow: %v -> %v", name, familyValue(before, name, nil), familyValue(after, name, nil))
		}
	}
	if familyValue(after, "shepherd_http_request_duration_seconds", nil) == 0 {
		t.Error("no HTTP requests recorded")
	}
	// Exactly one master reports itself leader (leadership may have moved
	// since the start on a busy machine: ask every master).
	var roles []string
	var leaderAfter map[string]*dto.MetricFamily
	waitFor(t, 5*time.Second, "one leader and two followers in shepherd_raft_state", func() bool {
		roles = roles[:0]
		leaders := 0
		for _, addr := range c.https {
			fams := scrape(t, addr)
			for _, role := range []string{"leader", "follower", "candidate"} {
				if familyValue(fams, "shepherd_raft_state", map[string]string{"state": role}) == 1 {
					roles = append(roles, role)
				}
			}
			if familyValue(fams, "shepherd_raft_state", map[string]string{"state": "leader"}) == 1 {
				leaders++
				leaderAfter = fams
			}
		}
		return leaders == 1 && len(roles) == 3
	})
	if familyValue(leaderAfter, "shepherd_raft_apply_duration_seconds", nil) == 0 {
		t.Error("the leader recorded no apply latency")
	}
}
