package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/shepherd/shepherd/api/client"
)

// maxAttempts is high so that faults (expired leases, killed workers) do
// not send a task to the dead-letter set, which would look like a loss.
const maxAttempts = 100

// newClient returns a client that gives up quickly so that outcomes are
// recorded close to when they happened, and rotates fast on failover.
func newClient(masters []string, timeout time.Duration) *client.Client {
	return client.New(masters, client.WithTimeout(timeout), client.WithRetryBudget(3*time.Second),
		client.WithBackoff(20*time.Millisecond, 300*time.Millisecond))
}

// submitters run cfg.Submitters loops that submit tasks with fresh
// idempotency keys, retrying a key whose outcome is unknown (as a real
// client would) before moving on.
type submitters struct {
	r  *run
	wg sync.WaitGroup
}

func (s *submitters) start(ctx context.Context) {
	for i := range s.r.cfg.Submitters {
		s.wg.Go(func() { s.loop(ctx, i) })
	}
}

func (s *submitters) wait() { s.wg.Wait() }

func (s *submitters) loop(ctx context.Context, i int) {
	c := newClient(s.r.cfg.Masters, 3*time.Second)
	defer c.Close()
	proc := fmt.Sprintf("s%d", i)
	var pause time.Duration
	if s.r.cfg.Rate > 0 {
		pause = time.Duration(float64(time.Second) * float64(s.r.cfg.Submitters) / s.r.cfg.Rate)
	}
	next := time.Now()
	for n := 0; ; n++ {
		key := fmt.Sprintf("%s-%s-%d", s.r.cfg.RunID, proc, n)
		for try := 0; try < 4; try++ {
			if pause > 0 {
				if !sleepUntil(ctx, next) {
					return
				}
				next = next.Add(pause)
				if late := time.Now(); next.Before(late.Add(-time.Second)) {
					next = late // do not burst after a long outage
				}
			}
			if ctx.Err() != nil {
				return
			}
			if s.submit(ctx, c, proc, key, n) != outcomeUnknown {
				break
			}
		}
	}
}

func (s *submitters) submit(ctx context.Context, c *client.Client, proc, key string, n int) string {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	op := Op{Kind: opSubmit, Process: proc, Key: key, Start: time.Now()}
	task, existing, err := c.Submit(cctx, client.SubmitRequest{
		Name: "chaos", Queue: s.r.queue, Payload: json.RawMessage(fmt.Sprint(n)),
		MaxAttempts: maxAttempts, Timeout: s.r.cfg.TaskTimeout.String(), IdempotencyKey: key,
	})
	op.End = time.Now()
	op.Outcome, op.Code = classify(err)
	if err != nil {
		op.Error = err.Error()
	} else {
		op.TaskID, op.Existing = task.ID, existing
	}
	s.r.hist.add(op)
	return op.Outcome
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	return sleepUntil(ctx, time.Now().Add(d))
}
