package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shepherd/shepherd/api/client"
)

// TestProcessesSurviveLeaderKill runs 3 `shepherd master` processes and a
// `shepherd worker` process, SIGKILLs the leader mid-workload and checks
// that every acknowledged task completes.
func TestProcessesSurviveLeaderKill(t *testing.T) {
	ids := []string{"m1", "m2", "m3"}
	var https []string
	for range ids {
		https = append(https, freeAddr(t))
	}
	masters := map[string]*proc{}
	for i, id := range ids {
		masters[id] = start(t, id, "master", "--id", id, "--http", https[i], "--raft", freeAddr(t),
			"--data", t.TempDir(), "--bootstrap-expect", "3", "--join", strings.Join(https, ","),
			"--raft-profile", "fast", "--log-level", "warn")
	}
	var leader string
	waitFor(t, 20*time.Second, "a leader", func() bool { leader = leaderOf(https[0]); return leader != "" })
	start(t, "w1", "worker", "--id", "w1", "--masters", strings.Join(https, ","), "--capacity", "8", "--log-level", "warn")

	c := client.New(https, client.WithRetryBudget(20*time.Second))
	ctx := context.Background()
	var submitted []int64
	submit := func(from, to int) {
		for i := from; i < to; i++ {
			task, _, err := c.Submit(ctx, client.SubmitRequest{Name: "echo", Payload: json.RawMessage(fmt.Sprint(i)),
				IdempotencyKey: fmt.Sprintf("e2e-%d", i)})
			if err != nil {
				t.Fatalf("submit %d: %v", i, err)
			}
			submitted = append(submitted, task.ID)
		}
	}
	submit(0, 20)
	masters[leader].stop(syscall.SIGKILL)
	delete(masters, leader)
	var live []string
	for i, id := range ids {
		if id != leader {
			live = append(live, https[i])
		}
	}
	waitFor(t, 10*time.Second, "a new leader", func() bool {
		l := leaderOf(live[0])
		return l != "" && l != leader
	})
	submit(20, 40)
	waitFor(t, 60*time.Second, "every acknowledged task completed", func() bool {
		for _, id := range submitted {
			task, err := c.GetTask(ctx, id)
			if err != nil || task.Status != "completed" {
				return false
			}
		}
		return true
	})
	task, _ := c.GetTask(ctx, submitted[len(submitted)-1])
	if string(task.Result) != "39" {
		t.Fatalf("echo result = %s, want 39", task.Result)
	}
}
