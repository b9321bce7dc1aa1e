package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/shepherd/shepherd/fsm"
)

func spec(name string) fsm.TaskSpec {
	return fsm.TaskSpec{Name: name, Queue: "default", MaxAttempts: 3, Timeout: time.Minute}
}

func register(t *testing.T, n *Node, id string) {
	t.Helper()
	if _, err := n.RegisterWorker(context.Background(), WorkerRegistration{ID: id, Capacity: 4}); err != nil {
		t.Fatalf("register %s: %v", id, err)
	}
}

func TestBootstrapElectsOneLeaderAndReplicates(t *testing.T) {
	c := newTestCluster(t, 3)
	leader := c.waitLeader(10 * time.Second)
	tasks, existing, err := leader.Submit(context.Background(), []fsm.TaskSpec{spec("a"), spec("b")})
	if err != nil || len(tasks) != 2 || existing[0] {
		t.Fatalf("submit: %v %v", tasks, err)
	}
	if tasks[0].ID != 1 || tasks[1].ID != 2 {
		t.Fatalf("ids = %d,%d, want 1,2", tasks[0].ID, tasks[1].ID)
	}
	for _, f := range c.followers(leader) {
		waitFor(t, 5*time.Second, "replication to "+f.cfg.ID, func() bool {
			_, ok := f.State().Task(2)
			return ok
		})
		if f.IsLeader() {
			t.Fatalf("%s also leads", f.cfg.ID)
		}
		if _, _, err := f.Submit(context.Background(), []fsm.TaskSpec{spec("x")}); !errors.Is(err, ErrNotLeader) {
			t.Fatalf("submit on follower: err = %v, want ErrNotLeader", err)
		}
	}
	st := leader.Status()
	if len(st.Servers) != 3 || st.Leader == nil || st.Leader.ID != leader.cfg.ID {
		t.Fatalf("status = %+v", st)
	}
	waitFor(t, 5*time.Second, "server table", func() bool { return len(leader.State().Servers()) == 3 })
}

func TestPollLeasesAndCompletesInOneEntry(t *testing.T) {
	c := newTestCluster(t, 3)
	leader := c.waitLeader(10 * time.Second)
	register(t, leader, "w1")
	ctx := context.Background()
	if _, _, err := leader.Submit(ctx, []fsm.TaskSpec{spec("a"), spec("b"), spec("c")}); err != nil {
		t.Fatal(err)
	}
	res, err := leader.Poll(ctx, "w1", PollRequest{Max: 2, Queues: []string{"default"}})
	if err != nil || len(res.Tasks) != 2 {
		t.Fatalf("poll: %+v %v", res, err)
	}
	if res.Tasks[0].Attempt != 1 || res.Tasks[0].WorkerID != "w1" || res.Tasks[0].Status != fsm.StatusRunning {
		t.Fatalf("leased task = %+v", res.Tasks[0])
	}
	res2, err := leader.Poll(ctx, "w1", PollRequest{Max: 2, Queues: []string{"default"},
		Completed: []Completion{{TaskID: res.Tasks[0].ID, Attempt: 1, Result: json.RawMessage(`"ok"`)}},
		Failed:    []Failure{{TaskID: res.Tasks[1].ID, Attempt: 7, Error: "boom"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res2.Tasks) != 1 || res2.Tasks[0].Name != "c" {
		t.Fatalf("second poll leased %+v", res2.Tasks)
	}
	if len(res2.Rejected) != 1 || !errors.Is(res2.Rejected[0].Err, fsm.ErrStaleLease) {
		t.Fatalf("rejected = %+v", res2.Rejected)
	}
	done, _ := leader.State().Task(res.Tasks[0].ID)
	if done.Status != fsm.StatusCompleted || string(done.Result) != `"ok"` {
		t.Fatalf("completed task = %+v", done)
	}
	// One command stamp: the completion and the new lease share an entry.
	if !done.FinishedAt.Equal(res2.Tasks[0].LeasedAt) {
		t.Fatalf("completion at %v and lease at %v came from different entries", done.FinishedAt, res2.Tasks[0].LeasedAt)
	}
}

func TestLongPollWakesOnSubmit(t *testing.T) {
	c := newTestCluster(t, 3)
	leader := c.waitLeader(10 * time.Second)
	register(t, leader, "w1")
	got := make(chan PollResult, 1)
	go func() {
		res, _ := leader.Poll(context.Background(), "w1", PollRequest{Max: 1, Wait: 10 * time.Second, Queues: []string{"default"}})
		got <- res
	}()
	waitFor(t, 5*time.Second, "parked poll", func() bool {
		ls := leader.leader()
		ls.dispatcher.mu.Lock()
		defer ls.dispatcher.mu.Unlock()
		return len(ls.dispatcher.waiters) == 1
	})
	start := time.Now()
	if _, _, err := leader.Submit(context.Background(), []fsm.TaskSpec{spec("late")}); err != nil {
		t.Fatal(err)
	}
	select {
	case res := <-got:
		if len(res.Tasks) != 1 || res.Tasks[0].Name != "late" {
			t.Fatalf("poll answered %+v", res)
		}
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Fatalf("parked poll answered after %v", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("parked poll was not answered")
	}
}

func TestPollTimesOutEmpty(t *testing.T) {
	c := newTestCluster(t, 1)
	leader := c.waitLeader(10 * time.Second)
	register(t, leader, "w1")
	res, err := leader.Poll(context.Background(), "w1", PollRequest{Max: 1, Wait: 100 * time.Millisecond, Queues: []string{"default"}})
	if err != nil || len(res.Tasks) != 0 {
		t.Fatalf("poll = %+v, %v", res, err)
	}
}
