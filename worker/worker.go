package worker

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/shepherd/shepherd/api/client"
)

// Errors a worker reports as the cause of a task's end.
var (
	errTimeout  = errors.New("task timeout")
	errCanceled = errors.New("canceled by the cluster")
	errShutdown = errors.New("worker shutting down")
	errReplaced = errors.New("lease replaced by a newer attempt")
)

// Worker is a Shepherd worker agent. Create it with New, add handlers with
// Handle, then call Run once.
type Worker struct {
	cfg    Config
	client *client.Client
	log    hclog.Logger
	// httpc serves the http executor; its idle connections close with Run.
	httpc *http.Client

	hmu      sync.RWMutex
	handlers map[string]HandlerFunc

	// regMu serializes (re-)registration between heartbeat and poll loops.
	regMu sync.Mutex
	// interval is the heartbeat interval in nanoseconds.
	interval atomic.Int64
	started  atomic.Bool

	mu      sync.Mutex
	running map[int64]*run
	results results
	// pollInFlight is true while a poll request is out: results that appear
	// meanwhile cannot ride on it.
	pollInFlight bool
	// pollBase is the master the poll in flight went to; cancelPoll ends it.
	pollBase   string
	cancelPoll context.CancelFunc
	// direct asks the reporter to send pending results on their own now
	// (a poll failed, or no slot is free so no poll will come).
	direct bool
	// stopping is set once polling has stopped for good.
	stopping bool

	tasks      sync.WaitGroup
	pollWake   chan struct{}
	reportWake chan struct{}
}

// run is one leased attempt being executed.
type run struct {
	task     client.Task
	cancel   context.CancelCauseFunc
	progress atomic.Uint64 // math.Float64bits of a fraction
	message  atomic.Pointer[string]
	// deadline kills the handler at the task's timeout; ExtendLease resets
	// it and sets extend, which the next heartbeat carries to the leader.
	deadline *time.Timer
	extend   atomic.Bool
}

// New checks cfg and returns a worker with the built-in executors
// registered.
func New(cfg Config) (*Worker, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	var w *Worker
	c := cfg.Client
	if c == nil {
		// A short per-try timeout lets heartbeats move to another master
		// within one beat when the current one hangs (paused, partitioned);
		// the hook then abandons a poll parked on that master.
		c = client.New(cfg.Masters, client.WithLogger(cfg.Logger.Named("client")),
			client.WithTimeout(cfg.RequestTimeout), client.WithOnUnreachable(func(base string) { w.masterUnreachable(base) }))
	}
	w = &Worker{
		cfg:        cfg,
		client:     c,
		log:        cfg.Logger.With("worker-id", cfg.ID),
		httpc:      &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()},
		handlers:   make(map[string]HandlerFunc),
		running:    make(map[int64]*run),
		pollWake:   make(chan struct{}, 1),
		reportWake: make(chan struct{}, 1),
	}
	w.interval.Store(int64(cfg.HeartbeatInterval))
	w.Handle("echo", echoExecutor)
	w.Handle("sleep", sleepExecutor)
	w.Handle("http", w.httpExecutor)
	w.Handle("shell", w.shellExecutor)
	return w, nil
}

// ID returns the worker's id.
func (w *Worker) ID() string { return w.cfg.ID }

// Handle registers h for tasks named name, replacing an earlier handler
// (built-in executors included). It may be called while the worker runs.
func (w *Worker) Handle(name string, h HandlerFunc) {
	w.hmu.Lock()
	defer w.hmu.Unlock()
	if h == nil {
		delete(w.handlers, name)
		return
	}
	w.handlers[name] = h
}

func (w *Worker) handler(name string) HandlerFunc {
	w.hmu.RLock()
	defer w.hmu.RUnlock()
	return w.handlers[name]
}

// Run registers the worker (retrying until it succeeds), then heartbeats,
// polls and runs tasks until ctx ends. It then stops polling, waits up to
// ShutdownTimeout for running tasks (canceling those still running after
// it), reports their results and returns. Run returns nil after a normal
// shutdown; it may be called only once.
func (w *Worker) Run(ctx context.Context) error {
	if !w.started.CompareAndSwap(false, true) {
		return errors.New("worker: run called twice")
	}
	defer w.client.Close()
	defer w.httpc.CloseIdleConnections()

	if err := w.register(ctx); err != nil {
		return nil // ctx ended before the cluster answered
	}
	// life outlives ctx: heartbeats and reports go on while tasks drain.
	life, stopLife := context.WithCancel(context.WithoutCancel(ctx))
	defer stopLife()
	taskCtx, killTasks := context.WithCancelCause(life)
	defer killTasks(errShutdown)
	reportCtx, stopReports := context.WithCancel(life)
	defer stopReports()

	var bg, reporter sync.WaitGroup
	bg.Go(func() { w.heartbeatLoop(life) })
	reporter.Go(func() { w.reportLoop(reportCtx) })

	w.pollLoop(ctx, taskCtx)

	w.mu.Lock()
	w.stopping = true
	w.mu.Unlock()
	notify(w.reportWake)
	w.waitTasks(killTasks)

	stopReports()
	reporter.Wait()
	flushCtx, cancel := context.WithTimeout(life, 5*time.Second)
	if w.flush(flushCtx) {
		w.leave(flushCtx)
	}
	cancel()

	stopLife()
	bg.Wait()
	w.log.Info("worker stopped")
	return nil
}

// waitTasks waits for running tasks up to ShutdownTimeout, then cancels the
// rest and waits for them to report (bounded by handlerGrace).
func (w *Worker) waitTasks(kill context.CancelCauseFunc) {
	done := make(chan struct{})
	go func() {
		w.tasks.Wait()
		close(done)
	}()
	if n := w.runningCount(); n > 0 {
		w.log.Info("waiting for running tasks", "count", n, "timeout", w.cfg.ShutdownTimeout)
	}
	t := time.NewTimer(w.cfg.ShutdownTimeout)
	defer t.Stop()
	select {
	case <-done:
		return
	case <-t.C:
	}
	w.log.Warn("canceling running tasks", "count", w.runningCount())
	kill(errShutdown)
	<-done // every run ends within handlerGrace of its context
}

func (w *Worker) runningCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.running)
}

// notify wakes the loop reading ch without ever blocking.
func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// sleepCtx waits d or until ctx ends; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// backoff grows a pause from 100 ms to 5 s.
type backoff struct{ d time.Duration }

func (b *backoff) next() time.Duration {
	switch {
	case b.d == 0:
		b.d = 100 * time.Millisecond
	case b.d < 5*time.Second:
		b.d = min(2*b.d, 5*time.Second)
	}
	return b.d
}

func (b *backoff) reset() { b.d = 0 }
