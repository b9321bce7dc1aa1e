package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/shepherd/shepherd/fsm"
)

// fakeBackend is a Backend over a real, in-memory fsm.FSM: writes are
// applied directly as commands, without Raft. It records every Backend
// call that may change state, and can be told to fail a method.
type fakeBackend struct {
	mu sync.Mutex

	id         string
	leader     bool
	leaderID   string
	leaderHTTP string
	ready      bool
	verifyErr  error
	status     ClusterStatus
	self       NodeInfo

	state *fsm.FSM
	index uint64
	now   time.Time

	calls       []string
	verifyCalls int
	fail        map[string]error // method name -> error to return
	joined      []string

	// pollHook, when set, replaces Poll (to test parking and shutdown).
	pollHook func(ctx context.Context) (PollResult, error)
}

var _ Backend = (*fakeBackend)(nil)

// newLeader returns a fake that leads a one-master cluster at 127.0.0.1:1.
func newLeader() *fakeBackend {
	return &fakeBackend{
		id: "m1", leader: true, leaderID: "m1", leaderHTTP: "127.0.0.1:1", ready: true,
		state: fsm.New(nil), now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), fail: map[string]error{},
	}
}

// newFollower returns a fake follower of m2 at 10.0.0.2:8080.
func newFollower() *fakeBackend {
	f := newLeader()
	f.id, f.leader, f.leaderID, f.leaderHTTP = "m3", false, "m2", "10.0.0.2:8080"
	return f
}

func (f *fakeBackend) record(method string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, method)
	return f.fail[method]
}

func (f *fakeBackend) callsMade() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeBackend) apply(cmd fsm.Command) (*fsm.Response, error) {
	buf, err := fsm.Encode(cmd)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.index++
	idx := f.index
	f.now = f.now.Add(time.Second)
	f.mu.Unlock()
	resp, _ := f.state.ApplyCommand(idx, buf)
	return resp, resp.Err
}

func (f *fakeBackend) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeBackend) NodeID() string { return f.id }
func (f *fakeBackend) Self() NodeInfo { return f.self }
func (f *fakeBackend) Leader() (string, string, bool) {
	return f.leaderID, f.leaderHTTP, f.leaderID != ""
}
func (f *fakeBackend) IsLeader() bool { return f.leader }
func (f *fakeBackend) VerifyLeader(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.verifyCalls++
	return f.verifyErr
}
func (f *fakeBackend) Ready() bool           { return f.ready }
func (f *fakeBackend) State() *fsm.FSM       { return f.state }
func (f *fakeBackend) Status() ClusterStatus { return f.status }

func (f *fakeBackend) Submit(_ context.Context, specs []fsm.TaskSpec) ([]fsm.Task, []bool, error) {
	if err := f.record("Submit"); err != nil {
		return nil, nil, err
	}
	resp, err := f.apply(fsm.Submit{Now: f.clock(), Tasks: specs})
	if err != nil {
		return nil, nil, err
	}
	return resp.Tasks, resp.Existing, nil
}

func (f *fakeBackend) one(method string, cmd fsm.Command) (fsm.Task, error) {
	if err := f.record(method); err != nil {
		return fsm.Task{}, err
	}
	resp, err := f.apply(cmd)
	if err != nil {
		return fsm.Task{}, err
	}
	return resp.Tasks[0], nil
}

func (f *fakeBackend) Cancel(_ context.Context, id int64) (fsm.Task, error) {
	if err := f.record("Cancel"); err != nil {
		return fsm.Task{}, err
	}
	if _, err := f.apply(fsm.Cancel{Now: f.clock(), TaskID: id}); err != nil {
		return fsm.Task{}, err
	}
	t, _ := f.state.Task(id)
	return t, nil
}

func (f *fakeBackend) Complete(_ context.Context, workerID string, c Completion) (fsm.Task, error) {
	return f.one("Complete", fsm.Complete{Now: f.clock(), WorkerID: workerID, TaskID: c.TaskID,
		Attempt: c.Attempt, Result: c.Result})
}

func (f *fakeBackend) Fail(_ context.Context, workerID string, fl Failure) (fsm.Task, error) {
	now := f.clock()
	return f.one("Fail", fsm.Fail{Now: now, WorkerID: workerID, TaskID: fl.TaskID, Attempt: fl.Attempt,
		Error: fl.Error, Retry: fl.Retry, RetryAt: now.Add(time.Second)})
}

func (f *fakeBackend) RegisterWorker(_ context.Context, w WorkerRegistration) (fsm.Worker, error) {
	if err := f.record("RegisterWorker"); err != nil {
		return fsm.Worker{}, err
	}
	if _, err := f.apply(fsm.RegisterWorker{Now: f.clock(), ID: w.ID, Address: w.Address,
		Labels: w.Labels, Capacity: w.Capacity}); err != nil {
		return fsm.Worker{}, err
	}
	out, _, _ := f.state.Worker(w.ID)
	return out, nil
}

func (f *fakeBackend) Heartbeat(_ context.Context, workerID string, _ Heartbeat) (HeartbeatAnswer, error) {
	if err := f.record("Heartbeat"); err != nil {
		return HeartbeatAnswer{}, err
	}
	if _, _, ok := f.state.Worker(workerID); !ok {
		return HeartbeatAnswer{}, fmt.Errorf("%w: worker %q", fsm.ErrNotFound, workerID)
	}
	return HeartbeatAnswer{Cancel: f.state.CancelRequested(workerID)}, nil
}

func (f *fakeBackend) Poll(ctx context.Context, workerID string, p PollRequest) (PollResult, error) {
	if err := f.record("Poll"); err != nil {
		return PollResult{}, err
	}
	if f.pollHook != nil {
		return f.pollHook(ctx)
	}
	var res PollResult
	for _, c := range p.Completed {
		if _, err := f.apply(fsm.Complete{Now: f.clock(), WorkerID: workerID, TaskID: c.TaskID,
			Attempt: c.Attempt, Result: c.Result}); err != nil {
			res.Rejected = append(res.Rejected, Rejection{TaskID: c.TaskID, Err: err})
		}
	}
	for _, fl := range p.Failed {
		now := f.clock()
		if _, err := f.apply(fsm.Fail{Now: now, WorkerID: workerID, TaskID: fl.TaskID, Attempt: fl.Attempt,
			Error: fl.Error, Retry: fl.Retry, RetryAt: now.Add(time.Second)}); err != nil {
			res.Rejected = append(res.Rejected, Rejection{TaskID: fl.TaskID, Err: err})
		}
	}
	w, _, ok := f.state.Worker(workerID)
	if !ok {
		return PollResult{}, fmt.Errorf("%w: worker %q", fsm.ErrNotFound, workerID)
	}
	ids := f.state.Candidates(p.Queues, w.Labels, p.Max, nil)
	if len(ids) == 0 {
		return res, nil
	}
	resp, err := f.apply(fsm.Lease{Now: f.clock(), WorkerID: workerID, TaskIDs: ids})
	if err != nil {
		return PollResult{}, err
	}
	res.Tasks = resp.Tasks
	return res, nil
}

func (f *fakeBackend) Drain(_ context.Context, workerID string) (fsm.Worker, error) {
	if err := f.record("Drain"); err != nil {
		return fsm.Worker{}, err
	}
	if _, err := f.apply(fsm.DrainWorker{Now: f.clock(), WorkerID: workerID}); err != nil {
		return fsm.Worker{}, err
	}
	w, _, _ := f.state.Worker(workerID)
	return w, nil
}

func (f *fakeBackend) Join(_ context.Context, id, raftAddr, httpAddr string) error {
	if err := f.record("Join"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.joined = append(f.joined, id+"@"+raftAddr+"/"+httpAddr)
	return nil
}

func (f *fakeBackend) JoinNonvoter(_ context.Context, id, raftAddr, httpAddr string) error {
	if err := f.record("JoinNonvoter"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.joined = append(f.joined, id+"@"+raftAddr+"/"+httpAddr+"/nonvoter")
	return nil
}

func (f *fakeBackend) RemoveServer(_ context.Context, id string, force bool) error {
	method := "RemoveServer"
	if force {
		method += "(force)"
	}
	return f.record(method)
}

func (f *fakeBackend) TransferLeadership(_ context.Context, id string) (string, error) {
	if err := f.record("TransferLeadership"); err != nil {
		return "", err
	}
	if id == "" {
		id = "m2"
	}
	return id, nil
}

// OpenBackup serves a fixed body; cluster tests cover real backups.
func (f *fakeBackend) OpenBackup(_ context.Context) (*Backup, error) {
	if err := f.record("OpenBackup"); err != nil {
		return nil, err
	}
	info := BackupInfo{Format: "shepherd-backup", Version: 1, Node: f.id, Index: 7, Size: 5}
	hdr, _ := json.Marshal(info)
	return &Backup{Info: info, Reader: strings.NewReader(string(hdr) + "\nstate")}, nil
}

func (f *fakeBackend) Restore(_ context.Context, r io.Reader) (BackupInfo, error) {
	if err := f.record("Restore"); err != nil {
		return BackupInfo{}, err
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return BackupInfo{}, err
	}
	return BackupInfo{Format: "shepherd-backup", Version: 1, Size: int64(len(b))}, nil
}
