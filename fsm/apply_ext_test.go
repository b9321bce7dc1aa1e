package fsm

import (
	"bytes"
	"slices"
	"testing"
	"time"
)

func ptr[T any](v T) *T { return &v }

// failed leaves task id failed after one attempt on w1.
func (h *harness) failOnce(id int64) {
	h.t.Helper()
	h.lease("w1", id)
	h.must(Fail{Now: at(time.Second), WorkerID: "w1", TaskID: id, Attempt: h.task(id).Attempt, Error: "boom"})
}

func TestRetry(t *testing.T) {
	cases := []struct {
		name    string
		setup   func(h *harness) int64
		retry   Retry
		wantErr error
	}{
		{"failed task runs again", func(h *harness) int64 {
			id := h.submit(with(spec("a"), func(s *TaskSpec) { s.MaxAttempts = 1 }))[0]
			h.failOnce(id)
			return id
		}, Retry{Attempts: 2}, nil},
		{"canceled task runs again", func(h *harness) int64 {
			id := h.submit(spec("a"))[0]
			h.must(Cancel{Now: base, TaskID: id})
			return id
		}, Retry{Attempts: 1}, nil},
		{"pending task is a conflict", func(h *harness) int64 { return h.submit(spec("a"))[0] }, Retry{Attempts: 1}, ErrConflict},
		{"unknown task", func(h *harness) int64 { return 99 }, Retry{Attempts: 1}, ErrNotFound},
		{"no attempts", func(h *harness) int64 {
			id := h.submit(spec("a"))[0]
			h.must(Cancel{Now: base, TaskID: id})
			return id
		}, Retry{Attempts: 0}, ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.worker("w1", nil)
			id := tc.setup(h)
			before := stateBytes(t, h.f)
			prev, _ := h.f.Task(id)
			tc.retry.TaskID, tc.retry.Now = id, at(time.Minute)
			resp, events := h.apply(tc.retry)
			if tc.wantErr != nil {
				checkRejected(t, before, h.f, resp, events, tc.wantErr)
				return
			}
			got := h.task(id)
			if resp.Err != nil || got.Status != StatusPending || got.MaxAttempts != prev.Attempt+tc.retry.Attempts ||
				!got.FinishedAt.IsZero() || !slices.Equal(eventTypes(events), []string{"task.retried"}) {
				t.Fatalf("retry: err %v, task %+v, events %v", resp.Err, got, eventTypes(events))
			}
			h.lease("w1", id)
			if a := h.task(id).Attempt; a != prev.Attempt+1 {
				t.Fatalf("attempt after retry = %d, want %d (fencing needs it to grow)", a, prev.Attempt+1)
			}
			checkIndexes(t, h.f)
		})
	}
}

func TestSetQueuePauseAndLimit(t *testing.T) {
	h := newHarness(t)
	h.worker("w1", nil)
	ids := h.submit(spec("a"), spec("b"), spec("c"))
	before := stateBytes(t, h.f)
	resp, events := h.apply(SetQueue{Now: base, Queue: "default", MaxRunning: ptr(-1)})
	checkRejected(t, before, h.f, resp, events, ErrInvalid)

	h.must(SetQueue{Now: base, Queue: "default", Paused: ptr(true)})
	if c := h.f.Candidates([]string{"default"}, nil, 10, nil); len(c) != 0 {
		t.Fatalf("paused queue offers %v", c)
	}
	if r := h.must(Lease{Now: base, WorkerID: "w1", TaskIDs: ids}); len(r.Tasks) != 0 {
		t.Fatalf("paused queue leased %d tasks", len(r.Tasks))
	}
	h.must(SetQueue{Now: base, Queue: "default", Paused: ptr(false), MaxRunning: ptr(2)})
	if q := h.f.Queue("default"); q.Paused || q.MaxRunning != 2 {
		t.Fatalf("settings = %+v", q)
	}
	if c := h.f.Dispatchable(CandidateQuery{Queues: []string{"default"}, Max: 10, InFlight: map[string]int{"default": 1}}); !slices.Equal(c, ids[:1]) {
		t.Fatalf("room with one lease in flight = %v, want %v", c, ids[:1])
	}
	if r := h.must(Lease{Now: base, WorkerID: "w1", TaskIDs: ids}); len(r.Tasks) != 2 {
		t.Fatalf("limit 2 leased %d tasks", len(r.Tasks))
	}
	if h.f.RunningIn("default") != 2 || len(h.f.Candidates([]string{"default"}, nil, 10, nil)) != 0 {
		t.Fatal("a full queue still offers tasks")
	}
	h.must(Complete{Now: base, WorkerID: "w1", TaskID: ids[0], Attempt: 1})
	if c := h.f.Candidates([]string{"default"}, nil, 10, nil); !slices.Equal(c, ids[2:]) {
		t.Fatalf("after a completion = %v", c)
	}
	checkIndexes(t, h.f)
	if got := restored(t, snapshotBytes(t, h.f)).Queue("default"); got.MaxRunning != 2 {
		t.Fatalf("restored queue settings = %+v", got)
	}
}

func TestPurge(t *testing.T) {
	h := newHarness(t)
	h.worker("w1", nil)
	ids := h.submit(with(spec("a"), func(s *TaskSpec) { s.IdempotencyKey = "k1" }), spec("b"), spec("c"))
	h.lease("w1", ids[0])
	h.must(Complete{Now: at(time.Minute), WorkerID: "w1", TaskID: ids[0], Attempt: 1})
	h.must(Cancel{Now: at(2 * time.Hour), TaskID: ids[1]})
	if got := h.f.FinishedBefore(at(time.Hour), 10); !slices.Equal(got, ids[:1]) {
		t.Fatalf("FinishedBefore = %v", got)
	}
	resp := h.must(Purge{Now: at(3 * time.Hour), Before: at(time.Hour), TaskIDs: ids})
	if len(resp.Tasks) != 1 || resp.Tasks[0].ID != ids[0] {
		t.Fatalf("purged %v, want only the old finished task", resp.Tasks)
	}
	if _, ok := h.f.Task(ids[0]); ok {
		t.Fatal("purged task still readable")
	}
	for _, id := range ids[1:] {
		h.task(id) // too young, and not finished: kept
	}
	again := h.must(Submit{Now: at(4 * time.Hour), Tasks: []TaskSpec{with(spec("a"), func(s *TaskSpec) { s.IdempotencyKey = "k1" })}})
	if again.Existing[0] || again.Tasks[0].ID <= ids[2] {
		t.Fatalf("key of a purged task still answered: %+v", again)
	}
	checkIndexes(t, h.f)
}

func TestExtendLeases(t *testing.T) {
	h := newHarness(t)
	h.worker("w1", nil)
	h.worker("w2", nil)
	id := h.submit(spec("long"))[0] // 30 s timeout
	h.lease("w1", id)
	cases := []struct {
		name   string
		cmd    ExtendLeases
		expiry time.Time
	}{
		{"other worker", ExtendLeases{Now: at(20 * time.Second), WorkerID: "w2", Leases: []TaskAttempt{{id, 1}}}, at(30 * time.Second)},
		{"stale attempt", ExtendLeases{Now: at(20 * time.Second), WorkerID: "w1", Leases: []TaskAttempt{{id, 2}}}, at(30 * time.Second)},
		{"own lease", ExtendLeases{Now: at(20 * time.Second), WorkerID: "w1", Leases: []TaskAttempt{{id, 1}}}, at(50 * time.Second)},
		{"never shortens", ExtendLeases{Now: at(10 * time.Second), WorkerID: "w1", Leases: []TaskAttempt{{id, 1}}}, at(50 * time.Second)},
	}
	for _, tc := range cases {
		h.must(tc.cmd)
		if got := h.task(id).LeaseExpiresAt; !got.Equal(tc.expiry) {
			t.Fatalf("%s: lease expires %v, want %v", tc.name, got, tc.expiry)
		}
	}
	if exp := h.f.ExpiredLeases(at(40 * time.Second)); len(exp) != 0 {
		t.Fatalf("extended lease listed as expired: %v", exp)
	}
	checkIndexes(t, h.f)
}

func TestRemoveWorker(t *testing.T) {
	h := newHarness(t)
	h.worker("w1", nil)
	id := h.submit(spec("a"))[0]
	h.lease("w1", id)
	before := stateBytes(t, h.f)
	resp, events := h.apply(RemoveWorker{Now: base, WorkerID: "w1"})
	checkRejected(t, before, h.f, resp, events, ErrConflict)
	resp, events = h.apply(RemoveWorker{Now: base, WorkerID: "nobody"})
	checkRejected(t, stateBytes(t, h.f), h.f, resp, events, ErrNotFound)
	h.must(DrainWorker{Now: base, WorkerID: "w1"})
	h.must(Complete{Now: base, WorkerID: "w1", TaskID: id, Attempt: 1})
	h.must(RemoveWorker{Now: base, WorkerID: "w1"})
	if _, _, ok := h.f.Worker("w1"); ok {
		t.Fatal("removed worker still listed")
	}
}

func TestReRegisterKeepsOnlyValidOwnLeases(t *testing.T) {
	h := newHarness(t)
	h.worker("w1", nil)
	ids := h.submit(spec("kept"), spec("forgotten"), with(spec("expired"), func(s *TaskSpec) { s.Timeout = time.Second }))
	h.lease("w1", ids...)
	h.must(RegisterWorker{Now: at(5 * time.Second), ID: "w1", Capacity: 4, ReportsRunning: true, Running: []int64{ids[0], ids[2]}})
	want := []TaskStatus{StatusRunning, StatusPending, StatusPending}
	for i, id := range ids {
		if got := h.status(id); got != want[i] {
			t.Errorf("task %d = %s, want %s", id, got, want[i])
		}
	}
	// Without ReportsRunning (an older worker) nothing is taken back.
	h.must(RegisterWorker{Now: at(6 * time.Second), ID: "w1", Capacity: 4})
	if h.status(ids[0]) != StatusRunning {
		t.Error("plain re-registration took a lease back")
	}
	checkIndexes(t, h.f)
}

func TestProgressMessage(t *testing.T) {
	h := newHarness(t)
	h.worker("w1", nil)
	id := h.submit(spec("a"))[0]
	h.lease("w1", id)
	h.must(WorkerStats{Now: base, Stats: []WorkerStat{{WorkerID: "w1", Progress: map[int64]float64{id: 0.5},
		Messages: map[int64]string{id: "halfway"}}}})
	if got := h.task(id); got.Progress != 0.5 || got.ProgressMessage != "halfway" {
		t.Fatalf("progress = %v %q", got.Progress, got.ProgressMessage)
	}
	h.must(WorkerStats{Now: base, Stats: []WorkerStat{{WorkerID: "w1", Messages: map[int64]string{id: "almost"}}}})
	if got := h.task(id); got.Progress != 0.5 || got.ProgressMessage != "almost" {
		t.Fatalf("message only: progress = %v %q", got.Progress, got.ProgressMessage)
	}
}

func TestBroadcast(t *testing.T) {
	h := newHarness(t)
	h.worker("w1", map[string]string{"gpu": "yes"})
	h.worker("w2", map[string]string{"gpu": "yes"})
	h.worker("w3", nil)
	h.worker("w4", map[string]string{"gpu": "yes"})
	h.must(DrainWorker{Now: base, WorkerID: "w4"})
	resp := h.must(Submit{Now: base, Tasks: []TaskSpec{with(spec("b"), func(s *TaskSpec) {
		s.Broadcast, s.Labels = true, map[string]string{"gpu": "yes"}
	})}})
	parent := resp.Tasks[0]
	if parent.Status != StatusRunning || !slices.Equal(parent.Children, []int64{2, 3}) {
		t.Fatalf("parent = %+v", parent)
	}
	if c := h.f.Dispatchable(CandidateQuery{WorkerID: "w1", Queues: []string{"default"}, Labels: map[string]string{"gpu": "yes"}, Max: 10}); !slices.Equal(c, []int64{2}) {
		t.Fatalf("w1 may lease %v, want only its own child", c)
	}
	if r := h.must(Lease{Now: base, WorkerID: "w1", TaskIDs: []int64{3}}); len(r.Tasks) != 0 {
		t.Fatal("w1 leased w2's child")
	}
	h.lease("w1", 2)
	h.lease("w2", 3)
	h.must(Complete{Now: at(time.Second), WorkerID: "w1", TaskID: 2, Attempt: 1})
	if p := h.task(1); p.Status != StatusRunning || p.Progress != 0.5 {
		t.Fatalf("parent after one child = %s %v", p.Status, p.Progress)
	}
	_, events := h.apply(Fail{Now: at(2 * time.Second), WorkerID: "w2", TaskID: 3, Attempt: 1, Error: "x"})
	if p := h.task(1); p.Status != StatusFailed || !slices.Equal(eventTypes(events), []string{"task.failed", "task.failed"}) {
		t.Fatalf("parent after a failed child = %s, events %v", p.Status, eventTypes(events))
	}
	h.must(Retry{Now: at(3 * time.Second), TaskID: 3, Attempts: 1})
	if p := h.task(1); p.Status != StatusRunning {
		t.Fatalf("retrying a child leaves the parent %s", p.Status)
	}
	h.lease("w2", 3)
	h.must(Complete{Now: at(4 * time.Second), WorkerID: "w2", TaskID: 3, Attempt: 2})
	if p := h.task(1); p.Status != StatusCompleted {
		t.Fatalf("parent = %s, want completed", p.Status)
	}
	checkIndexes(t, h.f)

	// Cancel reaches every child; a down worker fails its pinned child.
	id := h.must(Submit{Now: base, Tasks: []TaskSpec{with(spec("b2"), func(s *TaskSpec) { s.Broadcast = true })}}).Tasks[0].ID
	kids := h.task(id).Children
	if len(kids) != 3 {
		t.Fatalf("children %v, want one per ready worker", kids)
	}
	h.lease("w1", kids[0])
	h.must(WorkerDown{Now: base, WorkerID: "w3", Reason: "ttl"})
	if h.status(kids[2]) != StatusFailed {
		t.Fatalf("child of a down worker = %s", h.status(kids[2]))
	}
	h.must(Cancel{Now: base, TaskID: id})
	if h.status(kids[1]) != StatusCanceled || !h.task(kids[0]).CancelRequested || h.status(id) != StatusRunning {
		t.Fatal("cancel did not reach the children")
	}
	h.must(Fail{Now: base, WorkerID: "w1", TaskID: kids[0], Attempt: 1, Error: "stopped"})
	if h.status(id) != StatusFailed { // one child failed (worker down), others canceled
		t.Fatalf("parent = %s", h.status(id))
	}
	none := h.must(Submit{Now: base, Tasks: []TaskSpec{with(spec("b3"), func(s *TaskSpec) {
		s.Broadcast, s.Labels = true, map[string]string{"tpu": "yes"}
	})}}).Tasks[0]
	if none.Status != StatusFailed {
		t.Fatalf("broadcast without eligible workers = %s", none.Status)
	}
	checkIndexes(t, h.f)
}

func TestSchedules(t *testing.T) {
	h := newHarness(t)
	h.worker("w1", nil)
	sc := Schedule{Cron: "* * * * * *", Overlap: OverlapAllow, Misfire: MisfireSkip, Task: spec("tick")}
	before := stateBytes(t, h.f)
	resp, events := h.apply(PutSchedule{Now: base, Schedule: with2(sc, func(s *Schedule) { s.Overlap = "maybe" })})
	checkRejected(t, before, h.f, resp, events, ErrInvalid)
	created := h.must(PutSchedule{Now: base, Schedule: sc}).Schedules[0]
	if created.ID != "s1" || !created.LastTick.Equal(base) {
		t.Fatalf("created %+v", created)
	}
	ticks := []time.Time{at(time.Second), at(2 * time.Second)}
	fired := h.must(FireSchedule{Now: at(2 * time.Second), ScheduleID: "s1", Ticks: ticks, Through: at(2 * time.Second)})
	if len(fired.Tasks) != 2 || fired.Tasks[0].ScheduleID != "s1" || !fired.Tasks[1].ScheduleTick.Equal(ticks[1]) ||
		fired.Tasks[0].IdempotencyKey != ScheduleKey("s1", ticks[0]) {
		t.Fatalf("fired %+v", fired.Tasks)
	}
	// A new leader that repeats the command (its outcome was unknown) fires nothing.
	before = stateBytes(t, h.f)
	resp, events = h.apply(FireSchedule{Now: at(3 * time.Second), ScheduleID: "s1", Ticks: ticks, Through: at(2 * time.Second)})
	if resp.Err != nil || len(events) != 0 || len(resp.Tasks) != 0 || !bytes.Equal(before, stateBytes(t, h.f)) {
		t.Fatalf("repeated fire changed state: %v %v", resp.Err, eventTypes(events))
	}
	// Overlap skip: the tick is skipped while the last run is unfinished.
	h.must(PutSchedule{Now: at(3 * time.Second), Schedule: with2(sc, func(s *Schedule) { s.ID, s.Overlap = "s1", OverlapSkip })})
	r := h.must(FireSchedule{Now: at(3 * time.Second), ScheduleID: "s1", Ticks: []time.Time{at(3 * time.Second)}, Through: at(3 * time.Second)})
	if s, _ := h.f.Schedule("s1"); len(r.Tasks) != 0 || s.Skipped != 1 || s.Fired != 2 || !s.LastTick.Equal(at(3*time.Second)) {
		t.Fatalf("overlap skip: fired %d, schedule %+v", len(r.Tasks), s)
	}
	h.must(DeleteSchedule{Now: base, ID: "s1"})
	resp, _ = h.apply(FireSchedule{Now: at(5 * time.Second), ScheduleID: "s1", Through: at(5 * time.Second)})
	if resp.Err == nil {
		t.Fatal("fired a deleted schedule")
	}
	h.must(PutSchedule{Now: base, Schedule: sc})
	if got := restored(t, snapshotBytes(t, h.f)).Schedules(); len(got) != 1 || got[0].ID != "s2" {
		t.Fatalf("restored schedules %+v", got)
	}
	checkIndexes(t, h.f)
}

func with2(s Schedule, edit func(*Schedule)) Schedule {
	edit(&s)
	return s
}

// TestRestoreVersion1: a snapshot written before schedules and queue
// settings existed still restores.
func TestRestoreVersion1(t *testing.T) {
	v1 := `{"format":"shepherd-fsm","version":1,"applied":3,"next_id":2,"tasks":1,"workers":0,"servers":0}` + "\n" +
		`{"id":1,"name":"a","queue":"default","priority":0,"status":"pending","attempt":0,"max_attempts":3,"timeout":30000000000,"run_at":"2026-01-01T00:00:00Z","leased_at":"0001-01-01T00:00:00Z","lease_expires_at":"0001-01-01T00:00:00Z","created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z","finished_at":"0001-01-01T00:00:00Z"}` + "\n"
	f := restored(t, []byte(v1))
	if got, ok := f.Task(1); !ok || got.Status != StatusPending || len(f.Schedules()) != 0 {
		t.Fatalf("restored v1: %+v", got)
	}
	checkIndexes(t, f)
}
