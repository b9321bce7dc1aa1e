package monitor

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shepherd/shepherd/api/client"
	"github.com/shepherd/shepherd/fsm"
)

func TestEventsCarryIndexAndWireShape(t *testing.T) {
	e := newEnv(t, Config{})
	s := mustSubscribe(t, e.hub, SubscribeOptions{})
	e.register("w1")
	id := e.submit("email.send", "default")
	e.lease("w1", id)
	e.complete("w1", id)

	msgs := drain(t, s)
	var got []string
	for _, m := range msgs {
		got = append(got, fmt.Sprintf("%d %s", m.Index, m.Type))
		if m.Node != "m1" {
			t.Errorf("node = %q", m.Node)
		}
	}
	want := []string{"1 worker.registered", "2 task.submitted", "3 task.leased", "4 task.completed"}
	if !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	var sub map[string]any
	json.Unmarshal(msgs[1].Task, &sub)
	if sub["timeout"] != "30s" || sub["status"] != "pending" || sub["lease_expires_at"] != nil || sub["id"] != float64(id) {
		t.Errorf("submitted task JSON: %s", msgs[1].Task)
	}
	var leased client.Task
	json.Unmarshal(msgs[2].Task, &leased)
	if leased.Status != "running" || leased.WorkerID != "w1" || leased.LeaseExpiresAt == nil || leased.Attempt != 1 {
		t.Errorf("leased task JSON: %s", msgs[2].Task)
	}
	var w map[string]any
	json.Unmarshal(msgs[0].Worker, &w)
	if w["status"] != "ready" || w["running"] == nil {
		t.Errorf("worker JSON: %s", msgs[0].Worker)
	}
}

func TestLiveSubscriptionStartsAtTheEnd(t *testing.T) {
	e := newEnv(t, Config{})
	e.submit("a", "default")
	s := mustSubscribe(t, e.hub, SubscribeOptions{})
	e.submit("b", "default")
	msgs := drain(t, s)
	if len(msgs) != 1 || msgs[0].Index != 2 {
		t.Fatalf("live subscription got %d messages (first index %v)", len(msgs), msgs)
	}
}

func TestResumeWithSinceHasNoGapOrDuplicate(t *testing.T) {
	e := newEnv(t, Config{Capacity: 1000})
	full := mustSubscribe(t, e.hub, SubscribeOptions{Resume: true})
	first := mustSubscribe(t, e.hub, SubscribeOptions{Resume: true})
	e.register("w1")
	var got []uint64
	for i := range 40 {
		id := e.submit(fmt.Sprint("t", i), "default")
		e.lease("w1", id)
		e.complete("w1", id)
		if i == 19 {
			for _, m := range drain(t, first) {
				got = append(got, m.Index)
			}
			first.Close()
		}
	}
	since := got[len(got)-1]
	resumed := mustSubscribe(t, e.hub, SubscribeOptions{Resume: true, Since: since})
	for _, m := range drain(t, resumed) {
		got = append(got, m.Index)
	}
	var want []uint64
	for _, m := range drain(t, full) {
		want = append(want, m.Index)
	}
	if len(want) != 121 || !slices.Equal(got, want) {
		t.Fatalf("resumed sequence differs: got %d events, want %d", len(got), len(want))
	}
}

func TestSinceOlderThanRingSendsResetThenSnapshot(t *testing.T) {
	e := newEnv(t, Config{Capacity: 8})
	e.register("w1")
	for i := range 20 {
		e.submit(fmt.Sprint("t", i), "q")
	}
	s := mustSubscribe(t, e.hub, SubscribeOptions{Resume: true, Since: 3})
	e.submit("after", "q")
	msgs := drain(t, s)
	if len(msgs) != 3 || msgs[0].Type != "stream.reset" || msgs[1].Type != "state.snapshot" {
		t.Fatalf("got %d messages starting %v", len(msgs), msgs)
	}
	if msgs[0].Since != 3 {
		t.Errorf("reset since = %d", msgs[0].Since)
	}
	snap := msgs[1]
	if snap.Index != 21 || snap.Counts["q"]["pending"] != 20 {
		t.Errorf("snapshot index %d counts %v", snap.Index, snap.Counts)
	}
	if msgs[2].Index != 22 || msgs[2].Type != "task.submitted" {
		t.Errorf("live event after snapshot: %+v", msgs[2])
	}
	// A since the ring still covers needs no reset.
	ok := mustSubscribe(t, e.hub, SubscribeOptions{Resume: true, Since: 19})
	if m := drain(t, ok); len(m) != 3 || m[0].Index != 20 {
		t.Errorf("resume inside the ring: %v", m)
	}
}

func TestSnapshotOptionSkipsEventsItCovers(t *testing.T) {
	e := newEnv(t, Config{})
	e.submit("a", "q")
	s := mustSubscribe(t, e.hub, SubscribeOptions{Snapshot: true})
	e.submit("b", "q")
	msgs := drain(t, s)
	if len(msgs) != 2 || msgs[0].Type != "state.snapshot" || msgs[0].Index != 1 || msgs[1].Index != 2 {
		t.Fatalf("got %v", msgs)
	}
}

func TestSubscriberThatNeverReadsIsDroppedWithoutSlowingObserve(t *testing.T) {
	m := NewMetrics(nil)
	h, err := NewHub(Config{State: fsm.New(nil), NodeID: "m1", Capacity: 128, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	stuck := mustSubscribe(t, h, SubscribeOptions{})
	reader := mustSubscribe(t, h, SubscribeOptions{})
	task := &fsm.Task{ID: 1, Name: "n", Queue: "q", Status: fsm.StatusPending}
	var worst time.Duration
	var read int
	for i := 1; i <= 20000; i++ {
		start := time.Now()
		h.Observe([]fsm.Event{{Index: uint64(i), Type: "task.progress", Time: t0, Task: task}})
		worst = max(worst, time.Since(start))
		if i%50 == 0 {
			msgs, err := reader.Next(nil, 1000)
			if err != nil {
				t.Fatalf("reading subscriber dropped at %d: %v", i, err)
			}
			read += len(msgs)
		}
	}
	if code, _ := stuck.CloseCode(); code != CodeTryAgainLater {
		t.Fatalf("stuck subscriber close code = %d, want 1013", code)
	}
	if _, err := stuck.Next(nil, 10); err != ErrClosed {
		t.Fatalf("Next on a dropped subscriber = %v", err)
	}
	if read != 20000 {
		t.Fatalf("reading subscriber got %d of 20000", read)
	}
	// Generous for -race on a shared CI box; a blocking Observe would
	// stall forever instead.
	if worst > 50*time.Millisecond {
		t.Fatalf("slowest Observe took %v", worst)
	}
	if got := counterValue(t, m, "shepherd_event_subscribers_dropped_total"); got != 1 {
		t.Fatalf("dropped counter = %v", got)
	}
}

func TestFilters(t *testing.T) {
	e := newEnv(t, Config{})
	byType := mustSubscribe(t, e.hub, SubscribeOptions{Types: []string{"worker."}})
	byQueue := mustSubscribe(t, e.hub, SubscribeOptions{Queue: "mail", Types: []string{"task."}})
	byName := mustSubscribe(t, e.hub, SubscribeOptions{Name: "resize", Types: []string{"task.sub", "task.lea"}})
	e.register("w1")
	a := e.submit("send", "mail")
	b := e.submit("resize", "images")
	e.lease("w1", a, b)

	check := func(name string, s *Subscription, want []string) {
		t.Helper()
		var got []string
		for _, m := range drain(t, s) {
			got = append(got, fmt.Sprintf("%d %s", m.Index, m.Type))
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", name, got, want)
		}
	}
	check("types", byType, []string{"1 worker.registered"})
	check("queue", byQueue, []string{"2 task.submitted", "4 task.leased"})
	check("name", byName, []string{"3 task.submitted", "4 task.leased"})
}

func TestParseQuery(t *testing.T) {
	o, err := ParseQuery(map[string][]string{"since": {"57"}, "types": {"task.,worker."}, "queue": {"q"}, "name": {"n"}})
	if err != nil || !o.Resume || o.Since != 57 || !slices.Equal(o.Types, []string{"task.", "worker."}) || o.Queue != "q" || o.Name != "n" {
		t.Fatalf("ParseQuery = %+v, %v", o, err)
	}
	if _, err := ParseQuery(map[string][]string{"since": {"-1"}}); err == nil {
		t.Fatal("negative since accepted")
	}
}

func TestRestoredEndsSubscribersAndResetsResume(t *testing.T) {
	e := newEnv(t, Config{})
	e.submit("a", "q")
	s := mustSubscribe(t, e.hub, SubscribeOptions{})
	e.hub.Restored(50)
	if code, _ := s.CloseCode(); code != CodeTryAgainLater {
		t.Fatalf("close code after restore = %d", code)
	}
	r := mustSubscribe(t, e.hub, SubscribeOptions{Resume: true, Since: 1})
	if msgs := drain(t, r); len(msgs) < 2 || msgs[0].Type != "stream.reset" {
		t.Fatalf("resume after restore: %v", msgs)
	}
}

func TestLeaderChangesAndNodeMetricsAreLive(t *testing.T) {
	fc := &fakeCluster{id: "m1"}
	fc.set("m2", 3)
	m := NewMetrics(nil)
	e := newEnv(t, Config{Cluster: fc, Metrics: m, StatusInterval: 5 * time.Millisecond, MetricsInterval: 20 * time.Millisecond})
	e.hub.Start()
	s := mustSubscribe(t, e.hub, SubscribeOptions{Types: []string{"node."}})
	waitFor(t, "first status poll", func() bool { return e.hub.status.Load() != nil })
	fc.set("m1", 4)
	var sawLeader, sawMetrics bool
	deadline := time.After(5 * time.Second)
	for !sawLeader || !sawMetrics {
		select {
		case b := <-s.Local():
			var ev struct {
				Type   string
				Term   uint64
				Leader *leaderInfo
				Raft   raftInfo
			}
			json.Unmarshal(b, &ev)
			switch ev.Type {
			case "node.leader_changed":
				sawLeader = sawLeader || (ev.Leader != nil && ev.Leader.ID == "m1" && ev.Term == 4)
			case "node.metrics":
				sawMetrics = ev.Raft.Term > 0 && ev.Raft.CommitIndex == 10
			default:
				t.Fatalf("unexpected local event %s", b)
			}
		case <-deadline:
			t.Fatalf("leader event %v, metrics event %v", sawLeader, sawMetrics)
		}
	}
	if got := counterValue(t, m, "shepherd_raft_leader_changes_total"); got < 2 {
		t.Fatalf("leader changes counter = %v, want >= 2", got)
	}
}

// A fresh connection's state.snapshot lists the last events it selects,
// up to the snapshot's index, as history; a resume's snapshot does not.
func TestFreshSnapshotCarriesRecentHistory(t *testing.T) {
	e := newEnv(t, Config{})
	for range recentEvents + 5 {
		e.submit("a", "q1")
	}
	e.submit("b", "q2")
	s := mustSubscribe(t, e.hub, SubscribeOptions{Snapshot: true, Queue: "q1"})
	msgs := drain(t, s)
	var snap struct {
		Index  uint64            `json:"index"`
		Recent []json.RawMessage `json:"recent"`
	}
	if err := json.Unmarshal(msgs[0].raw, &snap); err != nil {
		t.Fatal(err)
	}
	if len(snap.Recent) != recentEvents {
		t.Fatalf("recent holds %d events, want %d", len(snap.Recent), recentEvents)
	}
	first, last := decode(t, snap.Recent[0]), decode(t, snap.Recent[len(snap.Recent)-1])
	if first.Index >= last.Index || last.Index != uint64(recentEvents+5) {
		t.Fatalf("recent runs %d..%d, want oldest first ending at %d (q2's event filtered out)",
			first.Index, last.Index, recentEvents+5)
	}
	resumed := mustSubscribe(t, e.hub, SubscribeOptions{Snapshot: true, Resume: true, Since: 3})
	if m := drain(t, resumed); len(m) == 0 || strings.Contains(string(m[0].raw), `"recent"`) {
		t.Fatalf("a resume's snapshot carries history: %v", m)
	}
}
