package fsm

import (
	"math"
	"slices"
	"testing"
	"time"
)

// readyFixture: three queues, mixed priorities, submitted interleaved.
//
//	id queue prio labels
//	1  a     0
//	2  b     5
//	3  a     5
//	4  a     0     gpu
//	5  a     5     gpu
//	6  b     0
//	7  a     -1
//	8  a     0
//	9  c     0     (scheduled)
func readyFixture(t *testing.T) *harness {
	h := newHarness(t)
	mk := func(q string, prio int, gpu bool) TaskSpec {
		return with(spec("t"), func(s *TaskSpec) {
			s.Queue, s.Priority = q, prio
			if gpu {
				s.Labels = map[string]string{"gpu": "yes"}
			}
		})
	}
	h.submit(mk("a", 0, false), mk("b", 5, false), mk("a", 5, false))
	h.submit(mk("a", 0, true), mk("a", 5, true))
	h.submit(mk("b", 0, false), mk("a", -1, false), mk("a", 0, false))
	h.submit(with(mk("c", 0, false), func(s *TaskSpec) { s.RunAt = at(time.Hour) }))
	return h
}

func TestCandidates(t *testing.T) {
	h := readyFixture(t)
	gpu := map[string]string{"gpu": "yes", "zone": "x"}
	skipOdd := func(id int64) bool { return id%2 == 1 }
	cases := []struct {
		name   string
		queues []string
		labels map[string]string
		max    int
		skip   func(int64) bool
		want   []int64
	}{
		{"priority then FIFO, labels met", []string{"a"}, gpu, 10, nil, []int64{3, 5, 1, 4, 8, 7}},
		{"unlabelled worker skips labelled tasks", []string{"a"}, nil, 10, nil, []int64{3, 1, 8, 7}},
		{"max", []string{"a"}, gpu, 2, nil, []int64{3, 5}},
		{"max zero", []string{"a"}, gpu, 0, nil, nil},
		{"skip", []string{"a"}, gpu, 10, skipOdd, []int64{4, 8}},
		{"queue list in the order given", []string{"b", "a"}, nil, 10, nil, []int64{2, 6, 3, 1, 8, 7}},
		{"max spans queues", []string{"b", "a"}, nil, 3, nil, []int64{2, 6, 3}},
		{"unknown and scheduled-only queues", []string{"zzz", "c"}, gpu, 10, nil, nil},
		{"no queues", nil, gpu, 10, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := h.f.Candidates(tc.queues, tc.labels, tc.max, tc.skip); !slices.Equal(got, tc.want) {
				t.Errorf("Candidates = %v, want %v", got, tc.want)
			}
		})
	}
	if h.f.PendingCount() != 8 {
		t.Errorf("PendingCount = %d", h.f.PendingCount())
	}
}

// TestReadyOrderFollowsState: the order holds as tasks leave and come back.
func TestReadyOrderFollowsState(t *testing.T) {
	h := readyFixture(t)
	h.worker("w1", map[string]string{"gpu": "yes"})
	h.lease("w1", 3, 1)
	queueA := func() []int64 { return h.f.Candidates([]string{"a"}, map[string]string{"gpu": "yes"}, 20, nil) }
	if got := queueA(); !slices.Equal(got, []int64{5, 4, 8, 7}) {
		t.Fatalf("after lease %v", got)
	}
	// Task 1 comes back with its original id, so ahead of later submissions.
	h.must(Requeue{Now: base, Leases: []TaskAttempt{{1, 1}}})
	h.submit(with(spec("late"), func(s *TaskSpec) { s.Queue = "a" })) // 10
	if got := queueA(); !slices.Equal(got, []int64{5, 1, 4, 8, 10, 7}) {
		t.Fatalf("after requeue %v", got)
	}
	h.must(Cancel{Now: base, TaskID: 8})
	if got := queueA(); !slices.Equal(got, []int64{5, 1, 4, 10, 7}) {
		t.Fatalf("after cancel %v", got)
	}
	checkIndexes(t, h.f)
}

func TestListTasks(t *testing.T) {
	h := readyFixture(t)
	h.worker("w1", nil)
	h.lease("w1", 3, 6)
	ids := func(list []Task) []int64 {
		var out []int64
		for _, t := range list {
			out = append(out, t.ID)
		}
		return out
	}
	cases := []struct {
		name      string
		flt       TaskFilter
		after     int64
		limit     int
		want      []int64
		wantAfter int64
	}{
		{"all", TaskFilter{}, 0, 100, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9}, 0},
		{"first page", TaskFilter{}, 0, 4, []int64{1, 2, 3, 4}, 4},
		{"second page", TaskFilter{}, 4, 4, []int64{5, 6, 7, 8}, 8},
		{"last page exactly full", TaskFilter{}, 8, 1, []int64{9}, 0},
		{"queue and status", TaskFilter{Queue: "a", Status: StatusPending}, 0, 3, []int64{1, 4, 5}, 5},
		{"page of a filter ends at the last match", TaskFilter{Queue: "a", Status: StatusPending}, 5, 3, []int64{7, 8}, 0},
		{"worker", TaskFilter{WorkerID: "w1"}, 0, 10, []int64{3, 6}, 0},
		{"status scheduled", TaskFilter{Status: StatusScheduled}, 0, 10, []int64{9}, 0},
		{"name", TaskFilter{Name: "nope"}, 0, 10, nil, 0},
		{"limit zero", TaskFilter{}, 0, 0, nil, 0},
		{"negative limit", TaskFilter{}, 0, -1, nil, 0},
		{"negative after", TaskFilter{}, -5, 2, []int64{1, 2}, 2},
		{"after the end", TaskFilter{}, 9, 10, nil, 0},
		{"after near MaxInt64", TaskFilter{}, math.MaxInt64, 10, nil, 0},
		{"after MinInt64", TaskFilter{}, math.MinInt64, 1, []int64{1}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, next := h.f.ListTasks(tc.flt, tc.after, tc.limit)
			if !slices.Equal(ids(got), tc.want) || next != tc.wantAfter {
				t.Errorf("ListTasks = %v next %d, want %v next %d", ids(got), next, tc.want, tc.wantAfter)
			}
		})
	}
}

func TestWorkerQueries(t *testing.T) {
	h := newHarness(t)
	h.worker("w2", nil)
	h.worker("w1", nil)
	h.worker("w3", nil)
	h.submit(spec("a"), spec("b"), spec("c"))
	h.lease("w1", 3, 1)
	h.lease("w2", 2)
	h.must(Cancel{Now: base, TaskID: 3})

	views := h.f.Workers()
	if len(views) != 3 || views[0].ID != "w1" || views[1].ID != "w2" || views[2].ID != "w3" {
		t.Fatalf("Workers order %v", views)
	}
	if !slices.Equal(views[0].Running, []int64{1, 3}) || !slices.Equal(views[1].Running, []int64{2}) || len(views[2].Running) != 0 {
		t.Errorf("running %v %v %v", views[0].Running, views[1].Running, views[2].Running)
	}
	if l := h.f.Leases("w1"); len(l) != 2 || l[0].ID != 1 || l[1].ID != 3 {
		t.Errorf("Leases = %v", l)
	}
	if got := h.f.CancelRequested("w1"); !slices.Equal(got, []int64{3}) {
		t.Errorf("CancelRequested = %v", got)
	}
	if _, _, ok := h.f.Worker("nobody"); ok {
		t.Error("unknown worker found")
	}
	if len(h.f.Leases("nobody")) != 0 || len(h.f.CancelRequested("nobody")) != 0 {
		t.Error("unknown worker has leases")
	}
}

func TestExpiredLeases(t *testing.T) {
	h := newHarness(t)
	h.worker("w1", nil)
	h.submit(with(spec("long"), func(s *TaskSpec) { s.Timeout = time.Minute }), spec("short"), spec("short2"))
	h.lease("w1", 1, 2, 3) // expire at 60 s, 30 s, 30 s
	cases := []struct {
		now  time.Duration
		want []TaskAttempt
	}{
		{30 * time.Second, nil}, // a lease ending exactly now has not expired
		{30*time.Second + 1, []TaskAttempt{{2, 1}, {3, 1}}},
		{time.Hour, []TaskAttempt{{2, 1}, {3, 1}, {1, 1}}},
	}
	for _, tc := range cases {
		if got := h.f.ExpiredLeases(at(tc.now)); !slices.Equal(got, tc.want) {
			t.Errorf("ExpiredLeases(+%v) = %v, want %v", tc.now, got, tc.want)
		}
	}
}

func TestCounts(t *testing.T) {
	h := readyFixture(t)
	h.worker("w1", map[string]string{"gpu": "yes"})
	h.lease("w1", 1, 2)
	h.must(Complete{Now: base, WorkerID: "w1", TaskID: 1, Attempt: 1})
	h.must(Cancel{Now: base, TaskID: 9})
	want := map[string]map[TaskStatus]int{
		"a": {StatusPending: 5, StatusCompleted: 1},
		"b": {StatusPending: 1, StatusRunning: 1},
		"c": {StatusCanceled: 1},
	}
	got := h.f.Counts()
	if len(got) != len(want) {
		t.Fatalf("Counts = %v", got)
	}
	for q, m := range want {
		if len(got[q]) != len(m) {
			t.Errorf("Counts[%s] = %v, want %v", q, got[q], m)
		}
		for st, n := range m {
			if got[q][st] != n {
				t.Errorf("Counts[%s][%s] = %d, want %d", q, st, got[q][st], n)
			}
		}
	}
	got["a"][StatusPending] = 100 // a copy
	if h.f.Counts()["a"][StatusPending] != 5 {
		t.Error("Counts returned the live map")
	}
}
