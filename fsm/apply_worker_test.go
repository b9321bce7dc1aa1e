package fsm

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRegisterWorker(t *testing.T) {
	now := at(time.Minute)
	cases := []cmdCase{
		{
			name: "new worker is ready",
			cmd:  cmd(RegisterWorker{Now: now, ID: "w1", Address: "10.0.0.1", Labels: map[string]string{"gpu": "yes"}, Capacity: 2}),
			check: func(t *testing.T, h *harness, _ *Response, events []Event) {
				w, running, ok := h.f.Worker("w1")
				if !ok || w.Status != WorkerStatusReady || w.Capacity != 2 || w.Address != "10.0.0.1" || w.Labels["gpu"] != "yes" ||
					!w.RegisteredAt.Equal(now) || !w.LastSeenAt.Equal(now) || len(running) != 0 {
					t.Errorf("worker = %+v", w)
				}
				wantTypes(t, events, "worker.registered")
				if events[0].Worker.ID != "w1" {
					t.Errorf("event %+v", events[0])
				}
			},
		},
		{
			name: "re-register refreshes, keeps registration time and leases, and makes a down worker ready",
			setup: func(h *harness) {
				leased(nil)(h)
				h.must(DrainWorker{Now: base, WorkerID: "w1"})
			},
			cmd: cmd(RegisterWorker{Now: now, ID: "w1", Labels: map[string]string{"zone": "b"}, Capacity: 8}),
			check: func(t *testing.T, h *harness, _ *Response, _ []Event) {
				w, running, _ := h.f.Worker("w1")
				if w.Status != WorkerStatusReady || w.Capacity != 8 || w.Labels["zone"] != "b" || !w.RegisteredAt.Equal(base) ||
					!w.LastSeenAt.Equal(now) || !slices.Equal(running, []int64{1}) {
					t.Errorf("worker = %+v running %v", w, running)
				}
			},
		},
		{name: "no id", cmd: cmd(RegisterWorker{Now: now, Capacity: 1}), wantErr: ErrInvalid},
		{name: "no capacity", cmd: cmd(RegisterWorker{Now: now, ID: "w1"}), wantErr: ErrInvalid},
	}
	runCases(t, cases)
}

func TestDrainWorker(t *testing.T) {
	cases := []cmdCase{
		{
			name:  "ready worker drains and keeps its leases",
			setup: leased(nil),
			cmd:   cmd(DrainWorker{Now: at(time.Second), WorkerID: "w1"}),
			check: func(t *testing.T, h *harness, _ *Response, events []Event) {
				w, running, _ := h.f.Worker("w1")
				if w.Status != WorkerStatusDraining || !slices.Equal(running, []int64{1}) {
					t.Errorf("worker %+v running %v", w, running)
				}
				wantTypes(t, events, "worker.draining")
				// A draining worker may still finish what it has.
				h.must(Complete{Now: at(time.Second), WorkerID: "w1", TaskID: 1, Attempt: 1})
			},
		},
		{name: "unknown worker", cmd: cmd(DrainWorker{Now: base, WorkerID: "w1"}), wantErr: ErrNotFound},
		{
			name:    "down worker",
			setup:   func(h *harness) { h.worker("w1", nil); h.must(WorkerDown{Now: base, WorkerID: "w1"}) },
			cmd:     cmd(DrainWorker{Now: base, WorkerID: "w1"}),
			wantErr: ErrConflict,
		},
	}
	runCases(t, cases)
}

func TestWorkerDown(t *testing.T) {
	now := at(time.Minute)
	cases := []cmdCase{
		{
			name: "all running tasks are requeued in one command",
			setup: func(h *harness) {
				h.worker("w1", nil)
				h.worker("w2", nil)
				h.submit(spec("a"), with(spec("b"), func(s *TaskSpec) { s.MaxAttempts = 1 }), spec("c"), spec("d"), spec("e"))
				h.lease("w1", 4, 1, 2, 3)
				h.lease("w2", 5)
				h.must(Cancel{Now: base, TaskID: 3})
				h.must(Complete{Now: base, WorkerID: "w1", TaskID: 4, Attempt: 1})
			},
			cmd: cmd(WorkerDown{Now: now, WorkerID: "w1", Reason: "missed heartbeats"}),
			check: func(t *testing.T, h *harness, resp *Response, events []Event) {
				w, running, _ := h.f.Worker("w1")
				if w.Status != WorkerStatusDown || len(running) != 0 {
					t.Errorf("worker %+v running %v", w, running)
				}
				want := []eventKey{
					{h.index, "worker.down", 0, "w1"},
					{h.index, "task.requeued", 1, ""},
					{h.index, "task.failed", 2, ""},
					{h.index, "task.canceled", 3, ""},
				}
				if got := eventKeys(events); !slices.Equal(got, want) {
					t.Errorf("events %v, want %v", got, want)
				}
				if len(resp.Tasks) != 3 {
					t.Errorf("resp has %d tasks", len(resp.Tasks))
				}
				if got := h.task(1); got.Status != StatusPending || got.Attempt != 1 || !strings.Contains(got.Error, "missed heartbeats") {
					t.Errorf("task 1 = %+v", got)
				}
				if h.status(4) != StatusCompleted || h.task(5).WorkerID != "w2" || h.status(5) != StatusRunning {
					t.Error("other tasks touched")
				}
				if events[1].Reason == "" {
					t.Error("requeue event has no reason")
				}
			},
		},
		{
			name:  "worker without leases",
			setup: func(h *harness) { h.worker("w1", nil) },
			cmd:   cmd(WorkerDown{Now: now, WorkerID: "w1"}),
			check: func(t *testing.T, _ *harness, _ *Response, events []Event) {
				wantTypes(t, events, "worker.down")
			},
		},
		{name: "unknown worker", cmd: cmd(WorkerDown{Now: now, WorkerID: "w1"}), wantErr: ErrNotFound},
	}
	runCases(t, cases)
}

func TestWorkerStats(t *testing.T) {
	now := at(time.Minute)
	setup := func(h *harness) {
		h.worker("w1", nil)
		h.worker("w2", nil)
		h.submit(spec("a"), spec("b"), spec("c"), spec("d"))
		h.lease("w1", 1, 2)
		h.lease("w2", 3)
	}
	cases := []cmdCase{
		{
			name:  "stats and progress of own leases",
			setup: setup,
			cmd: cmd(WorkerStats{Now: now, Stats: []WorkerStat{
				{WorkerID: "w1", CPU: 0.5, Memory: 0.25, SeenAt: at(59 * time.Second),
					Progress: map[int64]float64{2: 0.75, 1: 0.5, 3: 0.1, 4: 0.2, 99: 0.3}},
				{WorkerID: "ghost", CPU: 1, SeenAt: now, Progress: map[int64]float64{1: 0.9}},
				{WorkerID: "w2", SeenAt: now, Progress: map[int64]float64{3: 1.5}},
			}}),
			check: func(t *testing.T, h *harness, _ *Response, events []Event) {
				w, _, _ := h.f.Worker("w1")
				if w.CPU != 0.5 || w.Memory != 0.25 || !w.LastSeenAt.Equal(at(59*time.Second)) {
					t.Errorf("worker %+v", w)
				}
				want := []eventKey{
					{h.index, "worker.stats", 0, "w1"},
					{h.index, "task.progress", 1, ""},
					{h.index, "task.progress", 2, ""},
					{h.index, "worker.stats", 0, "w2"},
				}
				if got := eventKeys(events); !slices.Equal(got, want) {
					t.Errorf("events %v, want %v", got, want)
				}
				if h.task(1).Progress != 0.5 || h.task(2).Progress != 0.75 || h.task(3).Progress != 0 || h.task(4).Progress != 0 {
					t.Error("progress applied to the wrong tasks")
				}
				if _, _, ok := h.f.Worker("ghost"); ok {
					t.Error("stats created a worker")
				}
			},
		},
		{
			name: "unchanged progress emits nothing",
			setup: func(h *harness) {
				setup(h)
				h.must(WorkerStats{Now: base, Stats: []WorkerStat{{WorkerID: "w1", SeenAt: base, Progress: map[int64]float64{1: 0.5}}}})
			},
			cmd: cmd(WorkerStats{Now: now, Stats: []WorkerStat{{WorkerID: "w1", SeenAt: now, Progress: map[int64]float64{1: 0.5}}}}),
			check: func(t *testing.T, _ *harness, _ *Response, events []Event) {
				wantTypes(t, events, "worker.stats")
			},
		},
	}
	runCases(t, cases)
}

func TestServers(t *testing.T) {
	srv := Server{ID: "m1", RaftAddr: "10.0.0.1:7000", HTTPAddr: "10.0.0.1:8080"}
	cases := []cmdCase{
		{
			name: "register",
			cmd:  cmd(RegisterServer{Server: srv}),
			check: func(t *testing.T, h *harness, _ *Response, events []Event) {
				if got := h.f.Servers(); len(got) != 1 || got["m1"] != srv {
					t.Errorf("servers %v", got)
				}
				if len(events) != 1 || events[0].Type != "cluster.membership" || events[0].Reason != "registered" || *events[0].Server != srv {
					t.Errorf("events %+v", events)
				}
			},
		},
		{
			name:  "re-register replaces the addresses",
			setup: func(h *harness) { h.must(RegisterServer{Server: srv}) },
			cmd:   cmd(RegisterServer{Server: Server{ID: "m1", RaftAddr: "x:1", HTTPAddr: "x:2"}}),
			check: func(t *testing.T, h *harness, _ *Response, _ []Event) {
				if got := h.f.Servers()["m1"]; got.RaftAddr != "x:1" {
					t.Errorf("server %+v", got)
				}
			},
		},
		{
			name:  "remove",
			setup: func(h *harness) { h.must(RegisterServer{Server: srv}) },
			cmd:   cmd(RemoveServer{ID: "m1"}),
			check: func(t *testing.T, h *harness, _ *Response, events []Event) {
				if len(h.f.Servers()) != 0 || len(events) != 1 || events[0].Reason != "removed" {
					t.Errorf("servers %v events %+v", h.f.Servers(), events)
				}
			},
		},
		{
			name: "remove unknown is a no-op",
			cmd:  cmd(RemoveServer{ID: "m9"}),
			check: func(t *testing.T, _ *harness, _ *Response, events []Event) {
				if len(events) != 0 {
					t.Errorf("events %+v", events)
				}
			},
		},
		{name: "register without id", cmd: cmd(RegisterServer{Server: Server{RaftAddr: "x"}}), wantErr: ErrInvalid},
	}
	runCases(t, cases)
}

func mustBatch(t testing.TB, cmds ...Command) Batch {
	t.Helper()
	b, err := NewBatch(cmds...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBatch(t *testing.T) {
	h := newHarness(t)
	h.worker("w1", nil)
	h.submit(spec("a"), spec("b"))
	h.lease("w1", 1, 2)

	// A poll: results of earlier leases first, then new leases, then more.
	b := mustBatch(t,
		Complete{Now: base, WorkerID: "w1", TaskID: 1, Attempt: 1},
		Complete{Now: base, WorkerID: "w1", TaskID: 2, Attempt: 7}, // stale
		Submit{Now: base, Tasks: []TaskSpec{spec("c")}},
		Submit{Now: base, Tasks: []TaskSpec{{Name: "bad"}}}, // invalid
		Lease{Now: base, WorkerID: "w1", TaskIDs: []int64{3}},
		Cancel{Now: base, TaskID: 42}, // unknown
		mustBatch(t, Promote{Now: base}),
		Fail{Now: base, WorkerID: "w1", TaskID: 2, Attempt: 1, Error: "x"},
	)
	b.Commands = slices.Insert(b.Commands, 3, []byte{byte(IgnorableFlag | 0x7f), 1, '{', '}'})
	resp, events := h.apply(b)
	if resp.Err != nil {
		t.Fatalf("batch rejected: %v", resp.Err)
	}
	wantErrs := []error{nil, ErrStaleLease, nil, nil, ErrInvalid, nil, ErrNotFound, ErrInvalid, nil}
	if len(resp.Results) != len(wantErrs) {
		t.Fatalf("%d results, want %d", len(resp.Results), len(wantErrs))
	}
	for i, want := range wantErrs {
		if got := resp.Results[i].Err; (want == nil) != (got == nil) || (want != nil && !errors.Is(got, want)) {
			t.Errorf("result %d err = %v, want %v", i, got, want)
		}
	}
	if resp.Results[4].Tasks != nil || resp.Results[2].Tasks[0].ID != 3 || resp.Results[5].Tasks[0].Attempt != 1 {
		t.Errorf("results %+v", resp.Results)
	}
	want := []eventKey{
		{h.index, "task.completed", 1, ""},
		{h.index, "task.submitted", 3, ""},
		{h.index, "task.leased", 3, ""},
		{h.index, "task.failed", 2, ""},
	}
	if got := eventKeys(events); !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	if h.status(1) != StatusCompleted || h.status(2) != StatusFailed || h.status(3) != StatusRunning {
		t.Errorf("statuses %s %s %s", h.status(1), h.status(2), h.status(3))
	}
	checkIndexes(t, h.f)
}

func TestBatchUndecodableInnerPanics(t *testing.T) {
	h := newHarness(t)
	b := mustBatch(t, Promote{Now: base})
	b.Commands = append(b.Commands, []byte{byte(CmdSubmit), 1, '{'})
	expectPanic(t, "cannot apply command 1 of batch", func() { h.apply(b) })
}

func expectPanic(t *testing.T, want string, fn func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Fatal("did not panic")
		}
		if msg, _ := r.(string); !strings.Contains(msg, want) {
			t.Fatalf("panic %v, want it to mention %q", r, want)
		}
	}()
	fn()
}
