package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/shepherd/shepherd/api/client"
	"github.com/shepherd/shepherd/worker"
)

// benchConfig holds the flags of `shepherd bench`.
type benchConfig struct {
	Local          int
	Masters        []string
	RaftProfile    string
	MasterLogLevel string
	Workers        int
	Capacity       int
	PollWait       time.Duration
	Tasks          int
	Batch          int
	Submitters     int
	Duration       time.Duration
	Rate           float64
	Timeout        time.Duration
	Name           string
	Queue          string
	JSON           bool
	Quiet          bool
	Keep           bool
}

func parseBenchFlags(args []string, stderr io.Writer) (benchConfig, error) {
	var c benchConfig
	fs := flagSet("bench", stderr)
	fs.IntVar(&c.Local, "local", 3, "spawn this many masters of this binary on loopback (ignored with --masters)")
	masters := fs.String("masters", "", "comma-separated HTTP addresses of an existing cluster (instead of --local)")
	fs.StringVar(&c.RaftProfile, "raft-profile", "default", "Raft timing of --local masters: default or fast")
	fs.StringVar(&c.MasterLogLevel, "master-log-level", "info", "log level of --local masters")
	fs.IntVar(&c.Workers, "workers", 4, "in-process worker agents")
	fs.IntVar(&c.Capacity, "capacity", 64, "task slots per worker")
	fs.DurationVar(&c.PollWait, "poll-wait", time.Second, "workers' long-poll wait")
	fs.IntVar(&c.Tasks, "tasks", 20000, "tasks to submit (with --duration: at most this many)")
	fs.IntVar(&c.Batch, "batch", 100, "tasks per POST /v1/tasks/batch; 1 uses single POST /v1/tasks")
	fs.IntVar(&c.Submitters, "submitters", 8, "concurrent submitters")
	fs.Float64Var(&c.Rate, "rate", 0, "submit at most this many tasks/s (0: as fast as possible); for latency below saturation")
	fs.DurationVar(&c.Duration, "duration", 0, "submit for this long instead of until --tasks are submitted")
	fs.DurationVar(&c.Timeout, "timeout", 5*time.Minute, "abort the whole run (start-up included) after this long")
	fs.StringVar(&c.Name, "name", "bench.noop", "task name the no-op handler serves")
	fs.StringVar(&c.Queue, "queue", "", "queue to use (default: a fresh bench-<run id> queue)")
	fs.BoolVar(&c.JSON, "json", false, "print the report as JSON")
	fs.BoolVar(&c.Quiet, "quiet", false, "no progress lines on stderr")
	fs.BoolVar(&c.Keep, "keep", false, "keep the --local masters' data and logs directory")
	if err := parse(fs, args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("bench: unexpected argument %q", fs.Arg(0))
	}
	// Unlike the client commands, bench ignores $SHEPHERD_MASTERS: loading
	// a real cluster must be asked for on the command line.
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "masters" {
			c.Masters = splitList(*masters)
		}
	})
	switch {
	case len(c.Masters) == 0 && (c.Local < 1 || c.Local > 9):
		return c, errors.New("bench: --local must be between 1 and 9")
	case c.Workers < 1 || c.Capacity < 1 || c.Submitters < 1:
		return c, errors.New("bench: --workers, --capacity and --submitters must be positive")
	case c.Tasks < 1 || c.Batch < 1:
		return c, errors.New("bench: --tasks and --batch must be positive")
	case c.PollWait <= 0 || c.Timeout <= 0 || c.Duration < 0 || c.Rate < 0:
		return c, errors.New("bench: --poll-wait and --timeout must be positive, --duration and --rate not negative")
	case c.Name == "":
		return c, errors.New("bench: --name must not be empty")
	}
	return c, nil
}

// runBench is `shepherd bench`: a load generator that measures end-to-end
// throughput (submit -> lease -> complete) and submit-to-start latency.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseBenchFlags(args, stderr)
	if err != nil {
		return err
	}
	parent := ctx
	ctx, cancel := context.WithTimeoutCause(ctx, cfg.Timeout, fmt.Errorf("bench: --timeout %s reached", cfg.Timeout))
	defer cancel()
	b := &bench{cfg: cfg, stderr: stderr, runID: randomHex(4)}
	if b.cfg.Queue == "" {
		b.cfg.Queue = "bench-" + b.runID
	}
	b.payload = json.RawMessage(`{"bench":"` + b.runID + `"}`)
	rep, err := b.run(ctx)
	b.cleanup(err != nil && parent.Err() == nil) // no log dump after Ctrl-C
	if rep != nil {
		if cfg.JSON {
			if perr := rep.printJSON(stdout); perr != nil && err == nil {
				err = perr
			}
		} else {
			rep.print(stdout)
		}
	}
	if err != nil && ctx.Err() != nil {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(err, cause) {
			err = fmt.Errorf("%w (%v)", cause, err)
		}
	}
	return err
}

// bench is one run.
type bench struct {
	cfg     benchConfig
	stderr  io.Writer
	runID   string
	payload json.RawMessage

	local       *benchCluster // nil with --masters
	masters     []string
	stopWorkers context.CancelFunc
	workersDone sync.WaitGroup

	rec     recorder
	traffic workerTraffic
}

// recorder is what the no-op handler writes: the first start of every task
// of this run and how often a task started again.
type recorder struct {
	mu           sync.Mutex
	latency      map[int64]time.Duration // submit-to-start of the first start
	invocations  int
	redeliveries int
	started      atomic.Int64 // len(latency)
}

func (b *bench) handle(_ context.Context, t client.Task) (json.RawMessage, error) {
	now := time.Now()
	if !bytes.Equal(t.Payload, b.payload) {
		return nil, nil // a task of another run in the same queue: just finish it
	}
	r := &b.rec
	r.mu.Lock()
	r.invocations++
	if _, seen := r.latency[t.ID]; seen {
		r.redeliveries++
	} else {
		r.latency[t.ID] = now.Sub(t.CreatedAt)
	}
	n := len(r.latency)
	r.mu.Unlock()
	r.started.Store(int64(n))
	return nil, nil
}

func (b *bench) logf(format string, args ...any) {
	if !b.cfg.Quiet {
		fmt.Fprintf(b.stderr, "bench: "+format+"\n", args...)
	}
}

func (b *bench) run(ctx context.Context) (*benchReport, error) {
	cfg := b.cfg
	b.rec.latency = make(map[int64]time.Duration, cfg.Tasks)
	settings := benchSettings{Target: "remote", Masters: len(cfg.Masters), Workers: cfg.Workers, Capacity: cfg.Capacity,
		PollWait: cfg.PollWait.String(), Tasks: cfg.Tasks, Batch: cfg.Batch, Submitters: cfg.Submitters,
		Queue: cfg.Queue, Name: cfg.Name, GOMAXPROCS: runtime.GOMAXPROCS(0), CPUs: runtime.NumCPU()}
	if cfg.Duration > 0 {
		settings.Duration = cfg.Duration.String()
	}
	settings.Rate = cfg.Rate
	b.masters = cfg.Masters
	if len(b.masters) == 0 {
		settings.Target, settings.Masters = "local", cfg.Local
		settings.RaftProfile, settings.MasterLogLevel = cfg.RaftProfile, cfg.MasterLogLevel
		b.logf("starting %d masters", cfg.Local)
		lc, err := startBenchCluster(cfg.Local, cfg.RaftProfile, cfg.MasterLogLevel, b.stderr)
		b.local = lc
		if err != nil {
			return nil, err
		}
		b.masters = lc.https
	}
	leader, err := waitLeader(ctx, b.masters, settings.Masters, b.local)
	if err != nil {
		return nil, err
	}
	b.logf("leader is %s at %s", leader.ID, leader.HTTPAddr)
	lc := client.New([]string{leader.HTTPAddr}, client.WithTimeout(10*time.Second))
	defer lc.Close()

	if err := b.startWorkers(ctx, lc); err != nil {
		return nil, err
	}

	// Measure.
	st0, err := lc.ClusterStatus(ctx)
	if err != nil {
		return nil, err
	}
	load := loadAvg()
	cpu0, tr0 := b.cpuSample(), b.traffic.snapshot()
	runCtx, abort := context.WithCancelCause(ctx)
	defer abort(nil)
	start := time.Now()
	sub := b.submit(runCtx, abort, start)
	end, err := b.awaitDone(runCtx, lc, sub)
	if err != nil {
		if cause := context.Cause(runCtx); cause != nil && ctx.Err() == nil {
			err = cause // a submitter failed
		}
		return nil, err
	}
	cpu1, tr1 := b.cpuSample(), b.traffic.snapshot()
	st1, err := lc.ClusterStatus(ctx)
	if err != nil {
		return nil, err
	}
	elapsed := end.Sub(start)
	b.logf("all %d tasks completed after %s; verifying", sub.count, elapsed.Round(time.Millisecond))

	b.stopWorkers()
	b.workersDone.Wait()
	completed, failed, err := b.verify(ctx, lc, sub)
	if err != nil {
		return nil, err
	}

	r := &b.rec
	r.mu.Lock()
	lat := make([]time.Duration, 0, len(sub.ids))
	for id := range sub.ids {
		if d, ok := r.latency[id]; ok {
			lat = append(lat, d)
		}
	}
	invocations, redeliveries := r.invocations, r.redeliveries
	r.mu.Unlock()

	entries := st1.CommitIndex - st0.CommitIndex
	rep := &benchReport{
		Settings:     settings,
		Tasks:        sub.count,
		Completed:    completed,
		Failed:       failed,
		ElapsedSec:   elapsed.Seconds(),
		Throughput:   rate(sub.count, elapsed),
		SubmitSec:    sub.done.Sub(start).Seconds(),
		SubmitRate:   rate(sub.count, sub.done.Sub(start)),
		SubmitCalls:  sub.calls,
		TailSec:      end.Sub(sub.done).Seconds(),
		Latency:      summarize(lat),
		Invocations:  invocations,
		Redeliveries: redeliveries,
		Entries:      entries,
		Traffic:      trafficBetween(tr0, tr1),
		LoadAvg1:     load,
	}
	rep.EntriesPerTsk = float64(entries) / float64(max(sub.count, 1))
	rep.EntriesPerSec = rate(int(entries), elapsed)
	b.fillCPU(rep, cpu0, cpu1, st1, elapsed)
	if completed != sub.count {
		return rep, fmt.Errorf("bench: %d tasks submitted but %d completed (%d failed)", sub.count, completed, failed)
	}
	return rep, nil
}

// cleanup stops the workers and the local masters and removes their
// directory; it runs on every exit path.
func (b *bench) cleanup(failed bool) {
	if b.stopWorkers != nil {
		b.stopWorkers()
		done := make(chan struct{})
		go func() { b.workersDone.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			fmt.Fprintln(b.stderr, "bench: workers did not stop in time")
		}
	}
	if b.local != nil {
		b.local.close(b.stderr, failed, b.cfg.Keep)
	}
}

// startWorkers runs the in-process workers and waits until the leader
// knows all of them.
func (b *bench) startWorkers(ctx context.Context, lc *client.Client) error {
	wctx, stop := context.WithCancel(ctx)
	b.stopWorkers = stop
	logger := hclog.New(&hclog.LoggerOptions{Name: "bench-worker", Level: hclog.Warn, Output: b.stderr})
	var ids []string
	for i := 1; i <= b.cfg.Workers; i++ {
		id := fmt.Sprintf("bench-%s-w%d", b.runID, i)
		tr := http.DefaultTransport.(*http.Transport).Clone()
		wc := client.New(b.masters, client.WithLogger(logger.Named("client")),
			client.WithHTTPClient(&http.Client{Transport: countingTransport{next: tr, t: &b.traffic}}))
		w, err := worker.New(worker.Config{ID: id, Masters: b.masters, Client: wc, Address: "127.0.0.1", Capacity: b.cfg.Capacity,
			Queues: []string{b.cfg.Queue}, PollWait: b.cfg.PollWait, ShutdownTimeout: 2 * time.Second, Logger: logger})
		if err != nil {
			return err
		}
		w.Handle(b.cfg.Name, b.handle)
		ids = append(ids, id)
		b.workersDone.Go(func() {
			if err := w.Run(wctx); err != nil {
				logger.Error("worker stopped", "id", id, "error", err)
			}
		})
	}
	for _, id := range ids {
		for {
			w, err := lc.GetWorker(ctx, id)
			if err == nil && w.Status == "ready" {
				break
			}
			if ctx.Err() != nil {
				return fmt.Errorf("bench: worker %s did not register: %w", id, context.Cause(ctx))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	time.Sleep(50 * time.Millisecond) // let the first polls park
	return nil
}

// submission is what the submitters did.
type submission struct {
	count int
	calls int
	done  time.Time // the last submit answered
	ids   map[int64]struct{}
	minID int64
}

// submit runs the submitters to completion. A failed submit aborts the
// run through abort.
func (b *bench) submit(ctx context.Context, abort context.CancelCauseFunc, start time.Time) *submission {
	cfg := b.cfg
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = cfg.Submitters + 2
	c := client.New(b.masters, client.WithHTTPClient(&http.Client{Transport: tr}), client.WithTimeout(30*time.Second))
	defer c.Close()

	var claimed atomic.Int64
	total := int64(cfg.Tasks)
	claim := func() int {
		if cfg.Duration > 0 && time.Since(start) >= cfg.Duration {
			return 0
		}
		for {
			n := claimed.Load()
			if n >= total {
				return 0
			}
			k := min(int64(cfg.Batch), total-n)
			if !claimed.CompareAndSwap(n, n+k) {
				continue
			}
			if cfg.Rate > 0 {
				// Open loop: the batch holding tasks n..n+k-1 is due when
				// the last of them is.
				due := start.Add(time.Duration(float64(n+k-1) / cfg.Rate * float64(time.Second)))
				if d := time.Until(due); d > 0 && !sleepFor(ctx, d) {
					return 0
				}
			}
			return int(k)
		}
	}
	req := client.SubmitRequest{Name: cfg.Name, Queue: cfg.Queue, Payload: b.payload}
	var (
		mu  sync.Mutex
		sub = &submission{ids: make(map[int64]struct{}, cfg.Tasks)}
		wg  sync.WaitGroup
	)
	record := func(tasks []client.Task) {
		mu.Lock()
		defer mu.Unlock()
		sub.calls++
		for _, t := range tasks {
			sub.ids[t.ID] = struct{}{}
			if sub.minID == 0 || t.ID < sub.minID {
				sub.minID = t.ID
			}
		}
		sub.count = len(sub.ids)
		sub.done = time.Now()
	}
	progress := b.progress(ctx, start, &claimed)
	for range cfg.Submitters {
		wg.Go(func() {
			batch := make([]client.SubmitRequest, cfg.Batch)
			for i := range batch {
				batch[i] = req
			}
			for ctx.Err() == nil {
				n := claim()
				if n == 0 {
					return
				}
				if cfg.Batch == 1 {
					t, _, err := c.Submit(ctx, req)
					if err != nil {
						abort(fmt.Errorf("bench: submit: %w", err))
						return
					}
					record([]client.Task{t})
					continue
				}
				tasks, err := c.SubmitBatch(ctx, batch[:n])
				if err != nil {
					abort(fmt.Errorf("bench: submit batch: %w", err))
					return
				}
				record(tasks)
			}
		})
	}
	wg.Wait()
	progress()
	if sub.done.IsZero() {
		sub.done = time.Now()
	}
	return sub
}

// progress prints a line a second until the returned function is called.
func (b *bench) progress(ctx context.Context, start time.Time, claimed *atomic.Int64) func() {
	if b.cfg.Quiet {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				b.logf("%5.1fs  submitted %d  started %d", time.Since(start).Seconds(), claimed.Load(), b.rec.started.Load())
			}
		}
	}()
	return func() { cancel(); <-done }
}

// awaitDone waits until every submitted task has started and the leader
// reports none of this run's tasks pending, scheduled or running; it
// returns that moment.
func (b *bench) awaitDone(ctx context.Context, lc *client.Client, sub *submission) (time.Time, error) {
	want := int64(sub.count)
	if err := ctx.Err(); err != nil {
		return time.Time{}, err
	}
	last := time.Now()
	for b.rec.started.Load() < want {
		if !sleepFor(ctx, 2*time.Millisecond) {
			return time.Time{}, fmt.Errorf("bench: %d of %d tasks started: %w", b.rec.started.Load(), want, context.Cause(ctx))
		}
		if !b.cfg.Quiet && time.Since(last) >= time.Second {
			last = time.Now()
			b.logf("waiting: started %d of %d", b.rec.started.Load(), want)
		}
	}
	for {
		busy, err := b.outstanding(ctx, lc, sub.minID-1)
		if err != nil {
			return time.Time{}, err
		}
		if !busy {
			return time.Now(), nil
		}
		if !sleepFor(ctx, 3*time.Millisecond) {
			return time.Time{}, fmt.Errorf("bench: waiting for the last completions: %w", context.Cause(ctx))
		}
	}
}

// outstanding reports whether the leader still has a task of this run
// that is not finished. Each status is one cheap, linearizable read.
func (b *bench) outstanding(ctx context.Context, lc *client.Client, after int64) (bool, error) {
	for _, status := range []string{"running", "pending", "scheduled"} {
		l, err := lc.ListTasks(ctx, client.ListOptions{Status: status, Queue: b.cfg.Queue, Name: b.cfg.Name,
			Limit: 1, After: after, Consistent: true})
		if err != nil {
			return false, err
		}
		if len(l.Tasks) > 0 {
			return true, nil
		}
	}
	return false, nil
}

// verify counts this run's completed and failed tasks on the leader.
func (b *bench) verify(ctx context.Context, lc *client.Client, sub *submission) (completed, failed int, err error) {
	count := func(status string) (int, error) {
		n := 0
		after := sub.minID - 1
		for {
			l, err := lc.ListTasks(ctx, client.ListOptions{Status: status, Queue: b.cfg.Queue, Name: b.cfg.Name,
				Limit: 1000, After: after, Consistent: true})
			if err != nil {
				return n, err
			}
			for _, t := range l.Tasks {
				if _, ok := sub.ids[t.ID]; ok {
					n++
				}
			}
			if l.Next == 0 {
				return n, nil
			}
			after = l.Next
		}
	}
	if completed, err = count("completed"); err != nil {
		return 0, 0, err
	}
	failed, err = count("failed")
	return completed, failed, err
}

// cpuSample reads the CPU time of the local masters and of this process
// (submitters and workers); it is empty where /proc is missing.
func (b *bench) cpuSample() map[string]time.Duration {
	out := map[string]time.Duration{}
	if d, ok := hostCPU(); ok {
		out["host"] = d
	}
	if d, ok := procCPU("self"); ok {
		out["bench"] = d
	}
	if b.local != nil {
		for _, p := range b.local.procs {
			if d, ok := procCPU(strconv.Itoa(p.cmd.Process.Pid)); ok {
				out[p.name] = d
			}
		}
	}
	return out
}

func (b *bench) fillCPU(rep *benchReport, before, after map[string]time.Duration, st client.ClusterStatus, elapsed time.Duration) {
	roles := map[string]string{}
	for _, s := range st.Servers {
		roles[s.ID] = s.State
	}
	var names []string
	if b.local != nil {
		for _, p := range b.local.procs {
			names = append(names, p.name)
		}
	}
	names = append(names, "bench")
	for _, name := range names {
		d0, ok0 := before[name]
		d1, ok1 := after[name]
		if !ok0 || !ok1 {
			continue
		}
		use := cpuUse{Name: name, Role: roles[name], Seconds: (d1 - d0).Seconds()}
		rep.CPU = append(rep.CPU, use)
		rep.CPUTotal += use.Seconds
	}
	if elapsed > 0 {
		rep.CPUUtilCores = rep.CPUTotal / elapsed.Seconds()
		if h0, ok := before["host"]; ok {
			rep.HostBusyCores = (after["host"] - h0).Seconds() / elapsed.Seconds()
		}
	}
}

func sleepFor(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
