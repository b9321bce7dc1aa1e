package cluster

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shepherd/shepherd/fsm"
)

// Concurrent single submits share log entries, and each caller still gets
// its own task back.
func TestConcurrentSubmitsShareLogEntries(t *testing.T) {
	c := newTestCluster(t, 1)
	leader := c.waitLeader(10 * time.Second)
	const callers = 200
	before := leader.raft.LastIndex()
	var wg sync.WaitGroup
	ids := make([]int64, callers)
	errs := make([]error, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sp := spec(fmt.Sprintf("t%d", i))
			sp.IdempotencyKey = fmt.Sprintf("key-%d", i)
			tasks, _, err := leader.Submit(context.Background(), []fsm.TaskSpec{sp})
			if err == nil {
				ids[i] = tasks[0].ID
				if tasks[0].Name != sp.Name {
					err = fmt.Errorf("caller %d got task %q", i, tasks[0].Name)
				}
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	seen := map[int64]bool{}
	for i, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
		if seen[ids[i]] {
			t.Fatalf("id %d handed to two callers", ids[i])
		}
		seen[ids[i]] = true
	}
	entries := leader.raft.LastIndex() - before
	t.Logf("%d submits in %d log entries", callers, entries)
	if entries >= callers {
		t.Fatalf("%d concurrent submits used %d entries: no batching", callers, entries)
	}
}
