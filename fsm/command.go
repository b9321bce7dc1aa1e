package fsm

import (
	"encoding/json"
	"fmt"
	"time"
)

// CommandType numbers a command in the log. Numbers are append-only and
// never reused. A type with IgnorableFlag set may be skipped by an older
// master that does not know it; any other unknown type panics, because
// skipping it would let replicas diverge.
type CommandType uint8

// IgnorableFlag marks a command type that is safe to skip when unknown.
const IgnorableFlag CommandType = 0x80

// Command types. Append only.
const (
	CmdSubmit         CommandType = 1
	CmdLease          CommandType = 2
	CmdComplete       CommandType = 3
	CmdFail           CommandType = 4
	CmdRequeue        CommandType = 5
	CmdRegisterWorker CommandType = 6
	CmdWorkerDown     CommandType = 7
	CmdDrainWorker    CommandType = 8
	CmdCancel         CommandType = 9
	CmdPromote        CommandType = 10
	CmdBatch          CommandType = 11
	CmdRegisterServer CommandType = 12
	CmdRemoveServer   CommandType = 13
	// Issue 3: task semantics (14-29 reserved for it).
	CmdRetry          CommandType = 14
	CmdPutSchedule    CommandType = 15
	CmdDeleteSchedule CommandType = 16
	CmdFireSchedule   CommandType = 17
	CmdSetQueue       CommandType = 18
	CmdPurge          CommandType = 19
	CmdExtendLeases   CommandType = 20
	CmdRemoveWorker   CommandType = 21
	CmdPauseSchedule  CommandType = 22
	// CmdWorkerStats carries heartbeat statistics; losing one is harmless.
	CmdWorkerStats = IgnorableFlag | 1
)

// commandVersion is the payload encoding version written by this build.
const commandVersion = 1

func (t CommandType) String() string {
	if n, ok := commandNames[t]; ok {
		return n
	}
	return fmt.Sprintf("command(%d)", uint8(t))
}

var commandNames = map[CommandType]string{
	CmdSubmit: "submit", CmdLease: "lease", CmdComplete: "complete", CmdFail: "fail",
	CmdRequeue: "requeue", CmdRegisterWorker: "register-worker", CmdWorkerDown: "worker-down",
	CmdDrainWorker: "drain-worker", CmdCancel: "cancel", CmdPromote: "promote", CmdBatch: "batch",
	CmdRegisterServer: "register-server", CmdRemoveServer: "remove-server",
	CmdWorkerStats: "worker-stats",
	CmdRetry:       "retry", CmdPutSchedule: "put-schedule", CmdDeleteSchedule: "delete-schedule",
	CmdFireSchedule: "fire-schedule", CmdSetQueue: "set-queue", CmdPurge: "purge",
	CmdExtendLeases: "extend-leases", CmdRemoveWorker: "remove-worker", CmdPauseSchedule: "pause-schedule",
}

// Command is any payload that can be written to the log.
type Command interface {
	Type() CommandType
}

// TaskSpec is a new task as the leader resolved it: defaults applied, run
// time absolute.
type TaskSpec struct {
	Name           string            `json:"name"`
	Queue          string            `json:"queue"`
	Description    string            `json:"description,omitempty"`
	Payload        json.RawMessage   `json:"payload,omitempty"`
	Priority       int               `json:"priority,omitempty"`
	Labels         map[string]string `json:"labels,omitempty"`
	MaxAttempts    int               `json:"max_attempts"`
	Timeout        time.Duration     `json:"timeout"`
	RunAt          time.Time         `json:"run_at"`
	IdempotencyKey string            `json:"idempotency_key,omitempty"`
	RetryBase      time.Duration     `json:"retry_base,omitempty"`
	RetryMax       time.Duration     `json:"retry_max,omitempty"`
	AffinityKey    string            `json:"affinity_key,omitempty"`
	Broadcast      bool              `json:"broadcast,omitempty"`
	// Set by the FSM for the runs of a schedule.
	ScheduleID   string    `json:"schedule_id,omitempty"`
	ScheduleTick time.Time `json:"schedule_tick,omitzero"`
}

// Submit creates tasks, all or nothing. A spec whose idempotency key is
// known yields the existing task and creates nothing.
type Submit struct {
	Now   time.Time  `json:"now"`
	Tasks []TaskSpec `json:"tasks"`
}

// Lease gives the listed tasks, those still pending, to a worker. Each
// lease runs until Now plus the task's timeout.
type Lease struct {
	Now      time.Time `json:"now"`
	WorkerID string    `json:"worker_id"`
	TaskIDs  []int64   `json:"task_ids"`
}

// Complete ends a running task's attempt successfully.
type Complete struct {
	Now      time.Time       `json:"now"`
	WorkerID string          `json:"worker_id"`
	TaskID   int64           `json:"task_id"`
	Attempt  int             `json:"attempt"`
	Result   json.RawMessage `json:"result,omitempty"`
}

// Fail ends a running task's attempt with an error. With Retry and
// attempts left, the task waits as scheduled until RetryAt.
type Fail struct {
	Now      time.Time `json:"now"`
	WorkerID string    `json:"worker_id"`
	TaskID   int64     `json:"task_id"`
	Attempt  int       `json:"attempt"`
	Error    string    `json:"error"`
	Retry    bool      `json:"retry"`
	RetryAt  time.Time `json:"retry_at"`
}

// TaskAttempt names one lease of one task.
type TaskAttempt struct {
	TaskID  int64 `json:"task_id"`
	Attempt int   `json:"attempt"`
}

// Requeue takes leases back (expired, or unknown to their worker). The
// attempt stays counted; a task out of attempts ends failed.
type Requeue struct {
	Now    time.Time     `json:"now"`
	Leases []TaskAttempt `json:"leases"`
	Reason string        `json:"reason"`
}

// RegisterWorker adds a worker or refreshes a known one; it becomes ready.
type RegisterWorker struct {
	Now      time.Time         `json:"now"`
	ID       string            `json:"id"`
	Address  string            `json:"address,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	Capacity int               `json:"capacity"`
	// With ReportsRunning, Running lists the tasks the worker still runs:
	// its leases that are not listed, or have expired, are requeued in the
	// same entry. It gets its own tasks back only while their leases hold.
	ReportsRunning bool    `json:"reports_running,omitempty"`
	Running        []int64 `json:"running,omitempty"`
}

// WorkerDown marks a worker down and requeues all its running tasks.
type WorkerDown struct {
	Now      time.Time `json:"now"`
	WorkerID string    `json:"worker_id"`
	Reason   string    `json:"reason"`
}

// DrainWorker stops new leases to a worker.
type DrainWorker struct {
	Now      time.Time `json:"now"`
	WorkerID string    `json:"worker_id"`
}

// Cancel ends a pending or scheduled task at once and marks a running one
// for cancellation by its worker.
type Cancel struct {
	Now    time.Time `json:"now"`
	TaskID int64     `json:"task_id"`
}

// Promote makes every scheduled task whose run time is not after Now pending.
type Promote struct {
	Now time.Time `json:"now"`
}

// WorkerStat is one worker's latest heartbeat, as the leader saw it.
type WorkerStat struct {
	WorkerID string            `json:"worker_id"`
	CPU      float64           `json:"cpu"`
	Memory   float64           `json:"memory"`
	SeenAt   time.Time         `json:"seen_at"`
	Progress map[int64]float64 `json:"progress,omitempty"`
	Messages map[int64]string  `json:"messages,omitempty"`
}

// WorkerStats replicates heartbeat statistics in one periodic batch.
type WorkerStats struct {
	Now   time.Time    `json:"now"`
	Stats []WorkerStat `json:"stats"`
}

// RegisterServer records a master's addresses.
type RegisterServer struct {
	Server Server `json:"server"`
}

// RemoveServer forgets a master's addresses.
type RemoveServer struct {
	ID string `json:"id"`
}

// Batch applies several commands in one log entry, in order. Each inner
// command succeeds or fails on its own.
type Batch struct {
	Commands [][]byte `json:"commands"`
}

func (Submit) Type() CommandType         { return CmdSubmit }
func (Lease) Type() CommandType          { return CmdLease }
func (Complete) Type() CommandType       { return CmdComplete }
func (Fail) Type() CommandType           { return CmdFail }
func (Requeue) Type() CommandType        { return CmdRequeue }
func (RegisterWorker) Type() CommandType { return CmdRegisterWorker }
func (WorkerDown) Type() CommandType     { return CmdWorkerDown }
func (DrainWorker) Type() CommandType    { return CmdDrainWorker }
func (Cancel) Type() CommandType         { return CmdCancel }
func (Promote) Type() CommandType        { return CmdPromote }
func (WorkerStats) Type() CommandType    { return CmdWorkerStats }
func (RegisterServer) Type() CommandType { return CmdRegisterServer }
func (RemoveServer) Type() CommandType   { return CmdRemoveServer }
func (Batch) Type() CommandType          { return CmdBatch }
func (Retry) Type() CommandType          { return CmdRetry }
func (PutSchedule) Type() CommandType    { return CmdPutSchedule }
func (DeleteSchedule) Type() CommandType { return CmdDeleteSchedule }
func (FireSchedule) Type() CommandType   { return CmdFireSchedule }
func (SetQueue) Type() CommandType       { return CmdSetQueue }
func (Purge) Type() CommandType          { return CmdPurge }
func (ExtendLeases) Type() CommandType   { return CmdExtendLeases }
func (RemoveWorker) Type() CommandType   { return CmdRemoveWorker }
func (PauseSchedule) Type() CommandType  { return CmdPauseSchedule }

// Encode writes a command as a log entry: type byte, version byte, JSON body.
func Encode(c Command) ([]byte, error) {
	body, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", c.Type(), err)
	}
	buf := make([]byte, 0, len(body)+2)
	buf = append(buf, byte(c.Type()), commandVersion)
	return append(buf, body...), nil
}

// NewBatch encodes commands into one Batch command.
func NewBatch(cmds ...Command) (Batch, error) {
	b := Batch{Commands: make([][]byte, 0, len(cmds))}
	for _, c := range cmds {
		buf, err := Encode(c)
		if err != nil {
			return Batch{}, err
		}
		b.Commands = append(b.Commands, buf)
	}
	return b, nil
}

// ErrUnknownCommand is returned by Decode for a type this build does not know.
var ErrUnknownCommand = fmt.Errorf("unknown command type")

// Decode parses a log entry. It returns ErrUnknownCommand (wrapped) for an
// unknown type, and an error for an unknown version or a malformed body.
func Decode(buf []byte) (Command, error) {
	if len(buf) < 2 {
		return nil, fmt.Errorf("decode command: entry of %d bytes is too short", len(buf))
	}
	t, version := CommandType(buf[0]), buf[1]
	decode, ok := decoders[t]
	if !ok {
		return nil, fmt.Errorf("decode %s: %w", t, ErrUnknownCommand)
	}
	if version != commandVersion {
		return nil, fmt.Errorf("decode %s: unsupported version %d", t, version)
	}
	c, err := decode(buf[2:])
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", t, err)
	}
	return c, nil
}

// decoders maps every known command type to the decoder of its payload.
// A new command adds one line here (and one to commandNames).
var decoders = map[CommandType]func([]byte) (Command, error){
	CmdSubmit: decodeAs[Submit], CmdLease: decodeAs[Lease], CmdComplete: decodeAs[Complete],
	CmdFail: decodeAs[Fail], CmdRequeue: decodeAs[Requeue], CmdRegisterWorker: decodeAs[RegisterWorker],
	CmdWorkerDown: decodeAs[WorkerDown], CmdDrainWorker: decodeAs[DrainWorker], CmdCancel: decodeAs[Cancel],
	CmdPromote: decodeAs[Promote], CmdWorkerStats: decodeAs[WorkerStats],
	CmdRegisterServer: decodeAs[RegisterServer], CmdRemoveServer: decodeAs[RemoveServer],
	CmdBatch: decodeAs[Batch], CmdRetry: decodeAs[Retry], CmdPutSchedule: decodeAs[PutSchedule],
	CmdDeleteSchedule: decodeAs[DeleteSchedule], CmdFireSchedule: decodeAs[FireSchedule],
	CmdSetQueue: decodeAs[SetQueue], CmdPurge: decodeAs[Purge], CmdExtendLeases: decodeAs[ExtendLeases],
	CmdRemoveWorker: decodeAs[RemoveWorker], CmdPauseSchedule: decodeAs[PauseSchedule],
	CmdPutToken: decodeAs[PutToken], CmdRevokeToken: decodeAs[RevokeToken],
}

// decodeAs decodes a JSON payload into a command of type T.
func decodeAs[T Command](body []byte) (Command, error) {
	var c T
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, err
	}
	return c, nil
}
