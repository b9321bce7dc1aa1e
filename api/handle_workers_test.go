package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/shepherd/shepherd/api/client"
)

func TestRegisterAndReadWorkers(t *testing.T) {
	b := newLeader()
	h := newTestServer(t, b).Handler()

	w := decodeAs[client.Worker](t, do(t, h, "POST", "/v1/workers",
		`{"id":"w2","address":"10.1.1.1:7000","labels":{"gpu":"yes"},"capacity":8}`), http.StatusOK)
	if w.ID != "w2" || w.Capacity != 8 || w.Status != "ready" || w.Labels["gpu"] != "yes" || w.Running == nil {
		t.Errorf("registered %+v", w)
	}
	w = decodeAs[client.Worker](t, do(t, h, "POST", "/v1/workers", `{"id":"w1"}`), http.StatusOK)
	if w.Capacity != 1 {
		t.Errorf("capacity %d, want default 1", w.Capacity)
	}

	list := decodeAs[client.WorkerList](t, do(t, h, "GET", "/v1/workers", ""), http.StatusOK)
	if len(list.Workers) != 2 || list.Workers[0].ID != "w1" || list.Workers[1].ID != "w2" {
		t.Errorf("workers %+v", list.Workers)
	}
	rec := do(t, h, "GET", "/v1/workers/w2", "")
	if got := decodeAs[client.Worker](t, rec, http.StatusOK); got.Address != "10.1.1.1:7000" {
		t.Errorf("worker %+v", got)
	}
	if !strings.Contains(rec.Body.String(), `"running":[]`) {
		t.Errorf("running should be [] in %s", rec.Body)
	}
	wantError(t, do(t, h, "GET", "/v1/workers/nope", ""), http.StatusNotFound, codeNotFound, `"nope"`)

	empty := do(t, newTestServer(t, newLeader()).Handler(), "GET", "/v1/workers", "")
	if body := strings.TrimSpace(empty.Body.String()); body != `{"workers":[]}` {
		t.Errorf("empty worker list %s", body)
	}
}

func TestRegisterWorkerRejectsInvalid(t *testing.T) {
	cases := []struct{ name, body, msg string }{
		{"no id", `{"capacity":1}`, "worker id is required"},
		{"slash in id", `{"id":"a/b"}`, "must not contain '/'"},
		{"negative capacity", `{"id":"w","capacity":-1}`, "capacity must be between"},
		{"empty label key", `{"id":"w","labels":{"":"v"}}`, "labels keys"},
		{"unknown field", `{"id":"w","cores":4}`, `unknown field "cores"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newLeader()
			wantError(t, do(t, newTestServer(t, b).Handler(), "POST", "/v1/workers", tc.body), http.StatusBadRequest, codeInvalid, tc.msg)
			wantNoCalls(t, b, 0)
		})
	}
}

func TestHeartbeat(t *testing.T) {
	b := newLeader()
	h := newTestServer(t, b).Handler()
	seed(t, h, "a", "b")
	task := leaseOne(t, h)

	rec := do(t, h, "POST", "/v1/workers/w1/heartbeat", `{"cpu":0.3,"memory":0.5,"running":[1],"progress":{"1":0.5}}`)
	if body := strings.TrimSpace(rec.Body.String()); rec.Code != http.StatusOK || body != `{"cancel":[],"heartbeat_interval":"1s"}` {
		t.Errorf("heartbeat answered %d %s", rec.Code, body)
	}

	decodeAs[client.Task](t, do(t, h, "POST", fmt.Sprintf("/v1/tasks/%d/cancel", task.ID), ""), http.StatusOK)
	hb := decodeAs[client.HeartbeatResponse](t, do(t, h, "POST", "/v1/workers/w1/heartbeat", `{"running":[1]}`), http.StatusOK)
	if len(hb.Cancel) != 1 || hb.Cancel[0] != task.ID {
		t.Errorf("cancel %v, want [%d]", hb.Cancel, task.ID)
	}

	wantError(t, do(t, h, "POST", "/v1/workers/ghost/heartbeat", `{}`), http.StatusNotFound, codeNotFound, "ghost")
}

func TestHeartbeatRejectsInvalid(t *testing.T) {
	cases := []struct{ name, body, msg string }{
		{"non-numeric progress key", `{"progress":{"abc":0.5}}`, `progress keys must be decimal task ids, not "abc"`},
		{"progress out of range", `{"progress":{"1":1.5}}`, "between 0 and 1"},
		{"negative cpu", `{"cpu":-1}`, "must not be negative"},
		{"no body", ``, "request body is required"},
		{"unknown field", `{"load":1}`, `unknown field "load"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newLeader()
			wantError(t, do(t, newTestServer(t, b).Handler(), "POST", "/v1/workers/w1/heartbeat", tc.body),
				http.StatusBadRequest, codeInvalid, tc.msg)
			wantNoCalls(t, b, 0)
		})
	}
}

func TestPoll(t *testing.T) {
	b := newLeader()
	h := newTestServer(t, b).Handler()
	seed(t, h, "a", "b", "c")

	// An empty body polls one task from the default queue.
	out := decodeAs[client.PollResponse](t, do(t, h, "POST", "/v1/workers/w1/poll", ""), http.StatusOK)
	if len(out.Tasks) != 1 || out.Tasks[0].Status != "running" || out.Tasks[0].Attempt != 1 ||
		out.Tasks[0].WorkerID != "w1" || out.Tasks[0].LeaseExpiresAt == nil {
		t.Fatalf("poll answered %+v", out)
	}
	first := out.Tasks[0]

	// Results ride along: one good completion, one stale, one unknown.
	body := fmt.Sprintf(`{"max":5,"wait":"1s","queues":["default"],
		"completed":[{"id":%d,"attempt":1,"result":"ok"},{"id":%d,"attempt":7}],
		"failed":[{"id":99,"attempt":1,"error":"x","retry":true}]}`, first.ID, first.ID+1)
	out = decodeAs[client.PollResponse](t, do(t, h, "POST", "/v1/workers/w1/poll", body), http.StatusOK)
	if len(out.Tasks) != 2 {
		t.Errorf("leased %d tasks, want the 2 left", len(out.Tasks))
	}
	want := fmt.Sprint([]client.Rejection{{ID: first.ID + 1, Code: codeStaleLease}, {ID: 99, Code: codeNotFound}})
	if fmt.Sprint(out.Rejected) != want {
		t.Errorf("rejected %v, want %v", out.Rejected, want)
	}
	if got, _ := b.state.Task(first.ID); got.Status != "completed" {
		t.Errorf("carried completion not applied: %s", got.Status)
	}

	rec := do(t, h, "POST", "/v1/workers/w1/poll", `{"wait":"0s"}`)
	if body := strings.TrimSpace(rec.Body.String()); body != `{"tasks":[]}` {
		t.Errorf("empty poll answered %s", body)
	}
}

func TestPollRejectsInvalid(t *testing.T) {
	cases := []struct{ name, body, msg string }{
		{"max too big", `{"max":1001}`, "max must be between 1 and 1000"},
		{"negative max", `{"max":-1}`, "max must be between"},
		{"wait too long", `{"wait":"61s"}`, "wait must be a duration between 0s and 1m0s"},
		{"wait malformed", `{"wait":"soon"}`, "wait must be"},
		{"empty queue", `{"queues":["default",""]}`, "queues[1] must not be empty"},
		{"completed without id", `{"completed":[{"attempt":1}]}`, "completed[0]: id must be"},
		{"failed without attempt", `{"failed":[{"id":3}]}`, "failed[0]: attempt must be positive"},
		{"unknown field", `{"timeout":"1s"}`, `unknown field "timeout"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newLeader()
			wantError(t, do(t, newTestServer(t, b).Handler(), "POST", "/v1/workers/w1/poll", tc.body),
				http.StatusBadRequest, codeInvalid, tc.msg)
			wantNoCalls(t, b, 0)
		})
	}
}

func TestDrain(t *testing.T) {
	b := newLeader()
	h := newTestServer(t, b).Handler()
	seed(t, h)
	if w := decodeAs[client.Worker](t, do(t, h, "POST", "/v1/workers/w1/drain", ""), http.StatusOK); w.Status != "draining" {
		t.Errorf("status %s after drain", w.Status)
	}
	wantError(t, do(t, h, "POST", "/v1/workers/nope/drain", ""), http.StatusNotFound, codeNotFound, "")
}
