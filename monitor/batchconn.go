package monitor

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// batchConn lets the stream write a batch of WebSocket frames with one
// system call: between begin and flush, writes are buffered. Outside a
// batch (the handshake, pongs and pings written from other goroutines) it
// writes through. gorilla serializes its own writes; mu orders them with
// flush.
type batchConn struct {
	net.Conn
	mu       sync.Mutex
	buf      []byte
	batching bool
}

// maxKeptBuffer bounds the buffer kept between batches.
const maxKeptBuffer = 1 << 20

func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.batching {
		c.buf = append(c.buf, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func (c *batchConn) begin() {
	c.mu.Lock()
	c.batching = true
	c.mu.Unlock()
}

// flush writes the batch, bounded by deadline.
func (c *batchConn) flush(deadline time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batching = false
	if len(c.buf) == 0 {
		return nil
	}
	c.Conn.SetWriteDeadline(deadline)
	_, err := c.Conn.Write(c.buf)
	if cap(c.buf) > maxKeptBuffer {
		c.buf = nil
	} else {
		c.buf = c.buf[:0]
	}
	return err
}

// hijackWrapper hands the upgrader a batchConn instead of the raw one.
type hijackWrapper struct {
	http.ResponseWriter
	conn *batchConn
}

func (w *hijackWrapper) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("monitor: response writer cannot hijack")
	}
	c, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.conn = &batchConn{Conn: c}
	return w.conn, brw, nil
}
