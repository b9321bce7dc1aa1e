package cluster

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shepherd/shepherd/fsm"
)

// restart stops a node and starts it again from its data dir.
func (c *testCluster) restart(n *Node) {
	c.stop(n)
	for i, cfg := range c.cfgs {
		if cfg.ID == n.cfg.ID {
			c.start(i)
		}
	}
}

// parkedPolls is the number of polls parked on the leader's dispatcher.
func parkedPolls(n *Node) int {
	ls := n.leader()
	if ls == nil {
		return 0
	}
	ls.dispatcher.mu.Lock()
	defer ls.dispatcher.mu.Unlock()
	return len(ls.dispatcher.waiters)
}

// dispatchShares parks one poll of each worker, submits one task at a time
// and counts which worker each goes to. busy runs three long tasks and
// reports a high load; idle runs nothing.
func dispatchShares(t *testing.T, policy string, rounds int) map[string]int {
	c := newTestClusterWith(t, 1, func(cfg *Config) { cfg.Semantics.Dispatch = policy })
	n := c.waitLeader(10 * time.Second)
	ctx := context.Background()
	register(t, n, "busy")
	register(t, n, "idle")
	long := spec("long")
	long.Timeout = time.Hour
	if _, _, err := n.Submit(ctx, []fsm.TaskSpec{long, long, long}); err != nil {
		t.Fatal(err)
	}
	if res, err := n.Poll(ctx, "busy", PollRequest{Max: 3, Queues: []string{"default"}}); err != nil || len(res.Tasks) != 3 {
		t.Fatalf("busy poll: %v %v", res, err)
	}
	beat := func() {
		_, _ = n.Heartbeat(ctx, "busy", Heartbeat{CPU: 0.9, Memory: 0.8, Running: []int64{1, 2, 3}})
		_, _ = n.Heartbeat(ctx, "idle", Heartbeat{CPU: 0.1, Memory: 0.2})
	}
	got := make(chan string, 2)
	poll := func(id string) {
		go func() {
			res, err := n.Poll(ctx, id, PollRequest{Max: 1, Wait: 10 * time.Second, Queues: []string{"default"}})
			if err == nil && len(res.Tasks) == 1 {
				_, _ = n.Complete(ctx, id, Completion{TaskID: res.Tasks[0].ID, Attempt: 1})
			}
			got <- id
		}()
	}
	poll("busy")
	poll("idle")
	shares := map[string]int{}
	for range rounds {
		beat()
		waitFor(t, 5*time.Second, "both polls parked", func() bool { return parkedPolls(n) == 2 })
		if _, _, err := n.Submit(ctx, []fsm.TaskSpec{spec("short")}); err != nil {
			t.Fatal(err)
		}
		id := <-got
		shares[id]++
		poll(id)
	}
	return shares
}

func TestLeastLoadedFavoursTheIdleWorker(t *testing.T) {
	const rounds = 12
	ll := dispatchShares(t, DispatchLeastLoaded, rounds)
	rr := dispatchShares(t, DispatchRoundRobin, rounds)
	t.Logf("least-loaded %v, round-robin %v", ll, rr)
	if ll["idle"] != rounds {
		t.Errorf("least-loaded gave the idle worker %d of %d tasks", ll["idle"], rounds)
	}
	if rr["busy"] < rounds/2-1 || rr["idle"] < rounds/2-1 {
		t.Errorf("round-robin shares %v are not even", rr)
	}
}

func TestAffinityKeepsAKeyOnOneWorker(t *testing.T) {
	c := newTestClusterWith(t, 1, func(cfg *Config) { cfg.Semantics.Dispatch = DispatchAffinity })
	n := c.waitLeader(10 * time.Second)
	ctx := context.Background()
	workers := []string{"w1", "w2", "w3"}
	for _, w := range workers {
		register(t, n, w)
	}
	owners := map[string]map[string]bool{}
	for round := range 6 {
		key := fmt.Sprintf("k%d", round%2)
		sp := spec("sticky")
		sp.AffinityKey = key
		if _, _, err := n.Submit(ctx, []fsm.TaskSpec{sp}); err != nil {
			t.Fatal(err)
		}
		got := make(chan string, len(workers))
		pctx, cancel := context.WithCancel(ctx)
		for _, w := range workers {
			go func() {
				res, err := n.Poll(pctx, w, PollRequest{Max: 1, Wait: 5 * time.Second, Queues: []string{"default"}})
				if err == nil && len(res.Tasks) == 1 {
					_, _ = n.Complete(ctx, w, Completion{TaskID: res.Tasks[0].ID, Attempt: 1})
					got <- w
				}
			}()
		}
		w := <-got
		cancel()
		if owners[key] == nil {
			owners[key] = map[string]bool{}
		}
		owners[key][w] = true
		waitFor(t, 5*time.Second, "polls gone", func() bool { return parkedPolls(n) == 0 })
	}
	for key, ws := range owners {
		if len(ws) != 1 {
			t.Errorf("key %s ran on %v, want one worker", key, ws)
		}
	}
}

func TestPauseResumeAndConcurrencyLimit(t *testing.T) {
	// An observer added before Open sees the running count after every entry.
	c := &testCluster{t: t, nodes: make(map[string]*Node), started: make(map[int]bool)}
	cfg := testConfig(t, "m1")
	cfg.BootstrapExpect = 1
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var maxRunning atomic.Int64
	n.State().AddObserver(fsm.ObserverFunc(func([]fsm.Event) {
		if r := int64(n.State().RunningIn("limited")); r > maxRunning.Load() {
			maxRunning.Store(r)
		}
	}))
	if err := n.Open(); err != nil {
		t.Fatal(err)
	}
	c.nodes[cfg.HTTPAddr] = n
	t.Cleanup(c.closeAll)
	c.waitLeader(10 * time.Second)
	ctx := context.Background()
	for _, w := range []string{"w1", "w2", "w3"} {
		register(t, n, w)
	}
	// Pause: a parked poll gets nothing until resume.
	paused := true
	if _, err := n.SetQueue(ctx, "default", &paused, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := n.Submit(ctx, []fsm.TaskSpec{spec("held")}); err != nil {
		t.Fatal(err)
	}
	if res, err := n.Poll(ctx, "w1", PollRequest{Max: 1, Wait: 200 * time.Millisecond, Queues: []string{"default"}}); err != nil || len(res.Tasks) != 0 {
		t.Fatalf("poll of a paused queue: %v %v", res, err)
	}
	got := make(chan PollResult, 1)
	go func() {
		res, _ := n.Poll(ctx, "w1", PollRequest{Max: 1, Wait: 5 * time.Second, Queues: []string{"default"}})
		got <- res
	}()
	waitFor(t, 5*time.Second, "parked poll", func() bool { return parkedPolls(n) == 1 })
	paused = false
	if _, err := n.SetQueue(ctx, "default", &paused, nil); err != nil {
		t.Fatal(err)
	}
	if res := <-got; len(res.Tasks) != 1 {
		t.Fatalf("resume did not restart dispatch: %+v", res)
	}

	// Limit: three workers polling four at a time never run more than two.
	limit := 2
	if _, err := n.SetQueue(ctx, "limited", nil, &limit); err != nil {
		t.Fatal(err)
	}
	var specs []fsm.TaskSpec
	for range 12 {
		sp := spec("capped")
		sp.Queue = "limited"
		specs = append(specs, sp)
	}
	if _, _, err := n.Submit(ctx, specs); err != nil {
		t.Fatal(err)
	}
	var done atomic.Int64
	var wg sync.WaitGroup
	for _, w := range []string{"w1", "w2", "w3"} {
		wg.Go(func() {
			var completed []Completion
			for done.Load() < int64(len(specs)) {
				res, err := n.Poll(ctx, w, PollRequest{Max: 4, Wait: 300 * time.Millisecond, Queues: []string{"limited"}, Completed: completed})
				if err != nil {
					t.Error(err)
					return
				}
				done.Add(int64(len(completed)))
				completed = completed[:0]
				for _, task := range res.Tasks {
					completed = append(completed, Completion{TaskID: task.ID, Attempt: task.Attempt})
				}
			}
		})
	}
	wg.Wait()
	if m := maxRunning.Load(); m > int64(limit) || m == 0 {
		t.Fatalf("queue ran up to %d tasks at once, limit %d", m, limit)
	}
}

func TestRetriesAndTimeoutsContinueOnTheNewLeader(t *testing.T) {
	c := newTestCluster(t, 3)
	leader := c.waitLeader(10 * time.Second)
	ctx := context.Background()
	register(t, leader, "w1")
	retried := spec("flaky")
	retried.MaxAttempts, retried.RetryBase, retried.RetryMax = 2, 400*time.Millisecond, 400*time.Millisecond
	slow := spec("slow")
	slow.Timeout, slow.MaxAttempts = 300*time.Millisecond, 3
	tasks, _, err := leader.Submit(ctx, []fsm.TaskSpec{retried, slow})
	if err != nil {
		t.Fatal(err)
	}
	res, err := leader.Poll(ctx, "w1", PollRequest{Max: 2, Queues: []string{"default"}})
	if err != nil || len(res.Tasks) != 2 {
		t.Fatalf("poll: %v %v", res, err)
	}
	failed, err := leader.Fail(ctx, "w1", Failure{TaskID: tasks[0].ID, Attempt: 1, Error: "boom", Retry: true})
	if err != nil || failed.Status != fsm.StatusScheduled {
		t.Fatalf("fail: %+v %v", failed, err)
	}
	if d := failed.RunAt.Sub(failed.UpdatedAt); d < 200*time.Millisecond || d > 400*time.Millisecond {
		t.Fatalf("retry backoff %v outside the task's [base/2, base]", d)
	}
	c.stop(leader)
	stopBeat := beatUntil(t, c, "w1")
	defer stopBeat()
	leader = c.waitLeader(10 * time.Second)
	// The new leader promotes the retry and expires the silent lease.
	waitFor(t, 10*time.Second, "retry due and lease expired on the new leader", func() bool {
		a, _ := leader.State().Task(tasks[0].ID)
		b, _ := leader.State().Task(tasks[1].ID)
		return a.Status == fsm.StatusPending && b.Status == fsm.StatusPending && b.Attempt == 1
	})
	res, err = leader.Poll(ctx, "w1", PollRequest{Max: 2, Queues: []string{"default"}})
	if err != nil || len(res.Tasks) != 2 || res.Tasks[0].Attempt != 2 {
		t.Fatalf("poll on the new leader: %+v %v", res, err)
	}
	if got, _ := leader.Fail(ctx, "w1", Failure{TaskID: tasks[0].ID, Attempt: 2, Error: "boom", Retry: true}); got.Status != fsm.StatusFailed {
		t.Fatalf("out of attempts: %s, want failed", got.Status)
	}
	again, err := leader.Retry(ctx, tasks[0].ID, 1)
	if err != nil || again.Status != fsm.StatusPending || again.MaxAttempts != 3 {
		t.Fatalf("manual retry: %+v %v", again, err)
	}
	if _, err := leader.Retry(ctx, tasks[0].ID, 1); err == nil {
		t.Fatal("retry of a pending task accepted")
	}
}

func TestHeartbeatExtendsLeases(t *testing.T) {
	c := newTestCluster(t, 1)
	n := c.waitLeader(10 * time.Second)
	ctx := context.Background()
	register(t, n, "w1")
	sp := spec("long")
	sp.Timeout = 300 * time.Millisecond
	if _, _, err := n.Submit(ctx, []fsm.TaskSpec{sp}); err != nil {
		t.Fatal(err)
	}
	res, err := n.Poll(ctx, "w1", PollRequest{Max: 1, Queues: []string{"default"}})
	if err != nil || len(res.Tasks) != 1 {
		t.Fatal(err)
	}
	id := res.Tasks[0].ID
	until := time.Now().Add(time.Second)
	for time.Now().Before(until) {
		if _, err := n.Heartbeat(ctx, "w1", Heartbeat{Running: []int64{id}, Extend: []int64{id},
			Progress: map[int64]float64{id: 0.5}, Messages: map[int64]string{id: "working"}}); err != nil {
			t.Fatal(err)
		}
		if got, _ := n.State().Task(id); got.Status != fsm.StatusRunning {
			t.Fatalf("extended lease expired: %s", got.Status)
		}
		time.Sleep(50 * time.Millisecond) // the heartbeat interval, not synchronisation
	}
	waitFor(t, 5*time.Second, "progress replicated", func() bool {
		got, _ := n.State().Task(id)
		return got.Progress == 0.5 && got.ProgressMessage == "working"
	})
	waitFor(t, 5*time.Second, "lease expiry once extensions stop", func() bool {
		_, _ = n.Heartbeat(ctx, "w1", Heartbeat{Running: []int64{id}})
		got, _ := n.State().Task(id)
		return got.Status == fsm.StatusPending
	})
}

func TestBroadcastRunsOncePerEligibleWorker(t *testing.T) {
	c := newTestCluster(t, 1)
	n := c.waitLeader(10 * time.Second)
	ctx := context.Background()
	for _, w := range []string{"gpu1", "gpu2", "cpu1"} {
		labels := map[string]string{"gpu": "yes"}
		if w == "cpu1" {
			labels = nil
		}
		if _, err := n.RegisterWorker(ctx, WorkerRegistration{ID: w, Capacity: 4, Labels: labels}); err != nil {
			t.Fatal(err)
		}
	}
	sp := spec("everywhere")
	sp.Broadcast, sp.Labels = true, map[string]string{"gpu": "yes"}
	tasks, _, err := n.Submit(ctx, []fsm.TaskSpec{sp})
	if err != nil || len(tasks[0].Children) != 2 {
		t.Fatalf("broadcast: %+v %v", tasks, err)
	}
	if res, _ := n.Poll(ctx, "cpu1", PollRequest{Max: 4, Queues: []string{"default"}}); len(res.Tasks) != 0 {
		t.Fatalf("ineligible worker got %v", res.Tasks)
	}
	ran := map[string]int64{}
	for _, w := range []string{"gpu1", "gpu2"} {
		res, err := n.Poll(ctx, w, PollRequest{Max: 4, Queues: []string{"default"}})
		if err != nil || len(res.Tasks) != 1 || res.Tasks[0].ParentID != tasks[0].ID {
			t.Fatalf("%s polled %+v %v", w, res.Tasks, err)
		}
		ran[w] = res.Tasks[0].ID
		if _, err := n.Complete(ctx, w, Completion{TaskID: res.Tasks[0].ID, Attempt: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if ran["gpu1"] == ran["gpu2"] {
		t.Fatal("both workers ran the same child")
	}
	if parent, _ := n.State().Task(tasks[0].ID); parent.Status != fsm.StatusCompleted {
		t.Fatalf("parent = %s, want completed", parent.Status)
	}
}

func TestRetentionPurgesFinishedTasksAndTheirKeys(t *testing.T) {
	c := newTestClusterWith(t, 1, func(cfg *Config) {
		cfg.Semantics.Retention, cfg.Semantics.RetentionInterval = 300*time.Millisecond, 50*time.Millisecond
	})
	n := c.waitLeader(10 * time.Second)
	ctx := context.Background()
	register(t, n, "w1")
	keyed := spec("keyed")
	keyed.IdempotencyKey = "once"
	tasks, _, err := n.Submit(ctx, []fsm.TaskSpec{keyed, spec("open")})
	if err != nil {
		t.Fatal(err)
	}
	res, err := n.Poll(ctx, "w1", PollRequest{Max: 1, Queues: []string{"default"}})
	if err != nil || len(res.Tasks) != 1 {
		t.Fatal(err)
	}
	if _, err := n.Complete(ctx, "w1", Completion{TaskID: tasks[0].ID, Attempt: 1}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "finished task purged", func() bool {
		_, ok := n.State().Task(tasks[0].ID)
		return !ok
	})
	if _, ok := n.State().Task(tasks[1].ID); !ok {
		t.Fatal("an unfinished task was purged")
	}
	again, existing, err := n.Submit(ctx, []fsm.TaskSpec{keyed})
	if err != nil || existing[0] || again[0].ID == tasks[0].ID {
		t.Fatalf("the purged task's key still answers: %+v %v %v", again, existing, err)
	}
}

// TestScheduleFiresEachTickOnceAcrossLeaderKills: a per-second schedule
// keeps firing while the leader is killed (and restarted) three times;
// every tick from the first to the last fired exactly once.
func TestScheduleFiresEachTickOnceAcrossLeaderKills(t *testing.T) {
	c := newTestClusterWith(t, 3, func(cfg *Config) { cfg.Semantics.MisfireGrace = 30 * time.Second })
	leader := c.waitLeader(10 * time.Second)
	ctx := context.Background()
	tmpl := spec("tick")
	sched, err := leader.PutSchedule(ctx, fsm.Schedule{Cron: "* * * * * *", Overlap: fsm.OverlapAllow,
		Misfire: fsm.MisfireSkip, Task: tmpl})
	if err != nil {
		t.Fatal(err)
	}
	fired := func(n *Node) int64 { s, _ := n.State().Schedule(sched.ID); return s.Fired }
	for kill := range 3 {
		waitFor(t, 10*time.Second, "a tick on this leader", func() bool { return fired(leader) >= int64(2*kill+2) })
		c.restart(leader)
		leader = c.waitLeader(10 * time.Second)
	}
	waitFor(t, 10*time.Second, "ticks after the last kill", func() bool { return fired(leader) >= 9 })
	if _, err := leader.DeleteSchedule(ctx, sched.ID); err != nil {
		t.Fatal(err)
	}
	all, _ := leader.State().ListTasks(fsm.TaskFilter{Name: "tick"}, 0, 1000)
	var ticks []time.Time
	for _, task := range all {
		if task.ScheduleID != sched.ID || task.IdempotencyKey != fsm.ScheduleKey(sched.ID, task.ScheduleTick) {
			t.Fatalf("task %+v is not a run of the schedule", task)
		}
		ticks = append(ticks, task.ScheduleTick)
	}
	slices.SortFunc(ticks, func(a, b time.Time) int { return a.Compare(b) })
	for i := 1; i < len(ticks); i++ {
		if d := ticks[i].Sub(ticks[i-1]); d != time.Second {
			t.Fatalf("ticks %v and %v are %v apart (want each second exactly once)", ticks[i-1], ticks[i], d)
		}
	}
	t.Logf("%d ticks, each once, across 3 leader kills", len(ticks))
}

// A paused schedule fires nothing; resumed, it fires again from the
// resume on, without running the ticks of the pause late.
func TestPausedScheduleFiresNothingAndResumesWithoutBacklog(t *testing.T) {
	c := newTestClusterWith(t, 1, func(cfg *Config) { cfg.Semantics.MisfireGrace = time.Minute })
	n := c.waitLeader(10 * time.Second)
	ctx := context.Background()
	sched, err := n.PutSchedule(ctx, fsm.Schedule{Cron: "* * * * * *", Overlap: fsm.OverlapAllow,
		Misfire: fsm.MisfireSkip, Task: spec("tick")})
	if err != nil {
		t.Fatal(err)
	}
	fired := func() int64 { s, _ := n.State().Schedule(sched.ID); return s.Fired }
	waitFor(t, 5*time.Second, "a first tick", func() bool { return fired() >= 1 })
	if _, err := n.PauseSchedule(ctx, sched.ID, true); err != nil {
		t.Fatal(err)
	}
	atPause := fired()
	paused, _ := n.State().Schedule(sched.ID)
	// Two ticks' worth of time passes on the leader's clock while paused.
	waitFor(t, 5*time.Second, "two seconds of pause", func() bool {
		return time.Since(paused.UpdatedAt) > 2*time.Second
	})
	if got := fired(); got != atPause {
		t.Fatalf("paused schedule fired %d more ticks", got-atPause)
	}
	resumed, err := n.PauseSchedule(ctx, sched.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "a tick after the resume", func() bool { return fired() > atPause })
	all, _ := n.State().ListTasks(fsm.TaskFilter{Name: "tick"}, 0, 1000)
	for _, task := range all {
		if task.ScheduleTick.After(paused.UpdatedAt) && !task.ScheduleTick.After(resumed.UpdatedAt) {
			t.Fatalf("tick %v of the pause fired after the resume", task.ScheduleTick)
		}
	}
}
