package worker

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shepherd/shepherd/api/client"
)

// newIdleWorker returns a worker that is never run, to call executors on.
func newIdleWorker(t *testing.T) *Worker {
	t.Helper()
	w, err := New(Config{Masters: []string{"127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		w.httpc.CloseIdleConnections()
		w.client.Close()
	})
	return w
}

func TestEchoExecutor(t *testing.T) {
	got, err := echoExecutor(context.Background(), client.Task{Payload: json.RawMessage(`{"a":1}`)})
	if err != nil || string(got) != `{"a":1}` {
		t.Fatalf("echo = %s, %v", got, err)
	}
}

func TestSleepExecutor(t *testing.T) {
	ctx := context.Background()
	if _, err := sleepExecutor(ctx, client.Task{Payload: json.RawMessage(`{"duration":"1ms"}`)}); err != nil {
		t.Fatal(err)
	}
	_, err := sleepExecutor(ctx, client.Task{Payload: json.RawMessage(`{"duration":"soon"}`)})
	if err == nil || IsRetryable(err) {
		t.Fatalf("bad duration: err = %v, want a non-retryable error", err)
	}

	ctx, cancel := context.WithCancel(ctx)
	cancel()
	start := time.Now()
	_, err = sleepExecutor(ctx, client.Task{Payload: json.RawMessage(`{"duration":"1h"}`)})
	if !errors.Is(err, context.Canceled) || time.Since(start) > time.Second {
		t.Fatalf("canceled sleep: err = %v after %v", err, time.Since(start))
	}
}

func TestHTTPExecutor(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo":
			b, _ := io.ReadAll(r.Body)
			w.WriteHeader(http.StatusAccepted)
			_, _ = io.WriteString(w, r.Method+" "+r.Header.Get("X-Test")+" "+string(b))
		case "/big":
			_, _ = io.WriteString(w, strings.Repeat("x", maxOutput+10))
		case "/down":
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
		case "/missing":
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	w := newIdleWorker(t)

	tests := []struct {
		name      string
		payload   string
		status    int
		body      string
		truncated bool
		err       string
		retry     bool
	}{
		{"request", `{"method":"POST","url":"` + srv.URL + `/echo","body":"hello","headers":{"X-Test":"yes"}}`,
			http.StatusAccepted, "POST yes hello", false, "", false},
		{"json body", `{"method":"PUT","url":"` + srv.URL + `/echo","body":{"a":1}}`,
			http.StatusAccepted, `PUT  {"a":1}`, false, "", false},
		{"client error completes", `{"url":"` + srv.URL + `/missing"}`, http.StatusNotFound, "404 page not found\n", false, "", false},
		{"truncated", `{"url":"` + srv.URL + `/big"}`, http.StatusOK, strings.Repeat("x", maxOutput), true, "", false},
		{"server error fails", `{"url":"` + srv.URL + `/down"}`, 0, "", false, "http status 503: overloaded", true},
		{"bad url", `{"url":"not a url"}`, 0, "", false, "bad request", false},
		{"unknown field", `{"url":"x","verb":"GET"}`, 0, "", false, "bad payload", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := w.httpExecutor(context.Background(), client.Task{Payload: json.RawMessage(tt.payload)})
			if tt.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.err) || IsRetryable(err) != tt.retry {
					t.Fatalf("err = %v (retryable %v), want %q retryable %v", err, IsRetryable(err), tt.err, tt.retry)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var res httpResult
			if err := json.Unmarshal(got, &res); err != nil {
				t.Fatal(err)
			}
			if res.Status != tt.status || res.Body != tt.body || res.Truncated != tt.truncated {
				t.Fatalf("result = status %d truncated %v body %.40q", res.Status, res.Truncated, res.Body)
			}
		})
	}
}

func TestShellOutputCapped(t *testing.T) {
	w := newIdleWorker(t)
	w.cfg.EnableShell = true
	payload := `{"command":["sh","-c","head -c 100000 /dev/zero | tr '\\0' y"]}`
	got, err := w.shellExecutor(context.Background(), client.Task{Payload: json.RawMessage(payload)})
	if err != nil {
		t.Fatal(err)
	}
	var res shellResult
	if err := json.Unmarshal(got, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Stdout) != maxOutput || res.Stdout[0] != 'y' {
		t.Fatalf("stdout has %d bytes, want %d", len(res.Stdout), maxOutput)
	}
}

func TestShellHonoursContext(t *testing.T) {
	w := newIdleWorker(t)
	w.cfg.EnableShell = true
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := w.shellExecutor(ctx, client.Task{Payload: json.RawMessage(`{"command":["sleep","10"]}`)})
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("err = %v after %v", err, time.Since(start))
	}
}
