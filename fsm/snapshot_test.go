package fsm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSnapshotRoundTrip(t *testing.T) {
	_, a, _ := genLog(t, 11, 2000)
	snap := snapshotBytes(t, a)
	b := restored(t, snap)
	if again := snapshotBytes(t, b); !bytes.Equal(snap, again) {
		t.Fatalf("snapshot -> restore -> snapshot differs (%d vs %d bytes)", len(snap), len(again))
	}
	if b.AppliedIndex() != a.AppliedIndex() || b.AppliedIndex() != 2000 {
		t.Errorf("applied %d, want %d", b.AppliedIndex(), a.AppliedIndex())
	}
	// Snapshot is what raft calls; Encode is what Persist uses: same bytes.
	a.mu.RLock()
	captured := a.capture()
	a.mu.RUnlock()
	var buf bytes.Buffer
	if err := captured.Encode(&buf); err != nil || !bytes.Equal(buf.Bytes(), snap) {
		t.Errorf("Encode differs from Persist: %v", err)
	}
	if !strings.HasPrefix(string(snap), `{"format":"shepherd-fsm","version":2,`) {
		t.Errorf("header %.80s", snap)
	}
}

// TestRestoredAnswersQueries: every query reads an index that Restore
// rebuilds; they must answer as the original does.
func TestRestoredAnswersQueries(t *testing.T) {
	_, a, _ := genLog(t, 12, 2500)
	b := restored(t, snapshotBytes(t, a))
	checkIndexes(t, b)
	same := func(what string, x, y any) {
		t.Helper()
		if !reflect.DeepEqual(x, y) {
			t.Errorf("%s differs:\noriginal %v\nrestored %v", what, x, y)
		}
	}
	for _, queues := range [][]string{{"default"}, {"mail", "video"}, genQueues} {
		for _, labels := range genLabels {
			skip := func(id int64) bool { return id%3 == 0 }
			same(fmt.Sprint("Candidates", queues, labels), a.Candidates(queues, labels, 1000, nil), b.Candidates(queues, labels, 1000, nil))
			same("Candidates skip", a.Candidates(queues, labels, 5, skip), b.Candidates(queues, labels, 5, skip))
		}
	}
	last := a.s.nextID
	for d := time.Duration(0); d < 3*time.Hour; d += 10 * time.Minute {
		same("ExpiredLeases", a.ExpiredLeases(at(d)), b.ExpiredLeases(at(d)))
	}
	same("Counts", a.Counts(), b.Counts())
	same("PendingCount", a.PendingCount(), b.PendingCount())
	na, oka := a.NextRunAt()
	nb, okb := b.NextRunAt()
	same("NextRunAt", fmt.Sprint(na.UnixNano(), oka), fmt.Sprint(nb.UnixNano(), okb))
	same("Servers", a.Servers(), b.Servers())
	// Times restored from JSON have no monotonic reading and may differ in
	// location pointer; compare through JSON-equivalent values.
	same("Workers", fmt.Sprint(a.Workers()), fmt.Sprint(b.Workers()))
	for _, w := range genWorkers {
		same("Leases "+w, fmt.Sprint(a.Leases(w)), fmt.Sprint(b.Leases(w)))
		same("CancelRequested "+w, a.CancelRequested(w), b.CancelRequested(w))
	}
	for _, st := range append([]TaskStatus{""}, AllTaskStatuses...) {
		la, na := a.ListTasks(TaskFilter{Status: st}, 0, 100000)
		lb, nb := b.ListTasks(TaskFilter{Status: st}, 0, 100000)
		same("ListTasks "+string(st), fmt.Sprint(la, na), fmt.Sprint(lb, nb))
	}

	// Idempotency keys and the next id: the same submit answers the same.
	var specs []TaskSpec
	for i := range 30 {
		specs = append(specs, with(spec("again"), func(s *TaskSpec) { s.IdempotencyKey = fmt.Sprintf("key-%d", i) }))
	}
	specs = append(specs, spec("fresh"))
	sub, _ := Encode(Submit{Now: at(24 * time.Hour), Tasks: specs})
	ra, _ := a.ApplyCommand(9000, sub)
	rb, _ := b.ApplyCommand(9000, sub)
	same("submit existing", ra.Existing, rb.Existing)
	existing, fresh := 0, 0
	for i, e := range ra.Existing {
		if e {
			existing++
		} else if i < len(specs)-1 {
			fresh++ // a key whose task retention purged
		}
		if ra.Tasks[i].ID != rb.Tasks[i].ID {
			t.Errorf("submit %d: ids %d vs %d", i, ra.Tasks[i].ID, rb.Tasks[i].ID)
		}
	}
	if existing == 0 || ra.Tasks[len(specs)-1].ID != last+int64(fresh) {
		t.Errorf("generated log left %d keys; fresh id %d, want %d", existing, ra.Tasks[len(specs)-1].ID, last+int64(fresh))
	}
	if !bytes.Equal(snapshotBytes(t, a), snapshotBytes(t, b)) {
		t.Error("diverged after a submit")
	}
}

// TestSnapshotIsolation: a captured snapshot keeps the state of the moment
// it was taken while Apply goes on (copy-on-write); run with -race, this
// also catches a handler that mutates a stored record in place.
func TestSnapshotIsolation(t *testing.T) {
	log, _, _ := genLog(t, 13, 3000)
	f := New(nil)
	replay(t, f, log[:1500], 1)
	want := snapshotBytes(t, f)

	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	sink := &memSink{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := snap.Persist(sink); err != nil {
			t.Error(err)
		}
	}()
	for i, buf := range log[1500:] {
		f.ApplyCommand(uint64(1501+i), buf)
		if i%100 == 0 {
			f.Task(int64(i)) // a concurrent reader
		}
	}
	wg.Wait()
	if !bytes.Equal(sink.Bytes(), want) {
		t.Fatal("snapshot changed while later entries were applied")
	}
}

func TestRestoreReplacesState(t *testing.T) {
	src := newHarness(t)
	src.worker("w1", nil)
	src.submit(spec("a"))
	snap := snapshotBytes(t, src.f)

	dst := newHarness(t)
	dst.worker("w9", nil)
	dst.submit(spec("x"), spec("y"))
	dst.lease("w9", 2)
	if err := dst.f.Restore(io.NopCloser(bytes.NewReader(snap))); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(snapshotBytes(t, dst.f), snap) || len(dst.f.Leases("w9")) != 0 || dst.f.PendingCount() != 1 {
		t.Error("restore kept parts of the old state")
	}
	checkIndexes(t, dst.f)
}

func TestRestoreCorrupt(t *testing.T) {
	h := newHarness(t)
	h.worker("w1", nil)
	h.submit(spec("a"), spec("b"))
	h.must(RegisterServer{Server: Server{ID: "m1"}})
	good := string(snapshotBytes(t, h.f))
	lines := strings.SplitAfter(good, "\n") // header, task 1, task 2, worker, server, ""
	header := lines[0]
	swap := func(s, old, new string) string {
		if !strings.Contains(s, old) {
			t.Fatalf("%q not in %q", old, s)
		}
		return strings.Replace(s, old, new, 1)
	}
	withHeader := func(old, new string) string { return swap(header, old, new) + strings.Join(lines[1:], "") }
	cases := map[string]string{
		"empty":               "",
		"garbage":             "\x00\x01 not json",
		"not an object":       "[1,2,3]\n",
		"other format":        withHeader(`"shepherd-fsm"`, `"other"`),
		"unknown version":     withHeader(`"version":2`, `"version":3`),
		"no version":          withHeader(`"version":2,`, ``),
		"negative tasks":      withHeader(`"tasks":2`, `"tasks":-1`),
		"next id zero":        withHeader(`"next_id":3`, `"next_id":0`),
		"more tasks claimed":  withHeader(`"tasks":2`, `"tasks":3`),
		"fewer tasks claimed": withHeader(`"tasks":2`, `"tasks":1`),
		"more servers":        withHeader(`"servers":1`, `"servers":2`),
		"fewer servers":       withHeader(`"servers":1`, `"servers":0`),
		"truncated header":    header[:len(header)/2],
		"truncated task":      header + lines[1] + lines[2][:20],
		"task id past next":   header + lines[1] + swap(lines[2], `"id":2`, `"id":3`) + strings.Join(lines[3:], ""),
		"task id zero":        header + swap(lines[1], `"id":1`, `"id":0`) + strings.Join(lines[2:], ""),
		"task twice":          header + lines[1] + lines[1] + strings.Join(lines[3:], ""),
		"key twice": header + swap(lines[1], `"queue"`, `"idempotency_key":"k","queue"`) +
			swap(lines[2], `"queue"`, `"idempotency_key":"k","queue"`) + strings.Join(lines[3:], ""),
		"unknown status":    header + lines[1] + swap(lines[2], `"status":"pending"`, `"status":"lost"`) + strings.Join(lines[3:], ""),
		"bad time":          header + lines[1] + swap(lines[2], `"created_at":"2026`, `"created_at":"x026`) + strings.Join(lines[3:], ""),
		"worker without id": header + lines[1] + lines[2] + swap(lines[3], `"id":"w1"`, `"id":""`) + lines[4],
		"worker as a task":  header + lines[1] + lines[2] + lines[1] + lines[4],
		"server without id": header + lines[1] + lines[2] + lines[3] + swap(lines[4], `"id":"m1"`, `"id":""`),
		"trailing record":   good + lines[4],
		"trailing garbage":  good + "}",
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			f := newHarness(t)
			f.submit(spec("keep"))
			before := snapshotBytes(t, f.f)
			rc := &closeCounter{Reader: strings.NewReader(data)}
			if err := f.f.Restore(rc); err == nil {
				t.Fatal("restored a corrupt snapshot")
			}
			if rc.closed != 1 {
				t.Errorf("reader closed %d times", rc.closed)
			}
			if !bytes.Equal(before, snapshotBytes(t, f.f)) {
				t.Error("a failed restore changed the state")
			}
		})
	}
	// The pieces were right: the unmodified snapshot restores.
	restored(t, []byte(good))
	if !strings.HasSuffix(good, "\n") {
		t.Error("snapshot does not end with a newline")
	}
}

type closeCounter struct {
	io.Reader
	closed int
}

func (c *closeCounter) Close() error { c.closed++; return nil }

type failingSink struct {
	memSink
	after int
}

func (s *failingSink) Write(p []byte) (int, error) {
	if s.Len()+len(p) > s.after {
		return 0, errors.New("disk full")
	}
	return s.memSink.Write(p)
}

func TestPersistFailureCancelsSink(t *testing.T) {
	_, f, _ := genLog(t, 14, 500)
	snap, _ := f.Snapshot()
	sink := &failingSink{after: 0}
	if err := snap.Persist(sink); err == nil {
		t.Fatal("persist to a failing sink succeeded")
	}
	if !sink.canceled || sink.closed {
		t.Errorf("canceled %v closed %v", sink.canceled, sink.closed)
	}
}
