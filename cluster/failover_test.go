package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/shepherd/shepherd/fsm"
)

func TestLeaderLossElectsNewLeaderAndKeepsTasks(t *testing.T) {
	c := newTestCluster(t, 3)
	old := c.waitLeader(10 * time.Second)
	ctx := context.Background()
	tasks, _, err := old.Submit(ctx, []fsm.TaskSpec{spec("a"), spec("b")})
	if err != nil {
		t.Fatal(err)
	}
	killedAt := time.Now()
	c.stop(old)
	leader := c.waitLeader(5 * time.Second)
	t.Logf("new leader %s after %v", leader.cfg.ID, time.Since(killedAt))
	for _, want := range tasks {
		got, ok := leader.State().Task(want.ID)
		if !ok || got.Status != fsm.StatusPending {
			t.Fatalf("task %d after failover: %+v", want.ID, got)
		}
	}
	more, _, err := leader.Submit(ctx, []fsm.TaskSpec{spec("c")})
	if err != nil {
		t.Fatal(err)
	}
	if more[0].ID <= tasks[1].ID {
		t.Fatalf("id %d after failover does not increase past %d", more[0].ID, tasks[1].ID)
	}
}

func TestNewLeaderDoesNotExpireLiveWorkers(t *testing.T) {
	c := newTestCluster(t, 3)
	old := c.waitLeader(10 * time.Second)
	register(t, old, "w1")
	// Let the worker's last replicated sighting become older than the TTL.
	waitFor(t, 5*time.Second, "replicated registration", func() bool {
		for _, f := range c.followers(old) {
			if _, _, ok := f.State().Worker("w1"); !ok {
				return false
			}
		}
		return true
	})
	stopBeat := beatUntil(t, c, "w1")
	defer stopBeat()
	waitFor(t, 5*time.Second, "a TTL to pass", func() bool {
		w, _, _ := old.State().Worker("w1")
		return time.Since(w.RegisteredAt) > old.cfg.HeartbeatTTL
	})
	c.stop(old)
	leader := c.waitLeader(5 * time.Second)
	deadline := time.Now().Add(2 * leader.cfg.HeartbeatTTL)
	for time.Now().Before(deadline) {
		if w, _, _ := leader.State().Worker("w1"); w.Status != fsm.WorkerStatusReady {
			t.Fatalf("live worker marked %s after leader change", w.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// beatUntil heartbeats for a worker to whichever node leads, every
// heartbeat interval, until the returned stop is called.
func beatUntil(t *testing.T, c *testCluster, id string) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			for _, n := range c.live() {
				if n.leader() != nil {
					_, _ = n.Heartbeat(ctx, id, Heartbeat{CPU: 0.1, Memory: 0.2})
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return func() { cancel(); <-done }
}

func TestSilentWorkerGoesDownAndItsTasksAreRequeued(t *testing.T) {
	c := newTestCluster(t, 3)
	leader := c.waitLeader(10 * time.Second)
	register(t, leader, "w1")
	ctx := context.Background()
	if _, _, err := leader.Submit(ctx, []fsm.TaskSpec{spec("a")}); err != nil {
		t.Fatal(err)
	}
	res, err := leader.Poll(ctx, "w1", PollRequest{Max: 1, Queues: []string{"default"}})
	if err != nil || len(res.Tasks) != 1 {
		t.Fatalf("poll: %v %v", res, err)
	}
	waitFor(t, 5*time.Second, "worker down", func() bool {
		w, _, _ := leader.State().Worker("w1")
		return w.Status == fsm.WorkerStatusDown
	})
	got, _ := leader.State().Task(res.Tasks[0].ID)
	if got.Status != fsm.StatusPending || got.Attempt != 1 {
		t.Fatalf("task of a down worker = %s attempt %d, want pending attempt 1", got.Status, got.Attempt)
	}
	if _, err := leader.Heartbeat(ctx, "w1", Heartbeat{}); err == nil {
		t.Fatal("heartbeat of a down worker accepted; it must re-register")
	}
}

func TestLeaseUnknownToWorkerIsRequeued(t *testing.T) {
	c := newTestCluster(t, 1)
	leader := c.waitLeader(10 * time.Second)
	register(t, leader, "w1")
	ctx := context.Background()
	if _, _, err := leader.Submit(ctx, []fsm.TaskSpec{spec("a")}); err != nil {
		t.Fatal(err)
	}
	res, err := leader.Poll(ctx, "w1", PollRequest{Max: 1, Queues: []string{"default"}})
	if err != nil || len(res.Tasks) != 1 {
		t.Fatalf("poll: %v %v", res, err)
	}
	// The poll answer "got lost": the worker's heartbeats never list the task.
	if ans, err := leader.Heartbeat(ctx, "w1", Heartbeat{}); err != nil || len(ans.Cancel) != 0 {
		t.Fatalf("heartbeat = %+v, %v", ans, err)
	}
	if got, _ := leader.State().Task(res.Tasks[0].ID); got.Status != fsm.StatusRunning {
		t.Fatalf("lease requeued within the grace period: %s", got.Status)
	}
	waitFor(t, 5*time.Second, "unknown lease requeued", func() bool {
		_, _ = leader.Heartbeat(ctx, "w1", Heartbeat{})
		got, _ := leader.State().Task(res.Tasks[0].ID)
		return got.Status == fsm.StatusPending
	})
}

func TestExpiredLeaseIsRequeuedWithAttemptCounted(t *testing.T) {
	c := newTestCluster(t, 1)
	leader := c.waitLeader(10 * time.Second)
	register(t, leader, "w1")
	stop := beatUntil(t, c, "w1")
	defer stop()
	ctx := context.Background()
	sp := spec("short")
	sp.Timeout, sp.MaxAttempts = 200*time.Millisecond, 2
	if _, _, err := leader.Submit(ctx, []fsm.TaskSpec{sp}); err != nil {
		t.Fatal(err)
	}
	for attempt := 1; attempt <= 2; attempt++ {
		res, err := leader.Poll(ctx, "w1", PollRequest{Max: 1, Wait: 2 * time.Second, Queues: []string{"default"}})
		if err != nil || len(res.Tasks) != 1 || res.Tasks[0].Attempt != attempt {
			t.Fatalf("poll %d: %+v %v", attempt, res, err)
		}
	}
	waitFor(t, 5*time.Second, "task failed after its last lease expired", func() bool {
		got, _ := leader.State().Task(1)
		return got.Status == fsm.StatusFailed && got.Attempt == 2
	})
}

func TestRestartKeepsStateAndNeverBootstrapsAgain(t *testing.T) {
	c := newTestCluster(t, 3)
	leader := c.waitLeader(10 * time.Second)
	ctx := context.Background()
	first, _, err := leader.Submit(ctx, []fsm.TaskSpec{spec("a"), spec("b")})
	if err != nil {
		t.Fatal(err)
	}
	register(t, leader, "w1")
	res, err := leader.Poll(ctx, "w1", PollRequest{Max: 1, Queues: []string{"default"},
		Completed: nil})
	if err != nil || len(res.Tasks) != 1 {
		t.Fatal(err)
	}
	if _, err := leader.Complete(ctx, "w1", Completion{TaskID: res.Tasks[0].ID, Attempt: 1}); err != nil {
		t.Fatal(err)
	}
	c.closeAll()
	for i := range c.cfgs {
		c.start(i)
	}
	leader = c.waitLeader(10 * time.Second)
	done, _ := leader.State().Task(res.Tasks[0].ID)
	if done.Status != fsm.StatusCompleted {
		t.Fatalf("completed task after restart: %s", done.Status)
	}
	more, _, err := leader.Submit(ctx, []fsm.TaskSpec{spec("c")})
	if err != nil {
		t.Fatal(err)
	}
	if more[0].ID != first[1].ID+1 {
		t.Fatalf("id after restart = %d, want %d", more[0].ID, first[1].ID+1)
	}
	if st := leader.Status(); len(st.Servers) != 3 {
		t.Fatalf("configuration after restart = %+v", st.Servers)
	}
}
