package monitor

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// batchSize is how many messages a subscriber takes from the ring at once.
const batchSize = 256

// ServeHTTP serves GET /v1/events: it upgrades to a WebSocket and streams
// events as text messages, one JSON event each. Messages from the client
// are read (to answer pings and see the close) and discarded.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !websocket.IsWebSocketUpgrade(r) {
		writeError(w, http.StatusBadRequest, "invalid_argument", "GET /v1/events needs a WebSocket upgrade")
		return
	}
	opts, err := ParseQuery(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_argument", err.Error())
		return
	}
	if !h.track(1) {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "server shutting down")
		return
	}
	defer h.wg.Done()
	sub, err := h.Subscribe(opts)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", err.Error())
		return
	}
	defer sub.Close()
	hw := &hijackWrapper{ResponseWriter: w}
	conn, err := h.upgrader.Upgrade(hw, r, nil)
	if err != nil {
		return // the upgrader answered the client
	}
	h.addConn(conn)
	defer h.dropConn(conn)
	h.stream(conn, hw.conn, sub)
}

// track counts a handler in the hub's wait group unless the hub is closed.
func (h *Hub) track(n int) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.wg.Add(n)
	return true
}

func (h *Hub) addConn(c *websocket.Conn) {
	h.mu.Lock()
	h.conns[c] = struct{}{}
	h.mu.Unlock()
}

func (h *Hub) dropConn(c *websocket.Conn) {
	h.mu.Lock()
	delete(h.conns, c)
	h.mu.Unlock()
	c.Close()
}

// stream writes the subscription to conn until either side ends it.
func (h *Hub) stream(conn *websocket.Conn, bc *batchConn, sub *Subscription) {
	readDone := make(chan struct{})
	go h.readLoop(conn, readDone)
	defer func() { conn.NetConn().Close(); <-readDone }()

	ping := time.NewTicker(h.cfg.PingInterval)
	defer ping.Stop()
	var batch [][]byte
	for {
		var err error
		for {
			batch, err = sub.Next(batch[:0], batchSize)
			if err != nil || len(batch) == 0 {
				break
			}
			bc.begin()
			werr := h.writeAll(conn, batch)
			if ferr := bc.flush(time.Now().Add(h.cfg.WriteWait)); werr != nil || ferr != nil {
				return
			}
			clear(batch)
		}
		if err != nil {
			h.closeWith(conn, sub)
			return
		}
		select {
		case <-sub.Notify():
		case msg := <-sub.Local():
			if h.writeAll(conn, [][]byte{msg}) != nil {
				return
			}
		case <-sub.Done():
			h.closeWith(conn, sub)
			return
		case <-ping.C:
			if conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(h.cfg.WriteWait)) != nil {
				return
			}
		case <-readDone:
			return
		}
	}
}

func (h *Hub) writeAll(conn *websocket.Conn, msgs [][]byte) error {
	for _, m := range msgs {
		conn.SetWriteDeadline(time.Now().Add(h.cfg.WriteWait))
		if err := conn.WriteMessage(websocket.TextMessage, m); err != nil {
			return err
		}
	}
	return nil
}

// closeWith sends the close frame the subscription ended with.
func (h *Hub) closeWith(conn *websocket.Conn, sub *Subscription) {
	code, reason := sub.CloseCode()
	if code == 0 {
		code = websocket.CloseInternalServerErr
	}
	msg := websocket.FormatCloseMessage(code, reason)
	conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(h.cfg.WriteWait))
}

// readLoop discards what the client sends, answering pings (gorilla does)
// and extending the read deadline on each pong. It ends when the client
// closes, sends more than ReadLimit, or misses pongs for PongWait.
func (h *Hub) readLoop(conn *websocket.Conn, done chan<- struct{}) {
	defer close(done)
	conn.SetReadLimit(h.cfg.ReadLimit)
	conn.SetReadDeadline(time.Now().Add(h.cfg.PongWait))
	conn.SetPongHandler(func(string) error {
		return conn.SetReadDeadline(time.Now().Add(h.cfg.PongWait))
	})
	for {
		_, r, err := conn.NextReader()
		if err != nil {
			return
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			return
		}
	}
}

// checkOrigin accepts requests without an Origin (non-browser clients),
// same-origin requests, and origins on the HTTP address of a master of the
// cluster: the dashboard loaded from one master follows a failover to
// another with the first one's origin.
func (h *Hub) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, a := range h.cfg.AllowedOrigins {
		if a == "*" || strings.EqualFold(strings.TrimRight(a, "/"), origin) {
			return true
		}
	}
	ns := h.status.Load()
	if ns == nil {
		return false
	}
	for _, s := range ns.status.Servers {
		if sameHost(u.Host, s.HTTPAddr) {
			return true
		}
	}
	return false
}

// sameHost compares an origin's host:port with a master's HTTP address,
// which may carry a scheme ("http://m1:8080") or not ("m1:8080"). An
// address bound on all interfaces (":8080") matches no origin: the
// masters must advertise the address browsers use.
func sameHost(originHost, addr string) bool {
	if addr == "" {
		return false
	}
	if u, err := url.Parse(addr); err == nil && u.Host != "" {
		addr = u.Host
	}
	return strings.EqualFold(originHost, addr)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}
