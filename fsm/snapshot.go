package fsm

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/hashicorp/raft"
)

// Snapshot format: newline-delimited JSON. The first line is a header;
// then header.Tasks task lines in id order, header.Workers worker lines and
// header.Servers server lines in id order. Version 2 adds
// header.Schedules schedule lines in id order, then header.Queues queue
// settings lines by name; version 1 snapshots (no such lines) still
// restore. Deterministic: the same state always gives the same bytes.
const (
	snapshotFormat  = "shepherd-fsm"
	snapshotVersion = 2
)

type snapshotHeader struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	Applied uint64 `json:"applied"`
	NextID  int64  `json:"next_id"`
	Tasks   int    `json:"tasks"`
	Workers int    `json:"workers"`
	Servers int    `json:"servers"`
	// Version 2.
	Schedules    int   `json:"schedules,omitempty"`
	NextSchedule int64 `json:"next_schedule,omitempty"`
	Queues       int   `json:"queues,omitempty"`
	// Tokens (tokens.go) follow everything else; omitted when none.
	Tokens int `json:"tokens,omitempty"`
}

// fsmSnapshot holds pointers to immutable records (copy-on-write), so it
// stays valid while Apply goes on.
type fsmSnapshot struct {
	header  snapshotHeader
	tasks   []*Task
	workers []*Worker
	servers []Server
	// Version 2.
	schedules []*Schedule
	queues    []QueueSettings
	tokens    []Token // tokens.go
}

var _ raft.FSMSnapshot = (*fsmSnapshot)(nil)

func (f *FSM) capture() *fsmSnapshot {
	s := f.s
	snap := &fsmSnapshot{
		header: snapshotHeader{Format: snapshotFormat, Version: snapshotVersion, Applied: f.applied,
			NextID: s.nextID, Tasks: len(s.tasks), Workers: len(s.workers), Servers: len(s.servers),
			Schedules: len(s.schedules), NextSchedule: s.nextSchedule, Queues: len(s.queues)},
		tasks:   make([]*Task, 0, len(s.tasks)),
		workers: make([]*Worker, 0, len(s.workers)),
		servers: make([]Server, 0, len(s.servers)),
	}
	for _, t := range s.tasks {
		snap.tasks = append(snap.tasks, t)
	}
	for _, w := range s.workers {
		snap.workers = append(snap.workers, w)
	}
	for _, srv := range s.servers {
		snap.servers = append(snap.servers, srv)
	}
	for _, sc := range s.schedules {
		snap.schedules = append(snap.schedules, sc)
	}
	for _, q := range s.queues {
		snap.queues = append(snap.queues, q)
	}
	snap.tokens = sortedTokens(&s.tokens)
	snap.header.Tokens = len(snap.tokens)
	return snap
}

// Persist writes the snapshot; it runs concurrently with Apply.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.Encode(sink); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

// Encode encodes the snapshot in the versioned format.
func (s *fsmSnapshot) Encode(w io.Writer) error {
	sort.Slice(s.tasks, func(i, j int) bool { return s.tasks[i].ID < s.tasks[j].ID })
	sort.Slice(s.workers, func(i, j int) bool { return s.workers[i].ID < s.workers[j].ID })
	sort.Slice(s.servers, func(i, j int) bool { return s.servers[i].ID < s.servers[j].ID })
	sort.Slice(s.schedules, func(i, j int) bool { return s.schedules[i].ID < s.schedules[j].ID })
	sort.Slice(s.queues, func(i, j int) bool { return s.queues[i].Name < s.queues[j].Name })
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	if err := enc.Encode(s.header); err != nil {
		return fmt.Errorf("write snapshot header: %w", err)
	}
	for _, t := range s.tasks {
		if err := enc.Encode(t); err != nil {
			return fmt.Errorf("write snapshot task %d: %w", t.ID, err)
		}
	}
	for _, wk := range s.workers {
		if err := enc.Encode(wk); err != nil {
			return fmt.Errorf("write snapshot worker %s: %w", wk.ID, err)
		}
	}
	for _, srv := range s.servers {
		if err := enc.Encode(srv); err != nil {
			return fmt.Errorf("write snapshot server %s: %w", srv.ID, err)
		}
	}
	for _, sc := range s.schedules {
		if err := enc.Encode(sc); err != nil {
			return fmt.Errorf("write snapshot schedule %s: %w", sc.ID, err)
		}
	}
	for _, q := range s.queues {
		if err := enc.Encode(q); err != nil {
			return fmt.Errorf("write snapshot queue %s: %w", q.Name, err)
		}
	}
	if err := s.encodeTokens(enc); err != nil {
		return err
	}
	return bw.Flush()
}

// Release is a no-op: the snapshot holds no resources.
func (s *fsmSnapshot) Release() {}

func readSnapshot(r io.Reader) (*state, uint64, error) {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 64<<10))
	var h snapshotHeader
	if err := dec.Decode(&h); err != nil {
		return nil, 0, fmt.Errorf("read header: %w", err)
	}
	if h.Format != snapshotFormat || h.Version < 1 || h.Version > snapshotVersion {
		return nil, 0, fmt.Errorf("unsupported snapshot %q version %d", h.Format, h.Version)
	}
	if h.Version < 2 && (h.Schedules != 0 || h.Queues != 0 || h.NextSchedule != 0) {
		return nil, 0, fmt.Errorf("version %d snapshot header has version 2 fields", h.Version)
	}
	if h.Tasks < 0 || h.Workers < 0 || h.Servers < 0 || h.Schedules < 0 || h.Queues < 0 || h.NextID < 1 {
		return nil, 0, fmt.Errorf("corrupt snapshot header %+v", h)
	}
	s := newState()
	s.nextID = h.NextID
	for i := 0; i < h.Tasks; i++ {
		t := &Task{}
		if err := dec.Decode(t); err != nil {
			return nil, 0, fmt.Errorf("read task %d of %d: %w", i, h.Tasks, err)
		}
		if err := checkRestoredTask(t, s); err != nil {
			return nil, 0, err
		}
		s.putTask(t)
	}
	for i := 0; i < h.Workers; i++ {
		w := &Worker{}
		if err := dec.Decode(w); err != nil {
			return nil, 0, fmt.Errorf("read worker %d of %d: %w", i, h.Workers, err)
		}
		if w.ID == "" {
			return nil, 0, fmt.Errorf("snapshot worker %d of %d has no id", i, h.Workers)
		}
		s.workers[w.ID] = w
	}
	for i := 0; i < h.Servers; i++ {
		var srv Server
		if err := dec.Decode(&srv); err != nil {
			return nil, 0, fmt.Errorf("read server %d of %d: %w", i, h.Servers, err)
		}
		if srv.ID == "" {
			return nil, 0, fmt.Errorf("snapshot server %d of %d has no id", i, h.Servers)
		}
		s.servers[srv.ID] = srv
	}
	if err := readSnapshotV2(dec, h, s); err != nil {
		return nil, 0, err
	}
	if err := readSnapshotTokens(dec, h, s); err != nil {
		return nil, 0, err
	}
	s.settle = nil
	// The header's counts must account for everything: trailing records
	// mean the header or the file is damaged.
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		return nil, 0, fmt.Errorf("snapshot has data after its %d records", h.Tasks+h.Workers+h.Servers+h.Schedules+h.Queues)
	}
	return s, h.Applied, nil
}

func checkRestoredTask(t *Task, s *state) error {
	if t.ID < 1 || t.ID >= s.nextID {
		return fmt.Errorf("snapshot task id %d outside [1,%d)", t.ID, s.nextID)
	}
	if _, dup := s.tasks[t.ID]; dup {
		return fmt.Errorf("snapshot has task %d twice", t.ID)
	}
	// A key names one task; two would leave which one a resubmission gets
	// to the order of the lines.
	if id, dup := s.keys[t.IdempotencyKey]; dup && t.IdempotencyKey != "" {
		return fmt.Errorf("snapshot tasks %d and %d share an idempotency key", id, t.ID)
	}
	switch t.Status {
	case StatusScheduled, StatusPending, StatusRunning, StatusCompleted, StatusFailed, StatusCanceled:
		return nil
	}
	return fmt.Errorf("snapshot task %d has unknown status %q", t.ID, t.Status)
}

// readSnapshotV2 reads the schedule and queue lines of a version 2
// snapshot (none in version 1).
func readSnapshotV2(dec *json.Decoder, h snapshotHeader, s *state) error {
	s.nextSchedule = h.NextSchedule
	for i := 0; i < h.Schedules; i++ {
		sc := &Schedule{}
		if err := dec.Decode(sc); err != nil {
			return fmt.Errorf("read schedule %d of %d: %w", i, h.Schedules, err)
		}
		if _, dup := s.schedules[sc.ID]; sc.ID == "" || dup {
			return fmt.Errorf("snapshot schedule %d of %d has no id or a duplicate one", i, h.Schedules)
		}
		s.schedules[sc.ID] = sc
	}
	for i := 0; i < h.Queues; i++ {
		var q QueueSettings
		if err := dec.Decode(&q); err != nil {
			return fmt.Errorf("read queue %d of %d: %w", i, h.Queues, err)
		}
		if _, dup := s.queues[q.Name]; q.Name == "" || dup {
			return fmt.Errorf("snapshot queue %d of %d has no name or a duplicate one", i, h.Queues)
		}
		s.queues[q.Name] = q
	}
	return nil
}
