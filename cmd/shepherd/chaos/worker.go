package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/shepherd/shepherd/api/client"
)

// workers is the pool of in-process worker agents. They speak the wire
// API directly (not the worker package) so that every lease and every
// completion call is recorded with its attempt and outcome; the
// worker-kill nemesis stops one abruptly (no results reported, no
// goodbye) and later starts a replacement under a new id.
type workers struct {
	r  *run
	mu sync.Mutex
	// agents[j] is the live agent of slot j, nil while killed.
	agents []*agent
	gen    []int
	wg     sync.WaitGroup
	ctx    context.Context
}

// agent is one worker incarnation.
type agent struct {
	r      *run
	id     string
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	running map[int64]int // task id -> attempt
	slot    chan struct{}
}

func (w *workers) start(ctx context.Context) {
	w.ctx = ctx
	w.agents = make([]*agent, w.r.cfg.Workers)
	w.gen = make([]int, w.r.cfg.Workers)
	for j := range w.agents {
		w.spawn(j)
	}
}

func (w *workers) spawn(j int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.agents[j] != nil || w.ctx.Err() != nil {
		return
	}
	w.gen[j]++
	actx, cancel := context.WithCancel(w.ctx)
	a := &agent{
		r: w.r, id: fmt.Sprintf("chaos-%s-w%d-%d", w.r.cfg.RunID, j, w.gen[j]), cancel: cancel,
		done: make(chan struct{}), running: make(map[int64]int), slot: make(chan struct{}, 1),
	}
	w.agents[j] = a
	w.wg.Go(func() { defer close(a.done); a.run(actx) })
}

// kill stops agent j abruptly and returns its id ("" if already dead).
func (w *workers) kill(j int) string {
	w.mu.Lock()
	a := w.agents[j]
	w.agents[j] = nil
	w.mu.Unlock()
	if a == nil {
		return ""
	}
	a.cancel()
	<-a.done
	return a.id
}

// healAll restarts every killed agent.
func (w *workers) healAll() {
	for j := range w.r.cfg.Workers {
		w.spawn(j)
	}
}

// stop ends every agent (the caller cancels the pool's context first).
func (w *workers) wait() { w.wg.Wait() }

func (a *agent) run(ctx context.Context) {
	// A short timeout: a poll parked on a paused leader is abandoned
	// quickly (its long-poll wait comes on top).
	c := newClient(a.r.cfg.Masters, 1500*time.Millisecond)
	defer c.Close()
	if !a.register(ctx, c) {
		return
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { a.heartbeat(ctx, c) })
	for ctx.Err() == nil {
		free := a.r.cfg.Capacity - a.count()
		if free <= 0 {
			select {
			case <-ctx.Done():
				return
			case <-a.slot:
			}
			continue
		}
		start := time.Now()
		resp, err := c.Poll(ctx, a.id, client.PollRequest{Max: free, Wait: "1s", Queues: []string{a.r.queue}})
		end := time.Now()
		if err != nil {
			if client.IsNotFound(err) {
				a.register(ctx, c)
			}
			sleepCtx(ctx, 50*time.Millisecond)
			continue
		}
		for _, t := range resp.Tasks {
			op := Op{Kind: opLease, Process: a.id, Key: t.IdempotencyKey, TaskID: t.ID, Attempt: t.Attempt,
				Outcome: outcomeOK, Start: start, End: end}
			if t.LeaseExpiresAt != nil && t.TimeoutDuration() > 0 {
				op.Grant = t.LeaseExpiresAt.Add(-t.TimeoutDuration())
			}
			a.r.hist.add(op)
			a.r.noteDispatch(end)
			a.mu.Lock()
			a.running[t.ID] = t.Attempt
			a.mu.Unlock()
			wg.Go(func() { a.execute(ctx, c, t) })
		}
	}
}

func (a *agent) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.running)
}

func (a *agent) register(ctx context.Context, c *client.Client) bool {
	for ctx.Err() == nil {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := c.Register(rctx, client.RegisterRequest{ID: a.id, Address: "chaos", Capacity: a.r.cfg.Capacity})
		cancel()
		if err == nil {
			return true
		}
		sleepCtx(ctx, 200*time.Millisecond)
	}
	return false
}

func (a *agent) heartbeat(ctx context.Context, c *client.Client) {
	for sleepCtx(ctx, time.Second) {
		a.mu.Lock()
		running := make([]int64, 0, len(a.running))
		for id := range a.running {
			running = append(running, id)
		}
		a.mu.Unlock()
		hctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		_, err := c.Heartbeat(hctx, a.id, client.HeartbeatRequest{Running: running})
		cancel()
		if client.IsNotFound(err) {
			a.register(ctx, c)
		}
	}
}

// execute "runs" a leased task, then reports it until the report's
// outcome is known (or the agent dies).
func (a *agent) execute(ctx context.Context, c *client.Client, t client.Task) {
	defer func() {
		a.mu.Lock()
		delete(a.running, t.ID)
		a.mu.Unlock()
		select {
		case a.slot <- struct{}{}:
		default:
		}
	}()
	if !sleepCtx(ctx, a.r.cfg.WorkTime) {
		return
	}
	result := json.RawMessage(fmt.Sprintf(`{"worker":%q,"attempt":%d}`, a.id, t.Attempt))
	for try := 0; try < 5 && ctx.Err() == nil; try++ {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		op := Op{Kind: opComplete, Process: a.id, Key: t.IdempotencyKey, TaskID: t.ID, Attempt: t.Attempt, Start: time.Now()}
		err := c.Complete(cctx, t.ID, client.CompleteRequest{WorkerID: a.id, Attempt: t.Attempt, Result: result})
		cancel()
		op.End = time.Now()
		op.Outcome, op.Code = classify(err)
		if err != nil {
			op.Error = err.Error()
		}
		a.r.hist.add(op)
		if op.Outcome != outcomeUnknown {
			return
		}
		sleepCtx(ctx, 300*time.Millisecond)
	}
}
