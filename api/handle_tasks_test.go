package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shepherd/shepherd/api/client"
)

func TestSubmitAppliesDefaults(t *testing.T) {
	b := newLeader()
	h := newTestServer(t, b).Handler()
	rec := do(t, h, "POST", "/v1/tasks", `{"name":"email.send","payload":{"to":"a@b"},"labels":{"region":"eu"}}`)
	task := decodeAs[client.Task](t, rec, http.StatusCreated)

	if task.ID != 1 || task.Name != "email.send" || task.Queue != "default" || task.Status != "pending" ||
		task.MaxAttempts != 3 || task.Timeout != "5m" || task.Labels["region"] != "eu" {
		t.Errorf("task %+v: defaults not applied", task)
	}
	if string(task.Payload) != `{"to":"a@b"}` {
		t.Errorf("payload %s", task.Payload)
	}
	if task.RunAt == nil || task.RunAt.Location() != time.UTC {
		t.Errorf("run_at %v, want a UTC time", task.RunAt)
	}
	if got := rec.Header().Get("Location"); got != "/v1/tasks/1" {
		t.Errorf("Location %q", got)
	}
	if got := rec.Header().Get(headerIndex); got != "1" {
		t.Errorf("%s %q, want 1", headerIndex, got)
	}
	if !strings.Contains(rec.Body.String(), `"lease_expires_at":null`) || !strings.Contains(rec.Body.String(), `"result":null`) {
		t.Errorf("body %s should carry null lease_expires_at and result", rec.Body)
	}
}

func TestSubmitDelayStampsRunAt(t *testing.T) {
	b := newLeader()
	s := newTestServer(t, b)
	now := b.clock()
	task := decodeAs[client.Task](t, do(t, s.Handler(), "POST", "/v1/tasks",
		`{"name":"later","delay":"1h","timeout":"30s","max_attempts":5,"priority":-3,"queue":"bulk"}`), http.StatusCreated)
	if task.Status != "scheduled" || !task.RunAt.Equal(now.Add(time.Hour)) {
		t.Errorf("status %s run_at %v, want scheduled at %v", task.Status, task.RunAt, now.Add(time.Hour))
	}
	if task.Timeout != "30s" || task.MaxAttempts != 5 || task.Priority != -3 || task.Queue != "bulk" {
		t.Errorf("task %+v", task)
	}
}

func TestSubmitIdempotencyKey(t *testing.T) {
	b := newLeader()
	h := newTestServer(t, b).Handler()
	body := `{"name":"once","idempotency_key":"k-1"}`
	first := decodeAs[client.Task](t, do(t, h, "POST", "/v1/tasks", body), http.StatusCreated)
	rec := do(t, h, "POST", "/v1/tasks", body)
	second := decodeAs[client.Task](t, rec, http.StatusOK)
	if second.ID != first.ID || second.IdempotencyKey != "k-1" {
		t.Errorf("second submit gave task %d, want %d", second.ID, first.ID)
	}
	if rec.Header().Get("Location") != "" {
		t.Error("a repeated submission must not announce a created resource")
	}
	list := decodeAs[taskList](t, do(t, h, "GET", "/v1/tasks", ""), http.StatusOK)
	if len(list.Tasks) != 1 {
		t.Errorf("%d tasks exist, want 1", len(list.Tasks))
	}
}

func TestSubmitRejectsInvalid(t *testing.T) {
	long := strings.Repeat("x", 257)
	cases := []struct{ name, body, msg string }{
		{"no name", `{"queue":"q"}`, "name is required"},
		{"long name", `{"name":"` + long + `"}`, "name is longer than 256"},
		{"max_attempts zero is default, negative not", `{"name":"a","max_attempts":-1}`, "max_attempts"},
		{"max_attempts too many", `{"name":"a","max_attempts":101}`, "max_attempts must be between 1 and 100"},
		{"bad timeout", `{"name":"a","timeout":"soon"}`, "timeout must be a positive duration"},
		{"negative timeout", `{"name":"a","timeout":"-1s"}`, "timeout"},
		{"timeout too long", `{"name":"a","timeout":"25h"}`, "at most 24h"},
		{"run_at and delay", `{"name":"a","run_at":"2030-01-01T00:00:00Z","delay":"1s"}`, "mutually exclusive"},
		{"negative delay", `{"name":"a","delay":"-5s"}`, "delay must be a non-negative"},
		{"empty label key", `{"name":"a","labels":{"":"x"}}`, "labels keys must not be empty"},
		{"no body", ``, "request body is required"},
		{"unknown field", `{"name":"a","prio":1}`, `unknown field "prio"`},
		{"wrong type", `{"name":"a","priority":"high"}`, `field "priority" must be an integer`},
		{"trailing data", `{"name":"a"} {"name":"b"}`, "single JSON value"},
		{"malformed", `{"name":`, "malformed JSON"},
		{"not an object", `[1]`, "request body must be an object, not array"},
		{"malformed run_at", `{"name":"a","run_at":"tomorrow"}`, `malformed time "tomorrow": want RFC 3339`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newLeader()
			h := newTestServer(t, b).Handler()
			wantError(t, do(t, h, "POST", "/v1/tasks", tc.body), http.StatusBadRequest, codeInvalid, tc.msg)
			wantNoCalls(t, b, 0)
		})
	}
}

func TestSubmitBatch(t *testing.T) {
	b := newLeader()
	h := newTestServer(t, b).Handler()
	out := decodeAs[client.TaskList](t, do(t, h, "POST", "/v1/tasks/batch",
		`{"tasks":[{"name":"a"},{"name":"b","queue":"q2"},{"name":"c","delay":"1m"}]}`), http.StatusCreated)
	if len(out.Tasks) != 3 || out.Tasks[0].Name != "a" || out.Tasks[1].Queue != "q2" || out.Tasks[2].Status != "scheduled" {
		t.Fatalf("batch answer %+v", out.Tasks)
	}
	if calls := b.callsMade(); len(calls) != 1 {
		t.Errorf("batch made calls %v, want one Submit", calls)
	}
}

func TestSubmitBatchAllOrNothing(t *testing.T) {
	many := "[" + strings.TrimSuffix(strings.Repeat(`{"name":"a"},`, 1001), ",") + "]"
	cases := []struct{ name, body, msg string }{
		{"one invalid", `{"tasks":[{"name":"ok"},{"queue":"q"},{"name":"ok2"}]}`, "tasks[1]: name is required"},
		{"unknown field inside", `{"tasks":[{"name":"ok","bogus":true}]}`, `unknown field "bogus"`},
		{"empty", `{"tasks":[]}`, "between 1 and 1000"},
		{"missing", `{}`, "between 1 and 1000"},
		{"too many", `{"tasks":` + many + `}`, "not 1001"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newLeader()
			h := newTestServer(t, b).Handler()
			wantError(t, do(t, h, "POST", "/v1/tasks/batch", tc.body), http.StatusBadRequest, codeInvalid, tc.msg)
			wantNoCalls(t, b, 0)
		})
	}
}

func TestGetTask(t *testing.T) {
	b := newLeader()
	h := newTestServer(t, b).Handler()
	ids := seed(t, h, "a")

	rec := do(t, h, "GET", fmt.Sprintf("/v1/tasks/%d", ids[0]), "")
	if got := decodeAs[client.Task](t, rec, http.StatusOK); got.ID != ids[0] || got.Name != "a" {
		t.Errorf("got %+v", got)
	}
	if rec.Header().Get(headerIndex) == "" {
		t.Error("read carries no index header")
	}
	wantError(t, do(t, h, "GET", "/v1/tasks/99", ""), http.StatusNotFound, codeNotFound, "task 99 not found")
	wantError(t, do(t, h, "GET", "/v1/tasks/abc", ""), http.StatusBadRequest, codeInvalid, "positive integer")
	wantError(t, do(t, h, "GET", "/v1/tasks/-1", ""), http.StatusBadRequest, codeInvalid, "positive integer")
}

func TestListTasks(t *testing.T) {
	b := newLeader()
	h := newTestServer(t, b).Handler()
	seed(t, h, "a", "b", "a", "c", "a")
	do(t, h, "POST", "/v1/tasks", `{"name":"x","queue":"other"}`)

	empty := do(t, h, "GET", "/v1/tasks?name=nothing", "")
	if body := strings.TrimSpace(empty.Body.String()); body != `{"tasks":[],"next":0}` {
		t.Errorf("empty list %s, want tasks [] and next 0", body)
	}

	cases := []struct {
		query string
		ids   []int64
		next  int64
	}{
		{"", []int64{1, 2, 3, 4, 5, 6}, 0},
		{"?name=a", []int64{1, 3, 5}, 0},
		{"?name=a&limit=2", []int64{1, 3}, 3},
		{"?name=a&limit=2&after=3", []int64{5}, 0},
		{"?queue=other", []int64{6}, 0},
		{"?status=pending&queue=default", []int64{1, 2, 3, 4, 5}, 0},
		{"?status=running", nil, 0},
		{"?limit=5000", []int64{1, 2, 3, 4, 5, 6}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			list := decodeAs[taskList](t, do(t, h, "GET", "/v1/tasks"+tc.query, ""), http.StatusOK)
			var ids []int64
			for _, task := range list.Tasks {
				ids = append(ids, task.ID)
			}
			if fmt.Sprint(ids) != fmt.Sprint(tc.ids) || list.Next != tc.next {
				t.Errorf("ids %v next %d, want %v next %d", ids, list.Next, tc.ids, tc.next)
			}
		})
	}

	bad := []struct{ query, msg string }{
		{"?status=done", "status must be one of"},
		{"?limit=0", "limit must be positive"},
		{"?limit=x", "limit must be an integer"},
		{"?after=-1", "after must not be negative"},
		{"?consistent=maybe", "consistent must be true or false"},
	}
	for _, tc := range bad {
		wantError(t, do(t, h, "GET", "/v1/tasks"+tc.query, ""), http.StatusBadRequest, codeInvalid, tc.msg)
	}
}

func TestCancelTask(t *testing.T) {
	b := newLeader()
	h := newTestServer(t, b).Handler()
	ids := seed(t, h, "a", "b")

	if got := decodeAs[client.Task](t, do(t, h, "POST", fmt.Sprintf("/v1/tasks/%d/cancel", ids[0]), ""), http.StatusOK); got.Status != "canceled" {
		t.Errorf("status %s after cancel with no body", got.Status)
	}
	if got := decodeAs[client.Task](t, do(t, h, "POST", fmt.Sprintf("/v1/tasks/%d/cancel", ids[1]), "{}"), http.StatusOK); got.Status != "canceled" {
		t.Errorf("status %s after cancel with {}", got.Status)
	}
	wantError(t, do(t, h, "POST", "/v1/tasks/99/cancel", ""), http.StatusNotFound, codeNotFound, "")

	b.resetCalls()
	index := b.state.AppliedIndex()
	wantError(t, do(t, h, "POST", "/v1/tasks/1/cancel", `{"force":true}`), http.StatusBadRequest, codeInvalid, `"force"`)
	wantNoCalls(t, b, index)
}

// leaseOne leases the next task to w1 through a poll and returns it.
func leaseOne(t *testing.T, h http.Handler) client.Task {
	t.Helper()
	out := decodeAs[client.PollResponse](t, do(t, h, "POST", "/v1/workers/w1/poll", `{"wait":"0s"}`), http.StatusOK)
	if len(out.Tasks) != 1 {
		t.Fatalf("poll leased %d tasks, want 1", len(out.Tasks))
	}
	return out.Tasks[0]
}

func TestCompleteIsFencedByAttempt(t *testing.T) {
	b := newLeader()
	h := newTestServer(t, b).Handler()
	seed(t, h, "a")
	task := leaseOne(t, h)
	path := fmt.Sprintf("/v1/tasks/%d/complete", task.ID)

	index := b.state.AppliedIndex()
	wantError(t, do(t, h, "POST", path, `{"worker_id":"w1","attempt":2,"result":1}`), http.StatusConflict, codeStaleLease, "stale lease")
	if b.state.AppliedIndex() != index+1 { // the fake applies; the fsm refuses and changes nothing
		t.Fatalf("applied index %d", b.state.AppliedIndex())
	}
	if got, _ := b.state.Task(task.ID); got.Status != "running" {
		t.Fatalf("stale completion changed the task to %s", got.Status)
	}

	body := `{"worker_id":"w1","attempt":1,"result":{"sent":true}}`
	done := decodeAs[client.Task](t, do(t, h, "POST", path, body), http.StatusOK)
	if done.Status != "completed" || string(done.Result) != `{"sent":true}` {
		t.Errorf("completed task %+v", done)
	}
	again := decodeAs[client.Task](t, do(t, h, "POST", path, body), http.StatusOK)
	if again.Status != "completed" {
		t.Errorf("repeated completion answered %+v", again)
	}
}

func TestFailRetries(t *testing.T) {
	b := newLeader()
	h := newTestServer(t, b).Handler()
	seed(t, h, "a")
	task := leaseOne(t, h)
	got := decodeAs[client.Task](t, do(t, h, "POST", fmt.Sprintf("/v1/tasks/%d/fail", task.ID),
		`{"worker_id":"w1","attempt":1,"error":"smtp down","retry":true}`), http.StatusOK)
	if got.Status != "scheduled" || got.Error != "smtp down" {
		t.Errorf("failed task %+v, want scheduled for retry", got)
	}
}

func TestReportsRejectedAtTheEdge(t *testing.T) {
	big := strings.Repeat("x", 64<<10+1)
	cases := []struct{ name, path, body, msg string }{
		{"complete without worker", "/v1/tasks/1/complete", `{"attempt":1}`, "worker_id is required"},
		{"complete attempt 0", "/v1/tasks/1/complete", `{"worker_id":"w1"}`, "attempt must be positive"},
		{"complete no body", "/v1/tasks/1/complete", ``, "request body is required"},
		{"complete bad id", "/v1/tasks/x/complete", `{"worker_id":"w1","attempt":1}`, "positive integer"},
		{"fail without worker", "/v1/tasks/1/fail", `{"attempt":1,"error":"e"}`, "worker_id is required"},
		{"fail attempt negative", "/v1/tasks/1/fail", `{"worker_id":"w1","attempt":-1}`, "attempt must be positive"},
		{"fail unknown field", "/v1/tasks/1/fail", `{"worker_id":"w1","attempt":1,"retries":2}`, `unknown field "retries"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newLeader()
			h := newTestServer(t, b).Handler()
			wantError(t, do(t, h, "POST", tc.path, tc.body), http.StatusBadRequest, codeInvalid, tc.msg)
			wantNoCalls(t, b, 0)
		})
	}
	// A result over the cap is a 413 that names the limit.
	b := newLeader()
	h := newTestServer(t, b).Handler()
	body := `{"worker_id":"w1","attempt":1,"result":"` + big + `"}`
	wantError(t, do(t, h, "POST", "/v1/tasks/1/complete", body), http.StatusRequestEntityTooLarge, codeTooLarge, "65536-byte limit")
	wantNoCalls(t, b, 0)
}

func TestBackendErrorsMapToStatuses(t *testing.T) {
	cases := []struct {
		err    error
		status int
		code   string
	}{
		{ErrNoLeader, http.StatusServiceUnavailable, codeNoLeader},
		{ErrLeadershipLost, http.StatusServiceUnavailable, codeNoLeader},
		{ErrNotLeader, http.StatusServiceUnavailable, codeNoLeader},
		{fmt.Errorf("apply: %w", ErrTimeout), http.StatusGatewayTimeout, codeTimeout},
		{fmt.Errorf("wait: %w", context.DeadlineExceeded), http.StatusGatewayTimeout, codeTimeout},
		{errors.New("disk on fire"), http.StatusInternalServerError, codeInternal},
	}
	for _, tc := range cases {
		t.Run(tc.err.Error(), func(t *testing.T) {
			b := newLeader()
			b.fail["Submit"] = tc.err
			rec := do(t, newTestServer(t, b).Handler(), "POST", "/v1/tasks", `{"name":"a"}`)
			wantError(t, rec, tc.status, tc.code, "")
			if ra := rec.Header().Get("Retry-After"); (tc.status == http.StatusServiceUnavailable) != (ra == "1") {
				t.Errorf("Retry-After %q on %d", ra, tc.status)
			}
			if tc.code == codeInternal && strings.Contains(rec.Body.String(), "disk") {
				t.Errorf("internal error leaked its detail: %s", rec.Body)
			}
		})
	}
}
