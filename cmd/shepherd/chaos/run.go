package chaos

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shepherd/shepherd/api/client"
)

// nodeInfo identifies one master.
type nodeInfo struct {
	ID   string
	Raft string
	HTTP string
}

// run is the state of one chaos run.
type run struct {
	cfg     Config
	queue   string
	hist    *History
	rng     *mrand.Rand
	admin   *client.Client
	nodes   []nodeInfo
	workers *workers

	mu      sync.Mutex
	masters []masterState
	events  []Event
	active  *Event
	notes   []string

	dispatches atomic.Int64
}

// Run drives the workload and the nemesis for cfg.Duration, heals the
// cluster, waits for the workload to drain and checks the history. The
// report is returned even when checks fail (Report.OK); an error means the
// run itself could not be carried out.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.RunID == "" {
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		cfg.RunID = hex.EncodeToString(b)
	}
	if cfg.Seed == 0 {
		cfg.Seed = time.Now().UnixNano()
	}
	r := &run{
		cfg: cfg, queue: "chaos-" + cfg.RunID, hist: &History{},
		rng:     mrand.New(mrand.NewPCG(uint64(cfg.Seed), 0x5eed)),
		admin:   client.New(cfg.Masters, client.WithTimeout(3*time.Second), client.WithRetryBudget(0)),
		masters: make([]masterState, len(cfg.Masters)),
	}
	defer r.admin.Close()
	r.workers = &workers{r: r}
	if err := r.discover(ctx); err != nil {
		return nil, err
	}
	began := time.Now()

	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	workCtx, stopWork := context.WithCancel(ctx)
	defer stopWork()
	subs := &submitters{r: r}
	subs.start(loadCtx)
	r.workers.start(workCtx)

	nemCtx, stopNemesis := context.WithTimeout(ctx, cfg.Duration)
	defer stopNemesis()
	progressDone := r.progress(nemCtx, began, "chaos")
	r.nemesis(nemCtx)
	<-progressDone
	nemesisEnd := time.Now()

	// Heal, stop submitting, and let the workers drain the queue.
	r.healAll(context.WithoutCancel(ctx))
	stopLoad()
	subs.wait()
	healCtx, stopHeal := context.WithTimeout(ctx, cfg.HealTimeout)
	drainDone := r.progress(healCtx, began, "heal")
	final, drained := r.drain(healCtx)
	stopHeal()
	<-drainDone
	stopWork()
	r.workers.wait()
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	final, err := r.finalRead(ctx, final)
	if err != nil {
		return nil, err
	}
	events := r.checkEvents(ctx)
	return r.check(began, nemesisEnd, final, drained, events), nil
}

// discover asks every master who it is.
func (r *run) discover(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	for i, addr := range r.cfg.Masters {
		for {
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			info, err := r.admin.NodeInfo(cctx, addr)
			cancel()
			if err == nil {
				r.nodes = append(r.nodes, nodeInfo{ID: info.ID, Raft: info.RaftAddr, HTTP: addr})
				break
			}
			if time.Now().After(deadline) || !sleepCtx(ctx, 200*time.Millisecond) {
				return fmt.Errorf("chaos: master %d (%s) does not answer: %w", i+1, addr, err)
			}
		}
	}
	for time.Now().Before(deadline) {
		if r.leader(ctx) >= 0 {
			return nil
		}
		if !sleepCtx(ctx, 200*time.Millisecond) {
			break
		}
	}
	return fmt.Errorf("chaos: no leader among %v", r.cfg.Masters)
}

// leader returns the index of the master that leads now, or -1.
func (r *run) leader(ctx context.Context) int {
	for i, n := range r.nodes {
		if r.state(i) != masterUp {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		st, err := client.New([]string{n.HTTP}, client.WithRetryBudget(0), client.WithTimeout(time.Second)).ClusterStatus(cctx)
		cancel()
		if err != nil || st.Leader == nil {
			continue
		}
		for j, m := range r.nodes {
			if m.ID == st.Leader.ID {
				return j
			}
		}
	}
	return -1
}

func (r *run) note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

func (r *run) addEvent(ev Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

func (r *run) setActive(ev *Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.active = ev
}

func (r *run) noteDispatch(time.Time) { r.dispatches.Add(1) }

// drain waits until every task of the run's queue has completed and every
// acknowledged submission is among them. It returns the last listing.
func (r *run) drain(ctx context.Context) (map[int64]client.Task, bool) {
	var last map[int64]client.Task
	for {
		tasks, err := r.listTasks(ctx)
		if err == nil {
			last = tasks
			if r.allDone(tasks) {
				return tasks, true
			}
		}
		if !sleepCtx(ctx, 500*time.Millisecond) {
			return last, false
		}
	}
}

func (r *run) allDone(tasks map[int64]client.Task) bool {
	for _, t := range tasks {
		if t.Status != "completed" {
			return false
		}
	}
	for _, op := range r.hist.Ops() {
		if op.Kind == opSubmit && op.Outcome == outcomeOK {
			if t, ok := tasks[op.TaskID]; !ok || t.Status != "completed" {
				return false
			}
		}
	}
	return true
}

// listTasks reads every task of the run's queue from the leader
// (consistent read), page by page.
func (r *run) listTasks(ctx context.Context) (map[int64]client.Task, error) {
	c := client.New(r.cfg.Masters, client.WithTimeout(5*time.Second), client.WithRetryBudget(5*time.Second))
	defer c.Close()
	out := map[int64]client.Task{}
	var after int64
	for {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		page, err := c.ListTasks(cctx, client.ListOptions{Queue: r.queue, Limit: 1000, After: after, Consistent: true})
		cancel()
		if err != nil {
			return nil, err
		}
		for _, t := range page.Tasks {
			out[t.ID] = t
		}
		if page.Next == 0 || len(page.Tasks) == 0 {
			return out, nil
		}
		after = page.Next
	}
}

// finalRead lists the queue once more after the workers stopped and
// records a read of every task.
func (r *run) finalRead(ctx context.Context, last map[int64]client.Task) (map[int64]client.Task, error) {
	var tasks map[int64]client.Task
	var err error
	for try := 0; try < 10; try++ {
		start := time.Now()
		if tasks, err = r.listTasks(ctx); err == nil {
			end := time.Now()
			for _, t := range tasks {
				r.hist.add(Op{Kind: opRead, Process: "final", Key: t.IdempotencyKey, TaskID: t.ID, Attempt: t.Attempt,
					Outcome: outcomeOK, Status: t.Status, Start: start, End: end})
			}
			return tasks, nil
		}
		if !sleepCtx(ctx, time.Second) {
			break
		}
	}
	if last != nil {
		return nil, fmt.Errorf("chaos: final read failed (the cluster did not recover): %w", err)
	}
	return nil, fmt.Errorf("chaos: final read: %w", err)
}

// progress prints a status line every second until ctx ends.
func (r *run) progress(ctx context.Context, began time.Time, phase string) <-chan struct{} {
	done := make(chan struct{})
	if r.cfg.Progress == nil {
		close(done)
		return done
	}
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				fmt.Fprintln(r.cfg.Progress)
				return
			case <-t.C:
				fmt.Fprintf(r.cfg.Progress, "\r%s", r.statusLine(began, phase))
			}
		}
	}()
	return done
}

func (r *run) statusLine(began time.Time, phase string) string {
	var ok, unknown, done int
	for _, op := range r.hist.Ops() {
		switch {
		case op.Kind == opSubmit && op.Outcome == outcomeOK:
			ok++
		case op.Kind == opSubmit && op.Outcome == outcomeUnknown:
			unknown++
		case op.Kind == opComplete && op.Outcome == outcomeOK:
			done++
		}
	}
	r.mu.Lock()
	nem := "-"
	if r.active != nil {
		nem = r.active.Kind
		if len(r.active.Targets) > 0 {
			nem += " " + fmt.Sprint(r.active.Targets)
		}
	}
	nev := len(r.events)
	r.mu.Unlock()
	return fmt.Sprintf("[%s %4.0fs/%s] submitted %d (unknown %d) leased %d completed %d | faults %d, now: %-28s",
		phase, time.Since(began).Seconds(), r.cfg.Duration, ok, unknown, r.dispatches.Load(), done, nev, nem)
}
