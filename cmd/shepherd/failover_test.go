package main

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shepherd/shepherd/api/client"
	"github.com/shepherd/shepherd/worker"
)

// TestClusterSurvivesLeaderLossAndFullRestart is the core promise: tasks
// submitted through a follower all complete; killing the leader elects a
// new one within 5 s and dispatch resumes; no acknowledged task is lost or
// completed twice; a full restart keeps every task and ids keep growing.
func TestClusterSurvivesLeaderLossAndFullRestart(t *testing.T) {
	c := newLocalCluster(t, 3)
	leader := c.leader(15 * time.Second)
	follower := (leader + 1) % 3

	var mu sync.Mutex
	runs := map[int64]int{}
	count := func(ctx context.Context, task client.Task) (json.RawMessage, error) {
		mu.Lock()
		runs[task.ID]++
		mu.Unlock()
		return task.Payload, nil
	}
	handlers := map[string]worker.HandlerFunc{"count": count}
	c.startWorker("w1", handlers)
	c.startWorker("w2", handlers)

	viaFollower := client.New([]string{c.https[follower]}, client.WithRetryBudget(15*time.Second))
	ids := submitN(t, viaFollower, 50, "before")
	api := c.client()
	ctx := context.Background()
	waitFor(t, 20*time.Second, "first batch completed", func() bool { return allCompleted(ctx, api, ids) })

	killed := time.Now()
	c.crash(leader)
	newLeader := c.leader(5 * time.Second)
	t.Logf("new leader m%d elected %v after the kill", newLeader+1, time.Since(killed))
	more := submitN(t, api, 50, "after")
	waitFor(t, 30*time.Second, "second batch completed on the new leader", func() bool { return allCompleted(ctx, api, more) })

	c.start(leader)
	all := append(slices.Clone(ids), more...)
	c.stopAll()
	for i := range c.masters {
		c.start(i)
	}
	c.leader(15 * time.Second)
	waitFor(t, 10*time.Second, "every task kept across a full restart", func() bool { return allCompleted(ctx, api, all) })
	again := submitN(t, api, 1, "restart")
	if again[0] <= slices.Max(all) {
		t.Fatalf("id %d after restart does not exceed %d", again[0], slices.Max(all))
	}
	for id, n := range c.events.completions() {
		if n != 1 {
			t.Errorf("task %d completed %d times", id, n)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	redelivered := 0
	for _, n := range runs {
		redelivered += n - 1
	}
	t.Logf("%d tasks, %d redeliveries", len(all), redelivered)
}
