package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/goleak"

	"github.com/shepherd/shepherd/api/client"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLogger(t *testing.T) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "worker", Level: hclog.Debug, Output: testWriter{t}})
}

// harness runs a worker against a fake master until the test ends.
type harness struct {
	f      *fakeMaster
	w      *Worker
	cancel context.CancelFunc
	done   chan error
}

func testConfig(t *testing.T, f *fakeMaster) Config {
	return Config{
		ID:                "w1",
		Masters:           []string{f.srv.URL},
		Capacity:          2,
		PollWait:          500 * time.Millisecond,
		HeartbeatInterval: 20 * time.Millisecond,
		ShutdownTimeout:   2 * time.Second,
		Logger:            testLogger(t),
	}
}

// startWorker starts a worker; handlers are added before Run.
func startWorker(t *testing.T, f *fakeMaster, cfg Config, handlers map[string]HandlerFunc) *harness {
	t.Helper()
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for name, h := range handlers {
		w.Handle(name, h)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{f: f, w: w, cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- w.Run(ctx) }()
	t.Cleanup(func() { h.stop(t) })
	return h
}

// stop cancels Run and waits for it to return.
func (h *harness) stop(t *testing.T) {
	t.Helper()
	h.cancel()
	select {
	case err := <-h.done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
		h.done <- nil // later calls return at once
	case <-time.After(15 * time.Second):
		t.Fatal("worker did not stop")
	}
}

func task(id int64, name, payload string) client.Task {
	t := client.Task{ID: id, Name: name, Queue: "default", Status: "pending", MaxAttempts: 3, Timeout: "5s"}
	if payload != "" {
		t.Payload = json.RawMessage(payload)
	}
	return t
}

// blocker is a handler that blocks until its gate opens or its context ends,
// counting how many run at once.
type blocker struct {
	gate    chan struct{}
	active  atomic.Int64
	maxSeen atomic.Int64
	started atomic.Int64
}

func newBlocker() *blocker { return &blocker{gate: make(chan struct{})} }

func (b *blocker) handle(ctx context.Context, t client.Task) (json.RawMessage, error) {
	n := b.active.Add(1)
	defer b.active.Add(-1)
	b.started.Add(1)
	for {
		m := b.maxSeen.Load()
		if n <= m || b.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	select {
	case <-b.gate:
		return json.RawMessage(`"done"`), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func TestTasksCompleteWithLeaseAttempt(t *testing.T) {
	f := newFakeMaster(t)
	for i := int64(1); i <= 20; i++ {
		tk := task(i, "echo", fmt.Sprintf(`{"n":%d}`, i))
		if i%2 == 0 {
			tk.Attempt = 2 // a retry: its lease is attempt 3
		}
		f.enqueue(tk)
	}
	cfg := testConfig(t, f)
	cfg.Capacity = 4
	startWorker(t, f, cfg, nil)

	waitFor(t, 5*time.Second, "20 completions", func() bool { return f.completedCount() == 20 })
	for i := int64(1); i <= 20; i++ {
		c, _ := f.completion(i)
		want := 1
		if i%2 == 0 {
			want = 3
		}
		if c.Attempt != want {
			t.Errorf("task %d completed with attempt %d, want %d", i, c.Attempt, want)
		}
		if string(c.Result) != fmt.Sprintf(`{"n":%d}`, i) {
			t.Errorf("task %d result %s", i, c.Result)
		}
	}
	if len(f.failures()) != 0 {
		t.Fatalf("failures: %+v", f.failures())
	}
}

func TestCapacityNeverExceeded(t *testing.T) {
	f := newFakeMaster(t)
	for i := int64(1); i <= 12; i++ {
		f.enqueue(task(i, "block", ""))
	}
	b := newBlocker()
	cfg := testConfig(t, f)
	cfg.Capacity = 3
	startWorker(t, f, cfg, map[string]HandlerFunc{"block": b.handle})

	waitFor(t, 5*time.Second, "3 running handlers", func() bool { return b.active.Load() == 3 })
	if n := f.leasedCount(); n != 3 {
		t.Fatalf("worker holds %d leases with capacity 3", n)
	}
	close(b.gate)
	waitFor(t, 5*time.Second, "12 completions", func() bool { return f.completedCount() == 12 })
	if m := b.maxSeen.Load(); m != 3 {
		t.Fatalf("at most %d handlers ran at once, want 3", m)
	}
}

func TestTimeoutFailsTask(t *testing.T) {
	f := newFakeMaster(t)
	tk := task(1, "block", "")
	tk.Timeout = "100ms"
	f.enqueue(tk)
	b := newBlocker()
	startWorker(t, f, testConfig(t, f), map[string]HandlerFunc{"block": b.handle})

	waitFor(t, 5*time.Second, "a failure", func() bool { return len(f.failures()) == 1 })
	got := f.failures()[0]
	if got.Error != "timeout after 100ms" || !got.Retry || got.Attempt != 1 {
		t.Fatalf("failure = %+v", got)
	}
	if b.active.Load() != 0 {
		t.Fatal("handler still running after its timeout")
	}
}

func TestCancelFromHeartbeat(t *testing.T) {
	f := newFakeMaster(t)
	f.enqueue(task(7, "block", ""))
	b := newBlocker()
	startWorker(t, f, testConfig(t, f), map[string]HandlerFunc{"block": b.handle})

	waitFor(t, 5*time.Second, "heartbeat naming task 7", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, hb := range f.heartbeats {
			if len(hb.Running) == 1 && hb.Running[0] == 7 {
				return true
			}
		}
		return false
	})
	f.mu.Lock()
	f.cancel[7] = true
	f.mu.Unlock()

	waitFor(t, 5*time.Second, "a failure", func() bool { return len(f.failures()) == 1 })
	got := f.failures()[0]
	if got.ID != 7 || got.Retry || !strings.Contains(got.Error, "canceled") {
		t.Fatalf("failure = %+v", got)
	}
}

func TestShellExecutor(t *testing.T) {
	tests := []struct {
		name    string
		enable  bool
		command string
		result  string // wanted stdout, when it completes
		failure string // wanted error prefix, when it fails
		retry   bool
	}{
		{"refused unless enabled", false, `["echo","hi"]`, "", "shell executor is disabled", false},
		{"runs when enabled", true, `["echo","hi"]`, "hi\n", "", false},
		{"non-zero exit fails", true, `["sh","-c","echo oops >&2; exit 3"]`, "", "exit code 3: oops", true},
		{"missing program", true, `["/no/such/program"]`, "", "run", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeMaster(t)
			f.enqueue(task(1, "shell", `{"command":`+tt.command+`}`))
			cfg := testConfig(t, f)
			cfg.EnableShell = tt.enable
			startWorker(t, f, cfg, nil)

			waitFor(t, 5*time.Second, "a result", func() bool { return f.completedCount()+len(f.failures()) == 1 })
			if tt.failure != "" {
				fl := f.failures()
				if len(fl) != 1 || !strings.HasPrefix(fl[0].Error, tt.failure) || fl[0].Retry != tt.retry {
					t.Fatalf("failures = %+v", fl)
				}
				return
			}
			c, ok := f.completion(1)
			var res shellResult
			if !ok || json.Unmarshal(c.Result, &res) != nil || res.Stdout != tt.result || res.ExitCode != 0 {
				t.Fatalf("completion = %+v", c)
			}
		})
	}
}

func TestResultsPiggybackedOnPoll(t *testing.T) {
	f := newFakeMaster(t)
	for i := int64(1); i <= 5; i++ {
		f.enqueue(task(i, "echo", `"x"`))
	}
	cfg := testConfig(t, f)
	cfg.Capacity = 1
	startWorker(t, f, cfg, nil)

	waitFor(t, 5*time.Second, "5 completions", func() bool { return f.completedCount() == 5 })
	for i := int64(1); i <= 5; i++ {
		if c, _ := f.completion(i); c.Via != "poll" {
			t.Errorf("task %d result came via %s, want poll", i, c.Via)
		}
	}
}

func TestResultsResentAfterFailedPoll(t *testing.T) {
	tests := []struct {
		name string
		// budget is the client's retry budget: long enough, and the client
		// resends the poll itself; tiny, and the worker has to.
		budget time.Duration
		drops  int
	}{
		{"client retries the poll", 10 * time.Second, 1},
		{"worker resends the results", time.Nanosecond, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeMaster(t)
			f.dropPolls = tt.drops
			for i := int64(1); i <= 3; i++ {
				f.enqueue(task(i, "echo", `"x"`))
			}
			cfg := testConfig(t, f)
			cfg.Capacity = 1
			cfg.Client = client.New(cfg.Masters, client.WithRetryBudget(tt.budget),
				client.WithBackoff(time.Millisecond, 10*time.Millisecond))
			startWorker(t, f, cfg, nil)

			waitFor(t, 10*time.Second, "3 completions", func() bool { return f.completedCount() == 3 })
			f.mu.Lock()
			dropped := append([]int64(nil), f.dropped...)
			f.mu.Unlock()
			if len(dropped) == 0 {
				t.Fatal("no poll was dropped")
			}
			for _, id := range dropped {
				if _, ok := f.completion(id); !ok {
					t.Errorf("result of task %d lost with a dropped poll", id)
				}
			}
		})
	}
}

func TestHandlerErrors(t *testing.T) {
	f := newFakeMaster(t)
	handlers := map[string]HandlerFunc{
		"error": func(context.Context, client.Task) (json.RawMessage, error) { return nil, errors.New("boom") },
		"fatal": func(context.Context, client.Task) (json.RawMessage, error) {
			return nil, NoRetry(errors.New("bad input"))
		},
		"panic":   func(context.Context, client.Task) (json.RawMessage, error) { panic("oh no") },
		"badjson": func(context.Context, client.Task) (json.RawMessage, error) { return json.RawMessage("{"), nil },
	}
	want := map[int64]struct {
		err   string
		retry bool
	}{
		1: {"boom", true},
		2: {"bad input", false},
		3: {"handler panicked: oh no", true},
		4: {"handler returned a result that is not valid JSON", false},
		5: {`no handler for task name "missing"`, false},
	}
	for i, name := range []string{"error", "fatal", "panic", "badjson", "missing"} {
		f.enqueue(task(int64(i+1), name, ""))
	}
	cfg := testConfig(t, f)
	cfg.Logger = hclog.NewNullLogger() // the panic's stack is noise here
	startWorker(t, f, cfg, handlers)

	waitFor(t, 5*time.Second, "5 failures", func() bool { return len(f.failures()) == 5 })
	for _, got := range f.failures() {
		w := want[got.ID]
		if got.Error != w.err || got.Retry != w.retry {
			t.Errorf("task %d failed with %q retry=%v, want %q retry=%v", got.ID, got.Error, got.Retry, w.err, w.retry)
		}
	}
}

func TestReregistersWhenForgotten(t *testing.T) {
	f := newFakeMaster(t)
	startWorker(t, f, testConfig(t, f), nil)
	registers := func() int {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.registers
	}
	waitFor(t, 5*time.Second, "registration", func() bool { return registers() == 1 })

	f.mu.Lock()
	f.known = map[string]bool{}
	f.mu.Unlock()
	waitFor(t, 5*time.Second, "registration again", func() bool { return registers() >= 2 })

	f.enqueue(task(1, "echo", `1`))
	waitFor(t, 5*time.Second, "a completion", func() bool { return f.completedCount() == 1 })
}

func TestShutdownWaitsForRunningTask(t *testing.T) {
	f := newFakeMaster(t)
	f.enqueue(task(1, "block", ""))
	b := newBlocker()
	h := startWorker(t, f, testConfig(t, f), map[string]HandlerFunc{"block": b.handle})
	waitFor(t, 5*time.Second, "the handler", func() bool { return b.active.Load() == 1 })

	h.cancel()
	close(b.gate)
	h.stop(t)
	c, ok := f.completion(1)
	if !ok || c.Via != "endpoint" || string(c.Result) != `"done"` {
		t.Fatalf("completion = %+v (reported %v)", c, ok)
	}
}

func TestShutdownCancelsLateTasks(t *testing.T) {
	f := newFakeMaster(t)
	f.enqueue(task(1, "block", ""))
	b := newBlocker()
	cfg := testConfig(t, f)
	cfg.ShutdownTimeout = 50 * time.Millisecond
	h := startWorker(t, f, cfg, map[string]HandlerFunc{"block": b.handle})
	waitFor(t, 5*time.Second, "the handler", func() bool { return b.active.Load() == 1 })

	h.stop(t)
	fl := f.failures()
	if len(fl) != 1 || !fl[0].Retry || !strings.HasPrefix(fl[0].Error, "worker shutting down") {
		t.Fatalf("failures = %+v", fl)
	}
}

func TestHeartbeatCarriesProgressAndLoad(t *testing.T) {
	f := newFakeMaster(t)
	f.enqueue(task(3, "progress", ""))
	gate := make(chan struct{})
	defer close(gate)
	progress := func(ctx context.Context, _ client.Task) (json.RawMessage, error) {
		SetProgress(ctx, 0.5)
		select {
		case <-gate:
		case <-ctx.Done():
		}
		return nil, nil
	}
	startWorker(t, f, testConfig(t, f), map[string]HandlerFunc{"progress": progress})

	waitFor(t, 5*time.Second, "progress in a heartbeat", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, hb := range f.heartbeats {
			if hb.Progress[strconv.Itoa(3)] == 0.5 {
				if hb.CPU < 0 || hb.CPU > 1 || hb.Memory <= 0 || hb.Memory > 1 {
					t.Errorf("load out of range: cpu %v memory %v", hb.CPU, hb.Memory)
				}
				return true
			}
		}
		return false
	})
}

func TestNewValidates(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("want an error without masters")
	}
	w, err := New(Config{Masters: []string{"127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	if w.cfg.Capacity != DefaultCapacity || w.cfg.Queues[0] != DefaultQueue || w.ID() == "" {
		t.Fatalf("defaults not applied: %+v", w.cfg)
	}
}

// A poll parked on a master that stops answering (paused, cut off) is
// abandoned as soon as a heartbeat gives up on that master, instead of
// waiting out its whole wait there.
func TestPollParkedOnAHungMasterMovesOn(t *testing.T) {
	hung, healthy := newFakeMaster(t), newFakeMaster(t)
	cfg := testConfig(t, hung)
	cfg.Masters = []string{hung.srv.URL, healthy.srv.URL}
	cfg.PollWait, cfg.RequestTimeout = time.Minute, 200*time.Millisecond
	startWorker(t, hung, cfg, nil)
	waitFor(t, 5*time.Second, "registered with the first master", func() bool {
		hung.mu.Lock()
		defer hung.mu.Unlock()
		return hung.registers > 0
	})
	healthy.mu.Lock()
	healthy.known["w1"] = true
	healthy.mu.Unlock()
	healthy.enqueue(client.Task{ID: 1, Name: "echo", Payload: json.RawMessage(`"hi"`)})
	hung.mu.Lock()
	hung.hang = true
	hung.mu.Unlock()
	waitFor(t, 5*time.Second, "the task done through the healthy master", func() bool {
		return healthy.completedCount() == 1
	})
}
