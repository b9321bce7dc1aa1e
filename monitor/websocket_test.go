package monitor

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/shepherd/shepherd/fsm"
)

func serve(t *testing.T, h *Hub) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

func dial(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", url, err, resp)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func readMsg(t *testing.T, c *websocket.Conn) wireMsg {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, b, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return decode(t, b)
}

func closeCode(t *testing.T, c *websocket.Conn) int {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code
			}
			t.Fatalf("connection ended without a close frame: %v", err)
		}
	}
}

func TestWebSocketStreamsResumesAndClosesGoingAway(t *testing.T) {
	e := newEnv(t, Config{})
	url := serve(t, e.hub)
	e.register("w1")
	e.submit("a", "q")

	c := dial(t, url+"?since=0&types=task.")
	if m := readMsg(t, c); m.Index != 2 || m.Type != "task.submitted" {
		t.Fatalf("first message %s", m.raw)
	}
	e.submit("b", "q")
	if m := readMsg(t, c); m.Index != 3 {
		t.Fatalf("live message %s", m.raw)
	}
	c.Close()

	e.submit("c", "q")
	e.submit("d", "q")
	r := dial(t, url+"?since=3")
	for _, want := range []uint64{4, 5} {
		if m := readMsg(t, r); m.Index != want {
			t.Fatalf("resumed message %s, want index %d", m.raw, want)
		}
	}
	waitFor(t, "one subscriber", func() bool { return e.hub.Subscribers() == 1 })
	e.hub.Close()
	if code := closeCode(t, r); code != websocket.CloseGoingAway {
		t.Fatalf("close code on shutdown = %d, want 1001", code)
	}
	if _, resp, err := websocket.DefaultDialer.Dial(url, nil); err == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial after close: %v %v", err, resp)
	}
}

func TestWebSocketSlowClientIsClosedWith1013(t *testing.T) {
	m := NewMetrics(nil)
	h, err := NewHub(Config{State: fsm.New(nil), NodeID: "m1", Capacity: 64, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	c := dial(t, serve(t, h))
	waitFor(t, "subscriber", func() bool { return h.Subscribers() == 1 })

	// The client does not read: socket buffers fill, the hub's writer
	// blocks, the ring overtakes it. Observe must not notice.
	payload, _ := json.Marshal(strings.Repeat("x", 32<<10))
	task := &fsm.Task{ID: 1, Name: "n", Queue: "q", Payload: payload}
	start := time.Now()
	for i := uint64(1); counterValue(t, m, "shepherd_event_subscribers_dropped_total") == 0; i++ {
		for j := range uint64(64) {
			h.Observe([]fsm.Event{{Index: i*64 + j, Type: "task.progress", Time: t0, Task: task}})
		}
		if time.Since(start) > 20*time.Second {
			t.Fatal("slow subscriber never dropped")
		}
	}
	if code := closeCode(t, c); code != CodeTryAgainLater {
		t.Fatalf("close code = %d, want 1013", code)
	}
}

func TestWebSocketKeepAlive(t *testing.T) {
	e := newEnv(t, Config{PingInterval: 20 * time.Millisecond, PongWait: 200 * time.Millisecond})
	c := dial(t, serve(t, e.hub))
	pings := make(chan struct{}, 10)
	c.SetPingHandler(func(string) error {
		select {
		case pings <- struct{}{}:
		default:
		}
		return c.WriteControl(websocket.PongMessage, nil, time.Now().Add(time.Second))
	})
	go func() {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}()
	for range 3 {
		select {
		case <-pings:
		case <-time.After(5 * time.Second):
			t.Fatal("no ping")
		}
	}
	// Answering pings kept it open well past PongWait.
	if e.hub.Subscribers() != 1 {
		t.Fatal("client answering pings was dropped")
	}
}

func TestWebSocketReadLimitClosesConnection(t *testing.T) {
	e := newEnv(t, Config{ReadLimit: 64})
	c := dial(t, serve(t, e.hub))
	c.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("y", 1000)))
	waitFor(t, "subscriber gone", func() bool { return e.hub.Subscribers() == 0 })
}

func TestWebSocketRejectsBadRequests(t *testing.T) {
	e := newEnv(t, Config{})
	url := serve(t, e.hub)
	if _, resp, err := websocket.DefaultDialer.Dial(url+"?since=x", nil); err == nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad since: %v %v", err, resp)
	}
	hdr := http.Header{"Origin": {"http://evil.example"}}
	if _, resp, err := websocket.DefaultDialer.Dial(url, hdr); err == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: %v %v", err, resp)
	}
	resp, err := http.Get("http" + strings.TrimPrefix(url, "ws"))
	if err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("plain GET: %v %v", err, resp)
	}
	resp.Body.Close()
}

func TestCheckOriginAcceptsClusterMasters(t *testing.T) {
	fc := &fakeCluster{id: "m1"}
	fc.set("m1", 1)
	e := newEnv(t, Config{Cluster: fc, StatusInterval: 5 * time.Millisecond})
	e.hub.Start()
	waitFor(t, "status", func() bool { return e.hub.status.Load() != nil })
	tests := []struct {
		origin string
		ok     bool
	}{
		{"", true},
		{"http://self.example:9000", true},
		{"http://127.0.0.1:7001", true},
		{"http://m2.example:7002", true},
		{"http://m2.example:7003", false},
		{"http://evil.example", false},
		{"null", false},
	}
	for _, tc := range tests {
		r := httptest.NewRequest(http.MethodGet, "http://self.example:9000/v1/events", nil)
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		if got := e.hub.checkOrigin(r); got != tc.ok {
			t.Errorf("origin %q: %v, want %v", tc.origin, got, tc.ok)
		}
	}
}
