package fsm

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// cmdCase is one command applied to a prepared state. With wantErr set the
// command must be refused with it and change nothing.
type cmdCase struct {
	name    string
	setup   func(h *harness)
	cmd     func(h *harness) Command
	wantErr error
	check   func(t *testing.T, h *harness, resp *Response, events []Event)
}

func runCases(t *testing.T, cases []cmdCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			if tc.setup != nil {
				tc.setup(h)
			}
			before := stateBytes(t, h.f)
			resp, events := h.apply(tc.cmd(h))
			if tc.wantErr != nil {
				checkRejected(t, before, h.f, resp, events, tc.wantErr)
				return
			}
			if resp.Err != nil {
				t.Fatalf("unexpected rejection: %v", resp.Err)
			}
			for _, e := range events {
				if e.Index != h.index {
					t.Errorf("event %s has index %d, want %d", e.Type, e.Index, h.index)
				}
			}
			checkIndexes(t, h.f)
			if tc.check != nil {
				tc.check(t, h, resp, events)
			}
		})
	}
}

func cmd(c Command) func(*harness) Command { return func(*harness) Command { return c } }

func wantTypes(t *testing.T, events []Event, want ...string) {
	t.Helper()
	if got := eventTypes(events); !slices.Equal(got, want) {
		t.Errorf("events = %v, want %v", got, want)
	}
}

// jsonString is a JSON string value of exactly n bytes (n >= 2).
func jsonString(n int) json.RawMessage {
	return json.RawMessage(`"` + strings.Repeat("a", n-2) + `"`)
}

func TestSubmit(t *testing.T) {
	keyed := func(key string) TaskSpec { return with(spec("k-"+key), func(s *TaskSpec) { s.IdempotencyKey = key }) }
	invalid := map[string]func(*TaskSpec){
		"no name":        func(s *TaskSpec) { s.Name = "" },
		"long name":      func(s *TaskSpec) { s.Name = strings.Repeat("n", MaxNameLen+1) },
		"no queue":       func(s *TaskSpec) { s.Queue = "" },
		"zero attempts":  func(s *TaskSpec) { s.MaxAttempts = 0 },
		"zero timeout":   func(s *TaskSpec) { s.Timeout = 0 },
		"negative limit": func(s *TaskSpec) { s.Timeout = -time.Second },
	}
	cases := []cmdCase{
		{
			name: "one task without run time is pending",
			cmd:  cmd(Submit{Now: at(time.Second), Tasks: []TaskSpec{with(spec("a"), func(s *TaskSpec) { s.Priority = 2; s.Labels = map[string]string{"r": "eu"} })}}),
			check: func(t *testing.T, h *harness, resp *Response, events []Event) {
				if len(resp.Tasks) != 1 || !slices.Equal(resp.Existing, []bool{false}) {
					t.Fatalf("response %+v", resp)
				}
				got := h.task(1)
				if got.ID != 1 || got.Status != StatusPending || got.Attempt != 0 || got.Priority != 2 ||
					got.Labels["r"] != "eu" || !got.CreatedAt.Equal(at(time.Second)) || !got.UpdatedAt.Equal(at(time.Second)) {
					t.Errorf("task = %+v", got)
				}
				wantTypes(t, events, "task.submitted")
				if events[0].Task.ID != 1 || !events[0].Time.Equal(at(time.Second)) {
					t.Errorf("event = %+v", events[0])
				}
			},
		},
		{
			name: "run time equal to now is pending",
			cmd:  cmd(Submit{Now: base, Tasks: []TaskSpec{with(spec("a"), func(s *TaskSpec) { s.RunAt = base })}}),
			check: func(t *testing.T, h *harness, _ *Response, _ []Event) {
				if h.status(1) != StatusPending || h.f.PendingCount() != 1 {
					t.Errorf("status %s, pending %d", h.status(1), h.f.PendingCount())
				}
			},
		},
		{
			name: "run time in the past is pending",
			cmd:  cmd(Submit{Now: base, Tasks: []TaskSpec{with(spec("a"), func(s *TaskSpec) { s.RunAt = at(-time.Hour) })}}),
			check: func(t *testing.T, h *harness, _ *Response, _ []Event) {
				if h.status(1) != StatusPending {
					t.Errorf("status %s", h.status(1))
				}
			},
		},
		{
			name: "run time ahead is scheduled",
			cmd:  cmd(Submit{Now: base, Tasks: []TaskSpec{with(spec("a"), func(s *TaskSpec) { s.RunAt = at(time.Minute) })}}),
			check: func(t *testing.T, h *harness, _ *Response, _ []Event) {
				if h.status(1) != StatusScheduled || h.f.PendingCount() != 0 {
					t.Errorf("status %s", h.status(1))
				}
				if next, ok := h.f.NextRunAt(); !ok || !next.Equal(at(time.Minute)) {
					t.Errorf("NextRunAt = %v %v", next, ok)
				}
				if c := h.f.Candidates([]string{"default"}, nil, 10, nil); len(c) != 0 {
					t.Errorf("scheduled task is a candidate: %v", c)
				}
			},
		},
		{
			name: "batch creates all in order",
			cmd:  cmd(Submit{Now: base, Tasks: []TaskSpec{spec("a"), spec("b"), spec("c")}}),
			check: func(t *testing.T, h *harness, resp *Response, events []Event) {
				for i, want := range []string{"a", "b", "c"} {
					if resp.Tasks[i].ID != int64(i+1) || resp.Tasks[i].Name != want {
						t.Errorf("task %d = %d %s", i, resp.Tasks[i].ID, resp.Tasks[i].Name)
					}
				}
				if got := eventKeys(events); len(got) != 3 || got[0].TaskID != 1 || got[2].TaskID != 3 {
					t.Errorf("events %v", got)
				}
			},
		},
		{
			name: "empty submit is accepted and creates nothing",
			cmd:  cmd(Submit{Now: base}),
			check: func(t *testing.T, h *harness, resp *Response, events []Event) {
				if len(resp.Tasks) != 0 || len(events) != 0 {
					t.Errorf("resp %+v events %v", resp, events)
				}
			},
		},
		{
			name:  "known idempotency key returns the existing task and creates nothing",
			setup: func(h *harness) { h.submit(keyed("k1")) },
			cmd:   cmd(Submit{Now: at(time.Hour), Tasks: []TaskSpec{with(spec("other"), func(s *TaskSpec) { s.IdempotencyKey = "k1" })}}),
			check: func(t *testing.T, h *harness, resp *Response, events []Event) {
				if len(resp.Tasks) != 1 || resp.Tasks[0].ID != 1 || resp.Tasks[0].Name != "k-k1" || !slices.Equal(resp.Existing, []bool{true}) {
					t.Fatalf("resp %+v", resp)
				}
				if len(events) != 0 {
					t.Errorf("events %v", eventTypes(events))
				}
				if list, _ := h.f.ListTasks(TaskFilter{}, 0, 10); len(list) != 1 {
					t.Errorf("%d tasks exist", len(list))
				}
			},
		},
		{
			name:  "batch mixes existing and new",
			setup: func(h *harness) { h.submit(keyed("k1")) },
			cmd:   cmd(Submit{Now: base, Tasks: []TaskSpec{spec("new"), keyed("k1"), keyed("k2")}}),
			check: func(t *testing.T, h *harness, resp *Response, events []Event) {
				if !slices.Equal(resp.Existing, []bool{false, true, false}) {
					t.Errorf("existing %v", resp.Existing)
				}
				if ids := []int64{resp.Tasks[0].ID, resp.Tasks[1].ID, resp.Tasks[2].ID}; !slices.Equal(ids, []int64{2, 1, 3}) {
					t.Errorf("ids %v", ids)
				}
				wantTypes(t, events, "task.submitted", "task.submitted")
			},
		},
		{
			name: "a key repeated within one batch creates one task",
			cmd:  cmd(Submit{Now: base, Tasks: []TaskSpec{keyed("k"), keyed("k")}}),
			check: func(t *testing.T, h *harness, resp *Response, _ []Event) {
				if !slices.Equal(resp.Existing, []bool{false, true}) || resp.Tasks[1].ID != 1 {
					t.Errorf("resp %+v", resp)
				}
			},
		},
		{
			name:    "invalid spec rejects the batch even with a known key",
			setup:   func(h *harness) { h.submit(keyed("k1")) },
			cmd:     cmd(Submit{Now: base, Tasks: []TaskSpec{keyed("k1"), spec("b"), with(spec("c"), func(s *TaskSpec) { s.Queue = "" })}}),
			wantErr: ErrInvalid,
		},
	}
	for name, edit := range invalid {
		cases = append(cases, cmdCase{
			name:    "batch all or nothing: " + name,
			setup:   func(h *harness) { h.submit(spec("existing")) },
			cmd:     cmd(Submit{Now: base, Tasks: []TaskSpec{spec("ok1"), with(spec("bad"), edit), spec("ok2")}}),
			wantErr: ErrInvalid,
		})
	}
	runCases(t, cases)
}

// TestSubmitIdsAfterRejection: a rejected batch does not consume ids.
func TestSubmitIdsAfterRejection(t *testing.T) {
	h := newHarness(t)
	resp, _ := h.apply(Submit{Now: base, Tasks: []TaskSpec{spec("a"), {Name: "bad"}}})
	if resp.Err == nil {
		t.Fatal("invalid batch accepted")
	}
	if ids := h.submit(spec("b")); ids[0] != 1 {
		t.Errorf("first id after a rejected batch = %d, want 1", ids[0])
	}
}

func TestLease(t *testing.T) {
	twoPending := func(h *harness) {
		h.worker("w1", map[string]string{"gpu": "yes", "zone": "a"})
		h.submit(spec("a"), with(spec("b"), func(s *TaskSpec) { s.Timeout = time.Minute }))
	}
	now := at(10 * time.Second)
	cases := []cmdCase{
		{
			name:  "pending tasks become running with attempt and deadline",
			setup: twoPending,
			cmd:   cmd(Lease{Now: now, WorkerID: "w1", TaskIDs: []int64{1, 2}}),
			check: func(t *testing.T, h *harness, resp *Response, events []Event) {
				if len(resp.Tasks) != 2 {
					t.Fatalf("took %d", len(resp.Tasks))
				}
				for _, c := range []struct {
					id      int64
					timeout time.Duration
				}{{1, 30 * time.Second}, {2, time.Minute}} {
					got := h.task(c.id)
					if got.Status != StatusRunning || got.Attempt != 1 || got.WorkerID != "w1" ||
						!got.LeasedAt.Equal(now) || !got.LeaseExpiresAt.Equal(now.Add(c.timeout)) || !got.UpdatedAt.Equal(now) {
						t.Errorf("task %d = %+v", c.id, got)
					}
				}
				wantTypes(t, events, "task.leased", "task.leased")
				if _, running, _ := h.f.Worker("w1"); !slices.Equal(running, []int64{1, 2}) {
					t.Errorf("worker running %v", running)
				}
				if exp := h.f.ExpiredLeases(now.Add(45 * time.Second)); len(exp) != 1 || exp[0] != (TaskAttempt{1, 1}) {
					t.Errorf("expired %v", exp)
				}
				if h.f.PendingCount() != 0 {
					t.Errorf("pending %d", h.f.PendingCount())
				}
			},
		},
		{
			name: "only pending tasks are taken",
			setup: func(h *harness) {
				h.worker("w1", nil)
				h.submit(spec("pending"), with(spec("scheduled"), func(s *TaskSpec) { s.RunAt = at(time.Hour) }),
					spec("running"), spec("canceled"), spec("completed"))
				h.lease("w1", 3, 5)
				h.must(Cancel{Now: base, TaskID: 4})
				h.must(Complete{Now: base, WorkerID: "w1", TaskID: 5, Attempt: 1})
			},
			cmd: cmd(Lease{Now: now, WorkerID: "w1", TaskIDs: []int64{2, 3, 4, 5, 99, 1, 1}}),
			check: func(t *testing.T, h *harness, resp *Response, events []Event) {
				if len(resp.Tasks) != 1 || resp.Tasks[0].ID != 1 || len(events) != 1 {
					t.Errorf("took %v", resp.Tasks)
				}
				if h.task(3).Attempt != 1 || !h.task(3).LeasedAt.Equal(base) {
					t.Errorf("running task re-leased: %+v", h.task(3))
				}
			},
		},
		{
			name: "task labels must be a subset of the worker's",
			setup: func(h *harness) {
				h.worker("w1", map[string]string{"zone": "a"})
				h.submit(with(spec("gpu"), func(s *TaskSpec) { s.Labels = map[string]string{"gpu": "yes"} }),
					with(spec("zone-a"), func(s *TaskSpec) { s.Labels = map[string]string{"zone": "a"} }),
					with(spec("zone-b"), func(s *TaskSpec) { s.Labels = map[string]string{"zone": "b"} }),
					spec("any"))
			},
			cmd: cmd(Lease{Now: now, WorkerID: "w1", TaskIDs: []int64{1, 2, 3, 4}}),
			check: func(t *testing.T, h *harness, resp *Response, _ []Event) {
				var got []int64
				for _, tk := range resp.Tasks {
					got = append(got, tk.ID)
				}
				if !slices.Equal(got, []int64{2, 4}) {
					t.Errorf("took %v, want [2 4]", got)
				}
			},
		},
		{
			name: "a new lease increments the attempt and clears the last one's traces",
			setup: func(h *harness) {
				h.worker("w1", nil)
				h.submit(spec("a"))
				h.lease("w1", 1)
				h.must(WorkerStats{Now: base, Stats: []WorkerStat{{WorkerID: "w1", SeenAt: base, Progress: map[int64]float64{1: 0.5}}}})
				h.must(Fail{Now: base, WorkerID: "w1", TaskID: 1, Attempt: 1, Error: "boom", Retry: true, RetryAt: base})
			},
			cmd: cmd(Lease{Now: now, WorkerID: "w1", TaskIDs: []int64{1}}),
			check: func(t *testing.T, h *harness, _ *Response, _ []Event) {
				got := h.task(1)
				if got.Attempt != 2 || got.Progress != 0 || got.Error != "" || got.Status != StatusRunning {
					t.Errorf("task = %+v", got)
				}
			},
		},
		{
			name: "a deadline past year 9999 is not granted",
			setup: func(h *harness) {
				h.worker("w1", nil)
				h.submit(with(spec("a"), func(s *TaskSpec) { s.Timeout = 48 * time.Hour }))
			},
			cmd: cmd(Lease{Now: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), WorkerID: "w1", TaskIDs: []int64{1}}),
			check: func(t *testing.T, h *harness, resp *Response, _ []Event) {
				if len(resp.Tasks) != 0 {
					t.Errorf("leased until %v", resp.Tasks[0].LeaseExpiresAt)
				}
				stateBytes(t, h.f) // still encodable
			},
		},
		{name: "unknown worker", setup: twoPending, cmd: cmd(Lease{Now: now, WorkerID: "nobody", TaskIDs: []int64{1}}), wantErr: ErrNotFound},
		{
			name:    "draining worker",
			setup:   func(h *harness) { twoPending(h); h.must(DrainWorker{Now: base, WorkerID: "w1"}) },
			cmd:     cmd(Lease{Now: now, WorkerID: "w1", TaskIDs: []int64{1}}),
			wantErr: ErrConflict,
		},
		{
			name:    "down worker",
			setup:   func(h *harness) { twoPending(h); h.must(WorkerDown{Now: base, WorkerID: "w1"}) },
			cmd:     cmd(Lease{Now: now, WorkerID: "w1", TaskIDs: []int64{1}}),
			wantErr: ErrConflict,
		},
	}
	runCases(t, cases)
}

// leased prepares task 1 running on w1 at attempt 1 (and w2 registered).
func leased(edit func(*TaskSpec)) func(h *harness) {
	return func(h *harness) {
		h.worker("w1", nil)
		h.worker("w2", nil)
		sp := spec("a")
		if edit != nil {
			edit(&sp)
		}
		h.submit(sp)
		h.lease("w1", 1)
	}
}

// releasedAt2 leaves task 1 at attempt 2 on w2, after attempt 1 on w1 expired.
func releasedAt2(h *harness) {
	leased(nil)(h)
	h.must(Requeue{Now: base, Leases: []TaskAttempt{{1, 1}}, Reason: "expired"})
	h.lease("w2", 1)
}

func TestComplete(t *testing.T) {
	now := at(5 * time.Second)
	done := func(h *harness) {
		leased(nil)(h)
		h.must(Complete{Now: base, WorkerID: "w1", TaskID: 1, Attempt: 1, Result: json.RawMessage(`{"ok":true}`)})
	}
	cases := []cmdCase{
		{
			name:  "current lease completes",
			setup: leased(nil),
			cmd:   cmd(Complete{Now: now, WorkerID: "w1", TaskID: 1, Attempt: 1, Result: json.RawMessage(`{"n":1}`)}),
			check: func(t *testing.T, h *harness, resp *Response, events []Event) {
				got := h.task(1)
				if got.Status != StatusCompleted || string(got.Result) != `{"n":1}` || got.Progress != 1 ||
					!got.FinishedAt.Equal(now) || !got.LeaseExpiresAt.IsZero() || got.Attempt != 1 {
					t.Errorf("task = %+v", got)
				}
				wantTypes(t, events, "task.completed")
				if len(h.f.Leases("w1")) != 0 || len(h.f.ExpiredLeases(at(time.Hour))) != 0 {
					t.Error("completed task still leased")
				}
				if len(resp.Tasks) != 1 || resp.Tasks[0].Status != StatusCompleted {
					t.Errorf("resp %+v", resp)
				}
			},
		},
		{
			name:  "result of exactly the limit is accepted",
			setup: leased(nil),
			cmd:   cmd(Complete{Now: now, WorkerID: "w1", TaskID: 1, Attempt: 1, Result: jsonString(MaxResultSize)}),
			check: func(t *testing.T, h *harness, _ *Response, _ []Event) {
				if h.status(1) != StatusCompleted {
					t.Error("not completed")
				}
			},
		},
		{
			name:  "a cancel request does not stop a success",
			setup: func(h *harness) { leased(nil)(h); h.must(Cancel{Now: base, TaskID: 1}) },
			cmd:   cmd(Complete{Now: now, WorkerID: "w1", TaskID: 1, Attempt: 1}),
			check: func(t *testing.T, h *harness, _ *Response, _ []Event) {
				if h.status(1) != StatusCompleted {
					t.Errorf("status %s", h.status(1))
				}
			},
		},
		{
			name:  "repeat of the same completed attempt is idempotent",
			setup: done,
			cmd:   cmd(Complete{Now: now, WorkerID: "w1", TaskID: 1, Attempt: 1, Result: json.RawMessage(`"other"`)}),
			check: func(t *testing.T, h *harness, resp *Response, events []Event) {
				if len(events) != 0 || len(resp.Tasks) != 1 || string(resp.Tasks[0].Result) != `{"ok":true}` {
					t.Errorf("resp %+v events %v", resp, eventTypes(events))
				}
				if !h.task(1).UpdatedAt.Equal(base) {
					t.Error("repeat changed the task")
				}
			},
		},
		{name: "repeat from another worker is stale", setup: done, cmd: cmd(Complete{Now: now, WorkerID: "w2", TaskID: 1, Attempt: 1}), wantErr: ErrStaleLease},
		{name: "repeat with another attempt is stale", setup: done, cmd: cmd(Complete{Now: now, WorkerID: "w1", TaskID: 1, Attempt: 2}), wantErr: ErrStaleLease},
		{name: "older attempt is stale", setup: releasedAt2, cmd: cmd(Complete{Now: now, WorkerID: "w1", TaskID: 1, Attempt: 1}), wantErr: ErrStaleLease},
		{name: "future attempt is stale", setup: leased(nil), cmd: cmd(Complete{Now: now, WorkerID: "w1", TaskID: 1, Attempt: 2}), wantErr: ErrStaleLease},
		{name: "other worker is stale", setup: leased(nil), cmd: cmd(Complete{Now: now, WorkerID: "w2", TaskID: 1, Attempt: 1}), wantErr: ErrStaleLease},
		{name: "missing worker id is invalid", setup: leased(nil), cmd: cmd(Complete{Now: now, TaskID: 1, Attempt: 1}), wantErr: ErrInvalid},
		{
			name:    "pending task is stale",
			setup:   func(h *harness) { h.worker("w1", nil); h.submit(spec("a")) },
			cmd:     cmd(Complete{Now: now, WorkerID: "w1", TaskID: 1, Attempt: 0}),
			wantErr: ErrStaleLease,
		},
		{name: "unknown task", setup: leased(nil), cmd: cmd(Complete{Now: now, WorkerID: "w1", TaskID: 7, Attempt: 1}), wantErr: ErrNotFound},
		{
			name:    "result over 64 KiB",
			setup:   leased(nil),
			cmd:     cmd(Complete{Now: now, WorkerID: "w1", TaskID: 1, Attempt: 1, Result: jsonString(MaxResultSize + 1)}),
			wantErr: ErrInvalid,
		},
		{
			name: "failed attempt cannot be completed",
			setup: func(h *harness) {
				leased(nil)(h)
				h.must(Fail{Now: base, WorkerID: "w1", TaskID: 1, Attempt: 1, Error: "x"})
			},
			cmd:     cmd(Complete{Now: now, WorkerID: "w1", TaskID: 1, Attempt: 1}),
			wantErr: ErrStaleLease,
		},
	}
	runCases(t, cases)
}

func TestFail(t *testing.T) {
	now := at(5 * time.Second)
	failed := func(h *harness) {
		leased(nil)(h)
		h.must(Fail{Now: base, WorkerID: "w1", TaskID: 1, Attempt: 1, Error: "boom"})
	}
	cases := []cmdCase{
		{
			name:  "retry with attempts left waits until RetryAt",
			setup: leased(nil),
			cmd:   cmd(Fail{Now: now, WorkerID: "w1", TaskID: 1, Attempt: 1, Error: "boom", Retry: true, RetryAt: at(time.Minute)}),
			check: func(t *testing.T, h *harness, _ *Response, events []Event) {
				got := h.task(1)
				if got.Status != StatusScheduled || !got.RunAt.Equal(at(time.Minute)) || got.Attempt != 1 ||
					got.Error != "boom" || got.WorkerID != "" || !got.LeaseExpiresAt.IsZero() || !got.FinishedAt.IsZero() {
					t.Errorf("task = %+v", got)
				}
				wantTypes(t, events, "task.retrying")
				if next, _ := h.f.NextRunAt(); !next.Equal(at(time.Minute)) {
					t.Errorf("NextRunAt %v", next)
				}
				if len(h.f.Leases("w1")) != 0 {
					t.Error("still leased")
				}
			},
		},
		{
			name:  "retry due now is pending at once",
			setup: leased(nil),
			cmd:   cmd(Fail{Now: now, WorkerID: "w1", TaskID: 1, Attempt: 1, Retry: true, RetryAt: now}),
			check: func(t *testing.T, h *harness, _ *Response, _ []Event) {
				if h.status(1) != StatusPending || !slices.Equal(h.f.Candidates([]string{"default"}, nil, 5, nil), []int64{1}) {
					t.Errorf("status %s", h.status(1))
				}
			},
		},
		{
			name:  "retry in the past is pending",
			setup: leased(nil),
			cmd:   cmd(Fail{Now: now, WorkerID: "w1", TaskID: 1, Attempt: 1, Retry: true, RetryAt: base}),
			check: func(t *testing.T, h *harness, _ *Response, _ []Event) {
				if h.status(1) != StatusPending {
					t.Errorf("status %s", h.status(1))
				}
			},
		},
		{
			name:  "no retry fails",
			setup: leased(nil),
			cmd:   cmd(Fail{Now: now, WorkerID: "w1", TaskID: 1, Attempt: 1, Error: "bad input", RetryAt: at(time.Minute)}),
			check: func(t *testing.T, h *harness, _ *Response, events []Event) {
				got := h.task(1)
				if got.Status != StatusFailed || !got.FinishedAt.Equal(now) || got.Error != "bad input" {
					t.Errorf("task = %+v", got)
				}
				wantTypes(t, events, "task.failed")
			},
		},
		{
			name:  "retry with attempts exhausted fails",
			setup: leased(func(s *TaskSpec) { s.MaxAttempts = 1 }),
			cmd:   cmd(Fail{Now: now, WorkerID: "w1", TaskID: 1, Attempt: 1, Retry: true, RetryAt: now}),
			check: func(t *testing.T, h *harness, _ *Response, events []Event) {
				if h.status(1) != StatusFailed {
					t.Errorf("status %s", h.status(1))
				}
				wantTypes(t, events, "task.failed")
			},
		},
		{
			name:  "cancel requested ends canceled",
			setup: func(h *harness) { leased(nil)(h); h.must(Cancel{Now: base, TaskID: 1}) },
			cmd:   cmd(Fail{Now: now, WorkerID: "w1", TaskID: 1, Attempt: 1, Error: "stopped", Retry: true, RetryAt: now}),
			check: func(t *testing.T, h *harness, _ *Response, events []Event) {
				if got := h.task(1); got.Status != StatusCanceled || !got.FinishedAt.Equal(now) {
					t.Errorf("task = %+v", got)
				}
				wantTypes(t, events, "task.canceled")
				if len(h.f.CancelRequested("w1")) != 0 {
					t.Error("still listed for cancellation")
				}
			},
		},
		{
			name:  "repeat of a final failure is idempotent",
			setup: failed,
			cmd:   cmd(Fail{Now: now, WorkerID: "w1", TaskID: 1, Attempt: 1, Error: "boom"}),
			check: func(t *testing.T, h *harness, resp *Response, events []Event) {
				if len(events) != 0 || len(resp.Tasks) != 1 || resp.Tasks[0].Status != StatusFailed || !h.task(1).UpdatedAt.Equal(base) {
					t.Errorf("resp %+v events %v", resp, eventTypes(events))
				}
			},
		},
		{
			name: "repeat of a retrying failure is idempotent",
			setup: func(h *harness) {
				leased(nil)(h)
				h.must(Fail{Now: base, WorkerID: "w1", TaskID: 1, Attempt: 1, Retry: true, RetryAt: at(time.Hour)})
			},
			cmd: cmd(Fail{Now: now, WorkerID: "w1", TaskID: 1, Attempt: 1, Retry: true, RetryAt: at(time.Hour)}),
			check: func(t *testing.T, h *harness, _ *Response, events []Event) {
				if len(events) != 0 || h.status(1) != StatusScheduled {
					t.Errorf("events %v status %s", eventTypes(events), h.status(1))
				}
			},
		},
		{
			name: "fail after a completion of the same attempt is stale",
			setup: func(h *harness) {
				leased(nil)(h)
				h.must(Complete{Now: base, WorkerID: "w1", TaskID: 1, Attempt: 1})
			},
			cmd:     cmd(Fail{Now: now, WorkerID: "w1", TaskID: 1, Attempt: 1, Error: "late"}),
			wantErr: ErrStaleLease,
		},
		{name: "older attempt is stale", setup: releasedAt2, cmd: cmd(Fail{Now: now, WorkerID: "w1", TaskID: 1, Attempt: 1}), wantErr: ErrStaleLease},
		{name: "other worker is stale", setup: leased(nil), cmd: cmd(Fail{Now: now, WorkerID: "w2", TaskID: 1, Attempt: 1}), wantErr: ErrStaleLease},
		{name: "missing worker id is invalid", setup: leased(nil), cmd: cmd(Fail{Now: now, TaskID: 1, Attempt: 1}), wantErr: ErrInvalid},
		{
			name: "requeued attempt is stale",
			setup: func(h *harness) {
				leased(nil)(h)
				h.must(Requeue{Now: base, Leases: []TaskAttempt{{1, 1}}, Reason: "expired"})
			},
			cmd:     cmd(Fail{Now: now, WorkerID: "w1", TaskID: 1, Attempt: 1, Retry: true}),
			wantErr: ErrStaleLease,
		},
		{name: "unknown task", setup: leased(nil), cmd: cmd(Fail{Now: now, WorkerID: "w1", TaskID: 2, Attempt: 1}), wantErr: ErrNotFound},
	}
	runCases(t, cases)
}

func TestRequeue(t *testing.T) {
	now := at(time.Minute)
	cases := []cmdCase{
		{
			name:  "current lease returns to pending with the attempt counted",
			setup: leased(nil),
			cmd:   cmd(Requeue{Now: now, Leases: []TaskAttempt{{1, 1}}, Reason: "lease expired"}),
			check: func(t *testing.T, h *harness, resp *Response, events []Event) {
				got := h.task(1)
				if got.Status != StatusPending || got.Attempt != 1 || got.WorkerID != "" || got.Error != "lease expired" ||
					!got.LeaseExpiresAt.IsZero() || !got.UpdatedAt.Equal(now) {
					t.Errorf("task = %+v", got)
				}
				wantTypes(t, events, "task.requeued")
				if events[0].Reason != "lease expired" {
					t.Errorf("reason %q", events[0].Reason)
				}
				if len(resp.Tasks) != 1 || len(h.f.Leases("w1")) != 0 || len(h.f.ExpiredLeases(at(time.Hour))) != 0 {
					t.Errorf("resp %+v", resp)
				}
				h.lease("w2", 1)
				if h.task(1).Attempt != 2 {
					t.Errorf("re-lease attempt %d", h.task(1).Attempt)
				}
			},
		},
		{
			name:  "out of attempts fails",
			setup: leased(func(s *TaskSpec) { s.MaxAttempts = 1 }),
			cmd:   cmd(Requeue{Now: now, Leases: []TaskAttempt{{1, 1}}, Reason: "lease expired"}),
			check: func(t *testing.T, h *harness, _ *Response, events []Event) {
				if got := h.task(1); got.Status != StatusFailed || got.Error != "lease expired" || !got.FinishedAt.Equal(now) {
					t.Errorf("task = %+v", got)
				}
				wantTypes(t, events, "task.failed")
			},
		},
		{
			name:  "cancel requested ends canceled",
			setup: func(h *harness) { leased(nil)(h); h.must(Cancel{Now: base, TaskID: 1}) },
			cmd:   cmd(Requeue{Now: now, Leases: []TaskAttempt{{1, 1}}}),
			check: func(t *testing.T, h *harness, _ *Response, events []Event) {
				if h.status(1) != StatusCanceled {
					t.Errorf("status %s", h.status(1))
				}
				wantTypes(t, events, "task.canceled")
			},
		},
		{
			name: "only current leases are taken back",
			setup: func(h *harness) {
				releasedAt2(h)      // task 1 at attempt 2 on w2
				h.submit(spec("b")) // task 2
				h.submit(spec("c")) // task 3
				h.lease("w1", 2, 3) // both attempt 1
				h.must(Complete{Now: base, WorkerID: "w1", TaskID: 3, Attempt: 1})
			},
			cmd: cmd(Requeue{Now: now, Leases: []TaskAttempt{{1, 1}, {2, 1}, {3, 1}, {9, 1}, {1, 2}}}),
			check: func(t *testing.T, h *harness, resp *Response, events []Event) {
				var got []int64
				for _, tk := range resp.Tasks {
					got = append(got, tk.ID)
				}
				if !slices.Equal(got, []int64{2, 1}) {
					t.Errorf("requeued %v, want [2 1]", got)
				}
				if h.status(3) != StatusCompleted || h.task(1).Attempt != 2 {
					t.Errorf("task 3 %s, task 1 attempt %d", h.status(3), h.task(1).Attempt)
				}
				wantTypes(t, events, "task.requeued", "task.requeued")
			},
		},
		{
			name:  "a stale lease alone changes nothing",
			setup: releasedAt2,
			cmd:   cmd(Requeue{Now: now, Leases: []TaskAttempt{{1, 1}}}),
			check: func(t *testing.T, h *harness, resp *Response, events []Event) {
				if len(resp.Tasks) != 0 || len(events) != 0 || h.task(1).WorkerID != "w2" {
					t.Errorf("resp %+v", resp)
				}
			},
		},
	}
	runCases(t, cases)
}

func TestCancel(t *testing.T) {
	now := at(time.Second)
	terminal := func(end func(h *harness)) func(h *harness) {
		return func(h *harness) { leased(func(s *TaskSpec) { s.MaxAttempts = 1 })(h); end(h) }
	}
	cases := []cmdCase{
		{
			name:  "pending ends at once",
			setup: func(h *harness) { h.submit(spec("a"), spec("b")) },
			cmd:   cmd(Cancel{Now: now, TaskID: 1}),
			check: func(t *testing.T, h *harness, _ *Response, events []Event) {
				if got := h.task(1); got.Status != StatusCanceled || !got.FinishedAt.Equal(now) {
					t.Errorf("task = %+v", got)
				}
				wantTypes(t, events, "task.canceled")
				if c := h.f.Candidates([]string{"default"}, nil, 5, nil); !slices.Equal(c, []int64{2}) {
					t.Errorf("candidates %v", c)
				}
			},
		},
		{
			name:  "scheduled ends at once",
			setup: func(h *harness) { h.submit(with(spec("a"), func(s *TaskSpec) { s.RunAt = at(time.Hour) })) },
			cmd:   cmd(Cancel{Now: now, TaskID: 1}),
			check: func(t *testing.T, h *harness, _ *Response, _ []Event) {
				if h.status(1) != StatusCanceled {
					t.Errorf("status %s", h.status(1))
				}
				if _, ok := h.f.NextRunAt(); ok {
					t.Error("still scheduled")
				}
				if resp := h.must(Promote{Now: at(2 * time.Hour)}); len(resp.Tasks) != 0 {
					t.Error("canceled task promoted")
				}
			},
		},
		{
			name:  "running is marked and keeps running",
			setup: leased(nil),
			cmd:   cmd(Cancel{Now: now, TaskID: 1}),
			check: func(t *testing.T, h *harness, _ *Response, events []Event) {
				got := h.task(1)
				if got.Status != StatusRunning || !got.CancelRequested || got.WorkerID != "w1" {
					t.Errorf("task = %+v", got)
				}
				wantTypes(t, events, "task.cancel_requested")
				if ids := h.f.CancelRequested("w1"); !slices.Equal(ids, []int64{1}) {
					t.Errorf("CancelRequested = %v", ids)
				}
			},
		},
		{name: "completed", setup: terminal(func(h *harness) { h.must(Complete{Now: base, WorkerID: "w1", TaskID: 1, Attempt: 1}) }), cmd: cmd(Cancel{Now: now, TaskID: 1}), wantErr: ErrConflict},
		{name: "failed", setup: terminal(func(h *harness) { h.must(Fail{Now: base, WorkerID: "w1", TaskID: 1, Attempt: 1}) }), cmd: cmd(Cancel{Now: now, TaskID: 1}), wantErr: ErrConflict},
		{name: "canceled", setup: terminal(func(h *harness) {
			h.must(Cancel{Now: base, TaskID: 1})
			h.must(Requeue{Now: base, Leases: []TaskAttempt{{1, 1}}})
		}), cmd: cmd(Cancel{Now: now, TaskID: 1}), wantErr: ErrConflict},
		{name: "unknown", cmd: cmd(Cancel{Now: now, TaskID: 1}), wantErr: ErrNotFound},
	}
	runCases(t, cases)
}

// TestCancelRunningEndsCanceled follows a running task's cancellation
// through each way its lease can end.
func TestCancelRunningEndsCanceled(t *testing.T) {
	ends := map[string]Command{
		"fail with retry": Fail{Now: at(time.Second), WorkerID: "w1", TaskID: 1, Attempt: 1, Retry: true, RetryAt: at(time.Second)},
		"requeue":         Requeue{Now: at(time.Second), Leases: []TaskAttempt{{1, 1}}},
		"worker down":     WorkerDown{Now: at(time.Second), WorkerID: "w1", Reason: "ttl"},
	}
	for name, end := range ends {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			leased(nil)(h)
			h.must(Cancel{Now: base, TaskID: 1})
			h.must(end)
			if got := h.task(1); got.Status != StatusCanceled || got.Attempt != 1 {
				t.Errorf("task = %+v", got)
			}
			checkIndexes(t, h.f)
		})
	}
}

func TestPromote(t *testing.T) {
	sched := func(name string, runAt time.Duration, prio int) TaskSpec {
		return with(spec(name), func(s *TaskSpec) { s.RunAt = at(runAt); s.Priority = prio })
	}
	setup := func(h *harness) {
		h.submit(sched("late", 20*time.Second, 0), sched("early", 10*time.Second, 0),
			sched("later", 30*time.Second, 0), sched("early-high", 10*time.Second, 5))
	}
	cases := []cmdCase{
		{
			name:  "due tasks become pending in run-time order",
			setup: setup,
			cmd:   cmd(Promote{Now: at(20 * time.Second)}),
			check: func(t *testing.T, h *harness, resp *Response, events []Event) {
				var got []int64
				for _, tk := range resp.Tasks {
					got = append(got, tk.ID)
				}
				if !slices.Equal(got, []int64{2, 4, 1}) {
					t.Errorf("promoted %v, want [2 4 1]", got)
				}
				if keys := eventKeys(events); len(keys) != 3 || keys[0].Type != "task.promoted" || keys[2].TaskID != 1 {
					t.Errorf("events %v", keys)
				}
				if h.status(3) != StatusScheduled {
					t.Errorf("task 3 %s", h.status(3))
				}
				// Pending order is priority then id, whatever the run time.
				if c := h.f.Candidates([]string{"default"}, nil, 10, nil); !slices.Equal(c, []int64{4, 1, 2}) {
					t.Errorf("candidates %v", c)
				}
				if next, _ := h.f.NextRunAt(); !next.Equal(at(30 * time.Second)) {
					t.Errorf("NextRunAt %v", next)
				}
			},
		},
		{
			name:  "nothing due",
			setup: setup,
			cmd:   cmd(Promote{Now: at(9 * time.Second)}),
			check: func(t *testing.T, h *harness, resp *Response, events []Event) {
				if len(resp.Tasks) != 0 || len(events) != 0 {
					t.Errorf("resp %+v", resp)
				}
			},
		},
	}
	runCases(t, cases)
}

// TestPriorityExtremes: the whole int range orders correctly (negating
// math.MinInt used to overflow and put it first).
func TestPriorityExtremes(t *testing.T) {
	h := newHarness(t)
	prios := []int{0, math.MinInt, math.MaxInt, -1, 1, math.MinInt + 1}
	for i, p := range prios {
		h.submit(with(spec(string(rune('a'+i))), func(s *TaskSpec) { s.Priority = p }))
	}
	got := h.f.Candidates([]string{"default"}, nil, 10, nil)
	want := []int64{3, 5, 1, 4, 6, 2} // MaxInt, 1, 0, -1, MinInt+1, MinInt
	if !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
	checkIndexes(t, h.f)
	// Leasing removes from the index with the same key it was inserted under.
	h.worker("w1", nil)
	h.lease("w1", 2, 3)
	if got := h.f.Candidates([]string{"default"}, nil, 10, nil); !slices.Equal(got, []int64{5, 1, 4, 6}) {
		t.Errorf("after lease %v", got)
	}
	checkIndexes(t, h.f)
}

// TestResponsesAreCopies: what a caller gets back cannot reach the state.
func TestResponsesAreCopies(t *testing.T) {
	h := newHarness(t)
	resp := h.must(Submit{Now: base, Tasks: []TaskSpec{spec("a")}})
	before := stateBytes(t, h.f)
	resp.Tasks[0].Name, resp.Tasks[0].Status = "changed", StatusFailed
	got, _ := h.f.Task(1)
	got.Name = "changed too"
	if !bytes.Equal(before, stateBytes(t, h.f)) {
		t.Error("editing a returned task changed the state")
	}
}
