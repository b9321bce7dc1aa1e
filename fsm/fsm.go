package fsm

import (
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// Event is one state change, stamped with the index of the log entry that
// caused it, so that every master emits the same sequence.
type Event struct {
	Index  uint64    `json:"index"`
	Type   string    `json:"type"`
	Time   time.Time `json:"time"`
	Task   *Task     `json:"task,omitempty"`
	Worker *Worker   `json:"worker,omitempty"`
	Server *Server   `json:"server,omitempty"`
	Reason string    `json:"reason,omitempty"`
	// Schedule and Queue carry schedule.* and queue.* events.
	Schedule *Schedule      `json:"schedule,omitempty"`
	Queue    *QueueSettings `json:"queue,omitempty"`
}

// Observer receives the events of every applied entry, in log order, on
// the goroutine that applies the log. It must not block: it copies what it
// needs and returns.
type Observer interface {
	Observe(events []Event)
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(events []Event)

// Observe calls f.
func (f ObserverFunc) Observe(events []Event) { f(events) }

// Response is what Apply returns for one command. Err holds a business
// rejection (ErrNotFound, ErrStaleLease, ...); nothing changed then.
type Response struct {
	Err error
	// Tasks lists the tasks a command created, returned or leased.
	Tasks []Task
	// Existing, for a submit, marks tasks that an idempotency key found.
	Existing []bool
	// Results holds one response per command of a Batch, in order.
	Results []Response
	// Schedules lists the schedule a schedule command wrote or deleted.
	Schedules []Schedule
}

// FSM is Shepherd's raft.FSM. Reads may run concurrently with Apply.
type FSM struct {
	mu        sync.RWMutex
	s         *state
	applied   uint64
	events    []Event // events of the entry being applied
	observers []Observer
	logger    hclog.Logger
}

var _ raft.FSM = (*FSM)(nil)

// New returns an empty state machine.
func New(logger hclog.Logger) *FSM {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &FSM{s: newState(), logger: logger.Named("fsm")}
}

// AddObserver registers o for the events of every later entry. Call it
// before the FSM is handed to Raft.
func (f *FSM) AddObserver(o Observer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.observers = append(f.observers, o)
}

// Apply applies one committed log entry. Entries that are not commands
// (configuration changes, barriers) only advance the applied index.
func (f *FSM) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		f.mu.Lock()
		f.applied = l.Index
		f.mu.Unlock()
		return nil
	}
	resp, events := f.ApplyCommand(l.Index, l.Data)
	for _, o := range f.observers {
		o.Observe(events)
	}
	return resp
}

// ApplyCommand decodes and applies one command at the given log index and
// returns the response and the events it caused. An unknown or undecodable
// command that is not ignorable panics: skipping it would fork the state.
func (f *FSM) ApplyCommand(index uint64, buf []byte) (*Response, []Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied = index
	f.events = nil
	cmd, err := Decode(buf)
	if err != nil {
		if len(buf) > 0 && CommandType(buf[0])&IgnorableFlag != 0 {
			f.logger.Warn("skipping ignorable command", "index", index, "error", err)
			return &Response{}, nil
		}
		panic(fmt.Sprintf("fsm: cannot apply entry %d: %v", index, err))
	}
	resp := f.dispatch(index, cmd)
	f.settleParents(index)
	return &resp, f.events
}

func (f *FSM) dispatch(index uint64, cmd Command) Response {
	switch c := cmd.(type) {
	case Submit:
		return f.applySubmit(index, c)
	case Lease:
		return f.applyLease(index, c)
	case Complete:
		return f.applyComplete(index, c)
	case Fail:
		return f.applyFail(index, c)
	case Requeue:
		return f.applyRequeue(index, c)
	case Cancel:
		return f.applyCancel(index, c)
	case Promote:
		return f.applyPromote(index, c)
	case RegisterWorker:
		return f.applyRegisterWorker(index, c)
	case WorkerDown:
		return f.applyWorkerDown(index, c)
	case DrainWorker:
		return f.applyDrainWorker(index, c)
	case WorkerStats:
		return f.applyWorkerStats(index, c)
	case RegisterServer:
		return f.applyRegisterServer(index, c)
	case RemoveServer:
		return f.applyRemoveServer(index, c)
	case Batch:
		return f.applyBatch(index, c)
	case Retry:
		return f.applyRetry(index, c)
	case PutSchedule:
		return f.applyPutSchedule(index, c)
	case PauseSchedule:
		return f.applyPauseSchedule(index, c)
	case DeleteSchedule:
		return f.applyDeleteSchedule(index, c)
	case FireSchedule:
		return f.applyFireSchedule(index, c)
	case SetQueue:
		return f.applySetQueue(index, c)
	case Purge:
		return f.applyPurge(index, c)
	case ExtendLeases:
		return f.applyExtendLeases(index, c)
	case RemoveWorker:
		return f.applyRemoveWorker(index, c)
	}
	if resp, ok := f.dispatchToken(cmd); ok { // tokens.go
		return resp
	}
	panic(fmt.Sprintf("fsm: no handler for %T", cmd))
}

func (f *FSM) applyBatch(index uint64, b Batch) Response {
	resp := Response{Results: make([]Response, 0, len(b.Commands))}
	for i, buf := range b.Commands {
		cmd, err := Decode(buf)
		if err != nil {
			if len(buf) > 0 && CommandType(buf[0])&IgnorableFlag != 0 {
				resp.Results = append(resp.Results, Response{})
				continue
			}
			panic(fmt.Sprintf("fsm: cannot apply command %d of batch %d: %v", i, index, err))
		}
		if _, nested := cmd.(Batch); nested {
			resp.Results = append(resp.Results, Response{Err: fmt.Errorf("%w: nested batch", ErrInvalid)})
			continue
		}
		resp.Results = append(resp.Results, f.dispatch(index, cmd))
	}
	return resp
}

func (f *FSM) emit(index uint64, typ string, at time.Time, t *Task, w *Worker) {
	f.events = append(f.events, Event{Index: index, Type: typ, Time: at, Task: t, Worker: w})
}

// AppliedIndex is the index of the last entry this FSM applied.
func (f *FSM) AppliedIndex() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.applied
}

// Snapshot captures the state for Raft. It copies maps of pointers only;
// encoding happens in Persist, outside the Apply lock.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.capture(), nil
}

// Restore replaces the state with a snapshot written by Persist.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	s, applied, err := readSnapshot(rc)
	if err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	f.mu.Lock()
	f.s, f.applied = s, applied
	f.mu.Unlock()
	for _, o := range f.observers {
		if r, ok := o.(RestoreObserver); ok {
			r.Restored(applied)
		}
	}
	return nil
}

// RestoreObserver is an Observer that also learns when the state was
// replaced by a snapshot: the events between its last index and the
// snapshot's were never emitted here.
type RestoreObserver interface {
	Observer
	Restored(index uint64)
}

func sortIDs(ids []int64) {
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
}
