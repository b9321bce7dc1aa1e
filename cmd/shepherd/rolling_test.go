package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shepherd/shepherd/api/client"
	"github.com/shepherd/shepherd/worker"
)

// completionClock records when each task completed on a worker.
type completionClock struct {
	mu    sync.Mutex
	times []time.Time
}

func (c *completionClock) handle(ctx context.Context, t client.Task) (json.RawMessage, error) {
	c.mu.Lock()
	c.times = append(c.times, time.Now())
	c.mu.Unlock()
	return t.Payload, nil
}

func (c *completionClock) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.times)
}

// maxGap is the longest stretch without a completion in [from, to].
func (c *completionClock) maxGap(from, to time.Time) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	prev, gap := from, time.Duration(0)
	for _, t := range c.times {
		if t.Before(from) || t.After(to) {
			continue
		}
		gap = max(gap, t.Sub(prev))
		prev = t
	}
	return max(gap, to.Sub(prev))
}

// TestRollingRestartUnderLoad restarts every master in turn, gracefully
// (SIGTERM's path: a leader hands leadership over first), while tasks are
// submitted and run without pause. Nothing acknowledged is lost or run to
// completion twice, and dispatch pauses far less than a second each time.
func TestRollingRestartUnderLoad(t *testing.T) {
	c := newLocalCluster(t, 3)
	c.leader(15 * time.Second)
	clock := &completionClock{}
	handlers := map[string]worker.HandlerFunc{"count": clock.handle}
	c.startWorker("w1", handlers)
	c.startWorker("w2", handlers)

	api := c.client()
	ctx, stopLoad := context.WithCancel(context.Background())
	var (
		mu    sync.Mutex
		acked []int64
		wg    sync.WaitGroup
	)
	for g := range 2 {
		wg.Go(func() {
			cl := c.client()
			for i := 0; ctx.Err() == nil; i++ {
				task, _, err := cl.Submit(context.Background(), client.SubmitRequest{Name: "count",
					Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)), IdempotencyKey: fmt.Sprintf("roll-%d-%d", g, i)})
				if err != nil {
					t.Errorf("submit: %v", err)
					return
				}
				mu.Lock()
				acked = append(acked, task.ID)
				mu.Unlock()
			}
		})
	}
	waitFor(t, 20*time.Second, "load running", func() bool { return clock.count() > 50 })

	order := []int{}
	leader := c.leader(5 * time.Second)
	for i := range c.masters {
		if i != leader {
			order = append(order, i)
		}
	}
	order = append(order, leader) // the usual practice: followers first, the leader last
	var worst time.Duration
	for _, i := range order {
		wasLeader := c.masters[i].node.IsLeader()
		start := time.Now()
		c.stop(i)
		c.start(i)
		waitFor(t, 20*time.Second, fmt.Sprintf("m%d ready", i+1), func() bool { return c.masters[i].node.Ready() })
		c.leader(10 * time.Second)
		before := clock.count()
		waitFor(t, 20*time.Second, "dispatch continues", func() bool { return clock.count() > before+50 })
		gap := clock.maxGap(start, time.Now())
		worst = max(worst, gap)
		t.Logf("restart of m%d (leader: %v): longest dispatch pause %v, restart took %v", i+1, wasLeader, gap, time.Since(start))
	}
	stopLoad()
	wg.Wait()
	mu.Lock()
	ids := slices.Clone(acked)
	mu.Unlock()
	waitFor(t, 60*time.Second, "every acknowledged task completed", func() bool { return allCompletedPaged(api, ids) })
	for id, n := range c.events.completions() {
		if n != 1 {
			t.Errorf("task %d completed %d times", id, n)
		}
	}
	t.Logf("%d tasks through 3 restarts; worst dispatch pause %v", len(ids), worst)
	if worst >= time.Second {
		t.Errorf("dispatch paused %v during a rolling restart, want well under 1s", worst)
	}
}

// allCompletedPaged is allCompleted over any number of tasks.
func allCompletedPaged(c *client.Client, ids []int64) bool {
	done := map[int64]bool{}
	var after int64
	for {
		list, err := c.ListTasks(context.Background(), client.ListOptions{Status: "completed", Limit: 1000, After: after})
		if err != nil {
			return false
		}
		for _, t := range list.Tasks {
			done[t.ID] = true
		}
		if list.Next == 0 {
			break
		}
		after = list.Next
	}
	for _, id := range ids {
		if !done[id] {
			return false
		}
	}
	return true
}

// TestOperationsCommands drives the operator CLI against a live cluster:
// status, transfer, backup, restore and remove.
func TestOperationsCommands(t *testing.T) {
	c := newLocalCluster(t, 3)
	leader := c.leader(15 * time.Second)
	masters := strings.Join(c.https, ",")
	cli := func(args ...string) (string, error) {
		var out, errOut strings.Builder
		err := run(context.Background(), args, &out, &errOut)
		return out.String() + errOut.String(), err
	}
	ids := submitN(t, c.client(), 3, "ops")

	target := fmt.Sprintf("m%d", (leader+1)%3+1)
	if out, err := cli("cluster", "transfer", "--masters", masters, target); err != nil || !strings.Contains(out, "leader is now "+target) {
		t.Fatalf("transfer: %v\n%s", err, out)
	}
	waitFor(t, 10*time.Second, target+" leads", func() bool { return c.masters[(leader+1)%3].node.IsLeader() })

	file := filepath.Join(t.TempDir(), "shepherd.backup")
	if out, err := cli("backup", "--masters", masters, "-o", file); err != nil || !strings.Contains(out, "wrote "+file) {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	more := submitN(t, c.client(), 2, "after-backup")
	if out, err := cli("restore", "--masters", masters, file); err != nil || !strings.Contains(out, "restored") {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	for i, m := range c.masters {
		waitFor(t, 10*time.Second, fmt.Sprintf("m%d converges", i+1), func() bool {
			_, kept := m.node.State().Task(ids[2])
			_, gone := m.node.State().Task(more[1])
			return kept && !gone
		})
	}
	if err := os.WriteFile(file, []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := cli("restore", "--masters", masters, file); err == nil || !strings.Contains(err.Error(), "not a valid backup") {
		t.Fatalf("restore of junk: %v\n%s", err, out)
	}

	victim := (leader + 2) % 3
	if c.masters[victim].node.IsLeader() {
		victim = leader
	}
	c.stop(victim)
	id := fmt.Sprintf("m%d", victim+1)
	if out, err := cli("cluster", "remove", "--masters", masters, id); err != nil || !strings.Contains(out, "removed "+id) {
		t.Fatalf("remove: %v\n%s", err, out)
	}
	out, err := cli("cluster", "status", "--masters", masters)
	if err != nil || strings.Contains(out, id+" ") || strings.Count(out, "voter") != 2 {
		t.Fatalf("status after remove: %v\n%s", err, out)
	}
}
