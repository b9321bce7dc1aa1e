package main

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shepherd/shepherd/api/client"
	"github.com/shepherd/shepherd/worker"
)

// TestTaskSemanticsEndToEnd drives retries, schedules, queues, broadcast,
// cancellation, lease extension, progress and worker failure through the
// HTTP API, with real worker agents, on one in-process cluster.
func TestTaskSemanticsEndToEnd(t *testing.T) {
	c := newLocalCluster(t, 3)
	c.leader(15 * time.Second)
	api := c.client()
	ctx := context.Background()

	var canceledCause atomic.Value
	var flakyRuns atomic.Int64
	handlers := map[string]worker.HandlerFunc{
		"block": func(ctx context.Context, _ client.Task) (json.RawMessage, error) {
			<-ctx.Done()
			canceledCause.Store(context.Cause(ctx).Error())
			return nil, ctx.Err()
		},
		"flaky": func(ctx context.Context, _ client.Task) (json.RawMessage, error) {
			if flakyRuns.Add(1) == 1 {
				return nil, worker.NoRetry(errors.New("first run fails for good"))
			}
			return json.RawMessage(`"ok"`), nil
		},
		"long": func(ctx context.Context, task client.Task) (json.RawMessage, error) {
			// Runs 2.5 timeouts, renewing its lease through the heartbeat.
			end := time.Now().Add(5 * task.TimeoutDuration() / 2)
			for step := 0; time.Now().Before(end); step++ {
				worker.SetProgressMessage(ctx, 0.5, "still working")
				if !worker.ExtendLease(ctx) {
					return nil, errors.New("deadline passed before the extension")
				}
				select {
				case <-ctx.Done():
					return nil, ctx.Err()
				case <-time.After(task.TimeoutDuration() / 4):
				}
			}
			return json.RawMessage(`"done"`), nil
		},
	}
	c.startWorker("w1", handlers)
	c.startWorker("w2", handlers)
	waitTask := func(id int64, what string, cond func(client.Task) bool) client.Task {
		t.Helper()
		var got client.Task
		waitFor(t, 20*time.Second, what, func() bool {
			var err error
			got, err = api.GetTask(ctx, id)
			return err == nil && cond(got)
		})
		return got
	}
	submit := func(req client.SubmitRequest) client.Task {
		t.Helper()
		task, _, err := api.Submit(ctx, req)
		if err != nil {
			t.Fatalf("submit %s: %v", req.Name, err)
		}
		return task
	}
	status := func(s string) func(client.Task) bool { return func(t client.Task) bool { return t.Status == s } }

	t.Run("cancel a running task through its worker", func(t *testing.T) {
		task := submit(client.SubmitRequest{Name: "block"})
		waitTask(task.ID, "block running", status("running"))
		if _, err := api.CancelTask(ctx, task.ID); err != nil {
			t.Fatal(err)
		}
		waitTask(task.ID, "block canceled", status("canceled"))
		if cause, _ := canceledCause.Load().(string); cause != "canceled by the cluster" {
			t.Fatalf("handler stopped with %q", cause)
		}
	})

	t.Run("failed task retried by the API", func(t *testing.T) {
		task := submit(client.SubmitRequest{Name: "flaky", RetryBackoff: &client.RetryBackoff{Base: "100ms", Max: "1s"}})
		waitTask(task.ID, "flaky failed", status("failed"))
		if _, err := api.RetryTask(ctx, task.ID, 0); err != nil {
			t.Fatal(err)
		}
		done := waitTask(task.ID, "flaky completed after retry", status("completed"))
		if done.Attempt != 2 || done.RetryBackoff == nil || done.RetryBackoff.Base != "100ms" {
			t.Fatalf("retried task = %+v", done)
		}
	})

	t.Run("lease extended through the heartbeat, with progress", func(t *testing.T) {
		task := submit(client.SubmitRequest{Name: "long", Timeout: "1s", MaxAttempts: 1})
		waitTask(task.ID, "progress message", func(t client.Task) bool { return t.ProgressMessage == "still working" })
		done := waitTask(task.ID, "long task completed", func(t client.Task) bool { return t.Status != "running" && t.Status != "pending" })
		if done.Status != "completed" || done.Attempt != 1 {
			t.Fatalf("long task = %s attempt %d (%s)", done.Status, done.Attempt, done.Error)
		}
	})

	t.Run("broadcast runs once per worker", func(t *testing.T) {
		parent := submit(client.SubmitRequest{Name: "echo", Broadcast: true, Payload: json.RawMessage(`1`)})
		if len(parent.Children) != 2 {
			t.Fatalf("children %v, want one per worker", parent.Children)
		}
		waitTask(parent.ID, "broadcast completed", status("completed"))
		seen := map[string]bool{}
		for _, id := range parent.Children {
			child, err := api.GetTask(ctx, id)
			if err != nil || child.Status != "completed" || child.WorkerID != child.PinnedWorker || child.ParentID != parent.ID {
				t.Fatalf("child %+v %v", child, err)
			}
			seen[child.WorkerID] = true
		}
		if !seen["w1"] || !seen["w2"] {
			t.Fatalf("children ran on %v", seen)
		}
	})

	t.Run("queue pause, resume and limit", func(t *testing.T) {
		if q, err := api.PauseQueue(ctx, "default"); err != nil || !q.Paused {
			t.Fatalf("pause: %+v %v", q, err)
		}
		task := submit(client.SubmitRequest{Name: "echo"})
		deadline := time.Now().Add(500 * time.Millisecond)
		for time.Now().Before(deadline) {
			if got, _ := api.GetTask(ctx, task.ID); got.Status != "pending" {
				t.Fatalf("task of a paused queue is %s", got.Status)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if _, err := api.ResumeQueue(ctx, "default"); err != nil {
			t.Fatal(err)
		}
		waitTask(task.ID, "task after resume", status("completed"))
		limit := 1
		if q, err := api.UpdateQueue(ctx, "default", client.QueueUpdate{MaxRunning: &limit}); err != nil || q.MaxRunning != 1 {
			t.Fatalf("limit: %+v %v", q, err)
		}
		queues, err := api.ListQueues(ctx)
		if err != nil || len(queues) == 0 || queues[0].Name != "default" || queues[0].MaxRunning != 1 || queues[0].Counts["completed"] == 0 {
			t.Fatalf("queues %+v %v", queues, err)
		}
		zero := 0
		if _, err := api.UpdateQueue(ctx, "default", client.QueueUpdate{MaxRunning: &zero}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("schedule fires through the API", func(t *testing.T) {
		s, err := api.PutSchedule(ctx, client.ScheduleRequest{ID: "every-second", Cron: "* * * * * *",
			TimeZone: "Europe/Paris", Task: client.SubmitRequest{Name: "echo"}, Overlap: "skip"})
		if err != nil || s.ID != "every-second" || s.NextTick == nil {
			t.Fatalf("create: %+v %v", s, err)
		}
		waitFor(t, 10*time.Second, "two runs", func() bool {
			got, err := api.GetSchedule(ctx, s.ID)
			return err == nil && got.Fired >= 2
		})
		if p, err := api.PauseSchedule(ctx, s.ID); err != nil || !p.Paused {
			t.Fatalf("pause: %+v %v", p, err)
		}
		if r, err := api.ResumeSchedule(ctx, s.ID); err != nil || r.Paused {
			t.Fatalf("resume: %+v %v", r, err)
		}
		if _, err := api.PauseSchedule(ctx, "no-such-schedule"); !client.IsNotFound(err) {
			t.Fatalf("pause of an unknown schedule: %v", err)
		}
		if err := api.DeleteSchedule(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := api.PutSchedule(ctx, client.ScheduleRequest{Cron: "not cron", Task: client.SubmitRequest{Name: "echo"}}); !client.IsCode(err, "invalid_argument") {
			t.Fatalf("bad cron: %v", err)
		}
	})

	t.Run("a dead worker's tasks run elsewhere", func(t *testing.T) {
		if _, err := api.Register(ctx, client.RegisterRequest{ID: "ghost", Capacity: 1}); err != nil {
			t.Fatal(err)
		}
		// The ghost stays silent after its poll, as a crashed worker would.
		task := submit(client.SubmitRequest{Name: "echo", Queue: "spare", Payload: json.RawMessage(`"ghost"`)})
		res, err := api.Poll(ctx, "ghost", client.PollRequest{Max: 1, Wait: "5s", Queues: []string{"spare"}})
		if err != nil || len(res.Tasks) != 1 {
			t.Fatalf("ghost poll: %+v %v", res, err)
		}
		w, err := worker.New(worker.Config{ID: "w3", Masters: c.https, Queues: []string{"spare"}, PollWait: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		wctx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { _ = w.Run(wctx) })
		defer func() { stop(); wg.Wait() }()
		leased := []client.Task{task}
		got := waitTask(leased[0].ID, "ghost's task completed elsewhere", status("completed"))
		if got.WorkerID == "ghost" || got.Attempt != 2 {
			t.Fatalf("task %+v", got)
		}
		if w, _ := api.GetWorker(ctx, "ghost"); w.Status != "down" {
			t.Fatalf("ghost is %s", w.Status)
		}
	})
}
