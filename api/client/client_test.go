package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newTestClient builds a client with fast retries and closes it after the test.
func newTestClient(t *testing.T, masters []string, opts ...Option) *Client {
	t.Helper()
	opts = append([]Option{WithBackoff(time.Millisecond, 5*time.Millisecond)}, opts...)
	c := New(masters, opts...)
	t.Cleanup(c.Close)
	return c
}

// server starts an httptest server and counts its requests.
func server(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, ErrorBody{Error: ErrorDetail{Code: code, Message: msg}})
}

// deadAddr returns an address that refuses connections.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestNormalize(t *testing.T) {
	c := New([]string{"127.0.0.1:8101", "http://a:1/", " https://b:2 ", ""})
	want := []string{"http://127.0.0.1:8101", "http://a:1", "https://b:2"}
	got := c.Masters()
	if len(got) != len(want) {
		t.Fatalf("masters = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("masters = %v, want %v", got, want)
		}
	}
}

func TestRedirectKeepsMethodAndBody(t *testing.T) {
	var gotMethod, gotBody string
	leader, leaderHits := server(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotMethod, gotBody = r.Method, string(b)
		writeJSON(w, http.StatusCreated, Task{ID: 7, Name: "email.send"})
	})
	follower, followerHits := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", leader.URL+r.URL.RequestURI())
		w.WriteHeader(http.StatusTemporaryRedirect)
	})
	c := newTestClient(t, []string{follower.URL})

	task, created, err := c.Submit(context.Background(), SubmitRequest{Name: "email.send", IdempotencyKey: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	if !created || task.ID != 7 {
		t.Fatalf("task = %+v created = %v", task, created)
	}
	if gotMethod != http.MethodPost {
		t.Fatalf("leader saw method %s", gotMethod)
	}
	var req SubmitRequest
	if err := json.Unmarshal([]byte(gotBody), &req); err != nil || req.Name != "email.send" || req.IdempotencyKey != "k1" {
		t.Fatalf("leader saw body %q (%v)", gotBody, err)
	}
	if c.Leader() != leader.URL {
		t.Fatalf("leader = %q, want %q", c.Leader(), leader.URL)
	}

	// The next request goes straight to the remembered leader.
	if _, _, err := c.Submit(context.Background(), SubmitRequest{Name: "x"}); err != nil {
		t.Fatal(err)
	}
	if followerHits.Load() != 1 || leaderHits.Load() != 2 {
		t.Fatalf("follower hits %d, leader hits %d", followerHits.Load(), leaderHits.Load())
	}
}

func TestTooManyRedirects(t *testing.T) {
	var srv *httptest.Server
	srv, hits := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", r.URL.RequestURI())
		w.WriteHeader(http.StatusTemporaryRedirect)
	})
	c := newTestClient(t, []string{srv.URL})
	_, err := c.GetTask(context.Background(), 1)
	if !errors.Is(err, ErrTooManyRedirects) {
		t.Fatalf("err = %v", err)
	}
	if hits.Load() != maxRedirects+1 {
		t.Fatalf("hits = %d", hits.Load())
	}
}

func TestRotateOnConnectionRefused(t *testing.T) {
	live, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, Task{ID: 1})
	})
	dead := "http://" + deadAddr(t)
	c := newTestClient(t, []string{dead, live.URL})

	if _, err := c.GetTask(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if got := c.target(); got != live.URL {
		t.Fatalf("preferred master = %q, want %q", got, live.URL)
	}
}

func TestRotateOn503(t *testing.T) {
	busy, busyHits := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "no_leader", "no leader")
	})
	var body string
	ok, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		body = string(b)
		w.WriteHeader(http.StatusOK)
	})
	c := newTestClient(t, []string{busy.URL, ok.URL})

	err := c.Complete(context.Background(), 3, CompleteRequest{WorkerID: "w1", Attempt: 2})
	if err != nil {
		t.Fatal(err)
	}
	if busyHits.Load() != 1 {
		t.Fatalf("busy hits = %d", busyHits.Load())
	}
	var req CompleteRequest
	if err := json.Unmarshal([]byte(body), &req); err != nil || req.Attempt != 2 || req.WorkerID != "w1" {
		t.Fatalf("retried body = %q", body)
	}
}

func TestRetryStopsAtDeadline(t *testing.T) {
	srv, hits := server(t, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusServiceUnavailable, "no_leader", "election in progress")
	})
	c := newTestClient(t, []string{srv.URL})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()

	start := time.Now()
	_, err := c.ClusterStatus(ctx)
	if !errors.Is(err, ErrNoLeader) {
		t.Fatalf("err = %v, want no_leader", err)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Fatalf("gave up after %v", elapsed)
	}
	if hits.Load() < 2 {
		t.Fatalf("hits = %d, want retries", hits.Load())
	}
}

func TestRetryBudgetWithoutDeadline(t *testing.T) {
	srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusGatewayTimeout, "timeout", "apply timed out")
	})
	c := newTestClient(t, []string{srv.URL}, WithRetryBudget(100*time.Millisecond))
	_, err := c.GetWorker(context.Background(), "w1")
	if !IsCode(err, "timeout") {
		t.Fatalf("err = %v", err)
	}
}

func TestErrorDecoding(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		code     string
		sentinel error
	}{
		{"stale lease", 409, `{"error":{"code":"stale_lease","message":"attempt 1 is not current"}}`, "stale_lease", ErrStaleLease},
		{"not found", 404, `{"error":{"code":"not_found","message":"no task 9"}}`, "not_found", ErrNotFound},
		{"invalid", 400, `{"error":{"code":"invalid_argument","message":"unknown field \"x\""}}`, "invalid_argument", ErrInvalidArgument},
		{"plain text", 500, "boom", "internal", nil},
		{"empty 404", 404, "", "not_found", ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, hits := server(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			})
			c := newTestClient(t, []string{srv.URL})
			err := c.Fail(context.Background(), 9, FailRequest{WorkerID: "w1", Attempt: 1, Error: "x"})
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if e.Status != tt.status || e.Code != tt.code {
				t.Fatalf("error = %+v", e)
			}
			if !IsCode(err, tt.code) {
				t.Fatalf("IsCode(%q) false", tt.code)
			}
			if tt.sentinel != nil && !errors.Is(err, tt.sentinel) {
				t.Fatalf("errors.Is(%v) false", tt.sentinel)
			}
			if hits.Load() != 1 {
				t.Fatalf("hits = %d, a client error must not be retried", hits.Load())
			}
		})
	}
	if IsNotFound(nil) || IsStaleLease(errors.New("x")) {
		t.Fatal("helpers matched a non-*Error")
	}
}

func TestSubmitDuplicateIsNotCreated(t *testing.T) {
	srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, Task{ID: 4, IdempotencyKey: "k"})
	})
	c := newTestClient(t, []string{srv.URL})
	task, created, err := c.Submit(context.Background(), SubmitRequest{Name: "n", IdempotencyKey: "k"})
	if err != nil || created || task.ID != 4 {
		t.Fatalf("task %+v created %v err %v", task, created, err)
	}
}

func TestPollOutlastsRequestTimeout(t *testing.T) {
	srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		var req PollRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Max != 2 {
			writeError(w, 400, "invalid_argument", "bad poll")
			return
		}
		select { // hold the long poll longer than the client's per-request timeout
		case <-time.After(300 * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		writeJSON(w, http.StatusOK, PollResponse{Tasks: []Task{{ID: 5, Attempt: 1}}})
	})
	c := newTestClient(t, []string{srv.URL}, WithTimeout(100*time.Millisecond))
	resp, err := c.Poll(context.Background(), "w1", PollRequest{Max: 2, Wait: "1s"})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Tasks) != 1 || resp.Tasks[0].ID != 5 {
		t.Fatalf("poll = %+v", resp)
	}
}

func TestListTasksQuery(t *testing.T) {
	var query string
	srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		query = r.URL.RawQuery
		writeJSON(w, http.StatusOK, TaskList{Tasks: []Task{{ID: 11}}, Next: 11})
	})
	c := newTestClient(t, []string{srv.URL})
	list, err := c.ListTasks(context.Background(), ListOptions{Status: "pending", Queue: "q", Limit: 10, After: 3})
	if err != nil {
		t.Fatal(err)
	}
	if query != "after=3&limit=10&queue=q&status=pending" {
		t.Fatalf("query = %q", query)
	}
	if list.Next != 11 || len(list.Tasks) != 1 {
		t.Fatalf("list = %+v", list)
	}
}

func TestNodeInfoAsksOnlyThatAddress(t *testing.T) {
	other, otherHits := server(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, NodeInfo{ID: "m1"})
	})
	target, targetHits := server(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/cluster/self" {
			http.NotFound(w, r)
			return
		}
		writeError(w, http.StatusServiceUnavailable, "no_leader", "starting")
	})
	c := newTestClient(t, []string{other.URL})
	_, err := c.NodeInfo(context.Background(), target.Listener.Addr().String())
	if !errors.Is(err, ErrNoLeader) {
		t.Fatalf("err = %v", err)
	}
	if targetHits.Load() != 1 || otherHits.Load() != 0 {
		t.Fatalf("target hits %d, other hits %d", targetHits.Load(), otherHits.Load())
	}
}

func TestJoinFollowsRedirect(t *testing.T) {
	var joined JoinRequest
	leader, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewDecoder(r.Body).Decode(&joined)
		w.WriteHeader(http.StatusOK)
	})
	follower, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", leader.URL+r.URL.RequestURI())
		w.WriteHeader(http.StatusTemporaryRedirect)
	})
	c := newTestClient(t, nil)
	err := c.Join(context.Background(), follower.URL, JoinRequest{ID: "m3", RaftAddr: "r:1", HTTPAddr: "h:1"})
	if err != nil {
		t.Fatal(err)
	}
	if joined.ID != "m3" || joined.RaftAddr != "r:1" {
		t.Fatalf("joined = %+v", joined)
	}
	if err := c.Health(context.Background(), leader.URL); err != nil {
		t.Fatal(err)
	}
}

func TestNoMasters(t *testing.T) {
	c := newTestClient(t, nil)
	if _, err := c.ListWorkers(context.Background()); err == nil {
		t.Fatal("want an error without masters")
	}
}
