package fsm

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// sampleCommands has one filled-in value of every command type.
func sampleCommands(t testing.TB) []Command {
	cmds := []Command{
		Submit{Now: base, Tasks: []TaskSpec{{Name: "a", Queue: "q", Description: "d", Payload: json.RawMessage(`{"x":1}`),
			Priority: 3, Labels: map[string]string{"k": "v"}, MaxAttempts: 2, Timeout: time.Minute, RunAt: at(time.Hour), IdempotencyKey: "key"}}},
		Lease{Now: base, WorkerID: "w1", TaskIDs: []int64{1, 2}},
		Complete{Now: base, WorkerID: "w1", TaskID: 1, Attempt: 1, Result: json.RawMessage(`[1,2]`)},
		Fail{Now: base, WorkerID: "w1", TaskID: 1, Attempt: 1, Error: "e", Retry: true, RetryAt: at(time.Second)},
		Requeue{Now: base, Leases: []TaskAttempt{{1, 1}}, Reason: "expired"},
		RegisterWorker{Now: base, ID: "w1", Address: "a:1", Labels: map[string]string{"gpu": "yes"}, Capacity: 4},
		WorkerDown{Now: base, WorkerID: "w1", Reason: "ttl"},
		DrainWorker{Now: base, WorkerID: "w1"},
		Cancel{Now: base, TaskID: 1},
		Promote{Now: base},
		WorkerStats{Now: base, Stats: []WorkerStat{{WorkerID: "w1", CPU: 0.5, Memory: 0.25, SeenAt: base, Progress: map[int64]float64{1: 0.5}}}},
		RegisterServer{Server: Server{ID: "m1", RaftAddr: "r:1", HTTPAddr: "h:1"}},
		RemoveServer{ID: "m1"},
	}
	return append(cmds, mustBatch(t, cmds[1], cmds[9]))
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	for _, c := range sampleCommands(t) {
		buf, err := Encode(c)
		if err != nil {
			t.Fatalf("%s: %v", c.Type(), err)
		}
		if CommandType(buf[0]) != c.Type() || buf[1] != commandVersion {
			t.Errorf("%s: header % x", c.Type(), buf[:2])
		}
		got, err := Decode(buf)
		if err != nil {
			t.Fatalf("%s: %v", c.Type(), err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Errorf("%s: round trip\n got %#v\nwant %#v", c.Type(), got, c)
		}
		if name := c.Type().String(); strings.HasPrefix(name, "command(") {
			t.Errorf("type %d has no name", uint8(c.Type()))
		}
	}
	if got := CommandType(0x42).String(); got != "command(66)" {
		t.Errorf("unknown type name %q", got)
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		name    string
		buf     []byte
		unknown bool
	}{
		{"empty", nil, false},
		{"one byte", []byte{byte(CmdSubmit)}, false},
		{"unknown type", []byte{0x7e, commandVersion, '{', '}'}, true},
		{"unknown ignorable type", []byte{0xfe, commandVersion, '{', '}'}, true},
		{"unknown version", []byte{byte(CmdSubmit), commandVersion + 1, '{', '}'}, false},
		{"malformed body", []byte{byte(CmdSubmit), commandVersion, '{'}, false},
		{"wrong field type", append([]byte{byte(CmdCancel), commandVersion}, `{"task_id":"x"}`...), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.buf)
			if err == nil {
				t.Fatal("decoded")
			}
			if errors.Is(err, ErrUnknownCommand) != tc.unknown {
				t.Errorf("err %v: unknown = %v, want %v", err, !tc.unknown, tc.unknown)
			}
		})
	}
}

func TestApplyUndecodable(t *testing.T) {
	cases := []struct {
		name      string
		buf       []byte
		wantPanic string // "" means skipped
	}{
		{"unknown type panics", []byte{0x7e, commandVersion, '{', '}'}, "cannot apply entry"},
		{"newer version panics", append([]byte{byte(CmdSubmit), commandVersion + 1}, `{"now":"2026-01-01T00:00:00Z"}`...), "unsupported version"},
		{"malformed known type panics", []byte{byte(CmdComplete), commandVersion, '['}, "cannot apply entry"},
		{"empty entry panics", []byte{}, "too short"},
		{"unknown ignorable type is skipped", []byte{byte(IgnorableFlag | 0x33), commandVersion, 'x'}, ""},
		{"ignorable type of a newer version is skipped", []byte{byte(CmdWorkerStats), commandVersion + 1, '{', '}'}, ""},
		{"malformed ignorable type is skipped", []byte{byte(CmdWorkerStats), commandVersion, '['}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.worker("w1", nil)
			h.submit(spec("a"))
			before := stateBytes(t, h.f)
			if tc.wantPanic != "" {
				expectPanic(t, tc.wantPanic, func() { h.f.ApplyCommand(99, tc.buf) })
				// The raft entry point panics too (raft then stops the node).
				expectPanic(t, tc.wantPanic, func() { h.f.Apply(&raft.Log{Index: 100, Type: raft.LogCommand, Data: tc.buf}) })
				return
			}
			resp, events := h.f.ApplyCommand(99, tc.buf)
			if resp == nil || resp.Err != nil || len(events) != 0 {
				t.Fatalf("resp %+v events %v", resp, events)
			}
			if h.f.AppliedIndex() != 99 || !bytes.Equal(before, stateBytes(t, h.f)) {
				t.Error("skipped entry changed the state or did not advance the index")
			}
		})
	}
}
