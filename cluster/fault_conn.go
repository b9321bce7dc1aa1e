package cluster

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// errFaultDrop is what a dropped read, write or dial returns.
var errFaultDrop = errors.New("connection dropped by an injected fault")

// helloMagic starts the hello a fault-injecting dialer sends first, so the
// accepting side learns which peer a connection comes from (its remote
// address is an ephemeral port). Raft's own RPC type bytes are small, so
// the accepting side tells a hello from a peer that sends none. Masters
// must enable fault injection all together or not at all: one without it
// would read the hello as an RPC and drop the connection.
const helloMagic = 0xF5

// faultStream wraps a raft.StreamLayer so that every connection passes
// through the node's fault rules.
type faultStream struct {
	raft.StreamLayer
	f    *Faults
	self string // advertised address, sent in the hello
}

// Dial honours drop and blackhole rules for the peer before dialing, then
// introduces this node with a hello.
func (s *faultStream) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	peer := string(address)
	deadline := time.Now().Add(timeout)
	for {
		v := s.f.decide(peer, FaultOut)
		if v.drop {
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errFaultDrop}
		}
		if !v.stall {
			break
		}
		if err := waitVerdict(v, deadline, nil); err != nil {
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: err}
		}
	}
	conn, err := s.StreamLayer.Dial(address, time.Until(deadline))
	if err != nil {
		return nil, err
	}
	hello := append([]byte{helloMagic, byte(len(s.self))}, s.self...)
	_ = conn.SetWriteDeadline(deadline)
	if _, err := conn.Write(hello); err != nil {
		conn.Close()
		return nil, fmt.Errorf("send hello: %w", err)
	}
	_ = conn.SetWriteDeadline(time.Time{})
	c := newFaultConn(conn, s.f, false)
	c.peer.Store(&peer)
	return c, nil
}

// Accept wraps accepted connections; their peer is known after the hello.
func (s *faultStream) Accept() (net.Conn, error) {
	conn, err := s.StreamLayer.Accept()
	if err != nil {
		return nil, err
	}
	return newFaultConn(conn, s.f, true), nil
}

// faultConn applies the rules to each Read (direction in) and Write
// (direction out). Raft reads and writes one connection from different
// goroutines; the read-side fields are touched by the reader only.
type faultConn struct {
	net.Conn
	f    *Faults
	peer atomic.Pointer[string]

	// Reader only: an accepted connection has not read its hello yet; a
	// byte read while looking for one that belongs to the stream.
	needHello bool
	pending   []byte

	closeOnce sync.Once
	closed    chan struct{}

	dlMu          sync.Mutex
	readDeadline  time.Time
	writeDeadline time.Time
}

func newFaultConn(conn net.Conn, f *Faults, accepted bool) *faultConn {
	return &faultConn{Conn: conn, f: f, needHello: accepted, closed: make(chan struct{})}
}

func (c *faultConn) peerAddr() string {
	if p := c.peer.Load(); p != nil {
		return *p
	}
	return ""
}

func (c *faultConn) Read(b []byte) (int, error) {
	if c.needHello {
		if err := c.readHello(); err != nil {
			return 0, err
		}
	}
	// Stall before reading so that a blackholed peer's bytes stay unread.
	if err := c.gate(FaultIn, true); err != nil {
		return 0, err
	}
	var n int
	var err error
	if len(c.pending) > 0 {
		n = copy(b, c.pending)
		c.pending = c.pending[n:]
	} else {
		n, err = c.Conn.Read(b)
	}
	if n > 0 {
		// A fault that began while the read was blocked applies too.
		if gerr := c.gate(FaultIn, false); gerr != nil {
			return 0, gerr
		}
	}
	return n, err
}

func (c *faultConn) Write(b []byte) (int, error) {
	if err := c.gate(FaultOut, false); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

func (c *faultConn) readHello() error {
	var first [1]byte
	if _, err := io.ReadFull(c.Conn, first[:]); err != nil {
		return err
	}
	c.needHello = false
	if first[0] != helloMagic {
		c.pending = []byte{first[0]}
		return nil
	}
	if _, err := io.ReadFull(c.Conn, first[:]); err != nil {
		return err
	}
	addr := make([]byte, first[0])
	if _, err := io.ReadFull(c.Conn, addr); err != nil {
		return err
	}
	peer := string(addr)
	c.peer.Store(&peer)
	return nil
}

// gate applies the rules once: a drop closes the connection, a blackhole
// waits until it ends (or the deadline passes, or the connection closes),
// a delay sleeps. Delays apply after the data moved (skipDelay false) so a
// delayed reader does not hold back data it has not read yet.
func (c *faultConn) gate(dir FaultDirection, skipDelay bool) error {
	for {
		v := c.f.decide(c.peerAddr(), dir)
		switch {
		case v.drop:
			c.Close()
			return &net.OpError{Op: opName(dir), Net: "tcp", Err: errFaultDrop}
		case v.stall:
			if err := waitVerdict(v, c.deadline(dir), c.closed); err != nil {
				return &net.OpError{Op: opName(dir), Net: "tcp", Err: err}
			}
		case v.delay > 0 && !skipDelay:
			return c.sleep(v.delay, dir)
		default:
			return nil
		}
	}
}

func (c *faultConn) sleep(d time.Duration, dir FaultDirection) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-c.closed:
		return &net.OpError{Op: opName(dir), Net: "tcp", Err: net.ErrClosed}
	}
}

// waitVerdict blocks until the rules change, the stalling rule expires,
// the deadline passes or closed is closed.
func waitVerdict(v verdict, deadline time.Time, closed <-chan struct{}) error {
	var expiry, dl <-chan time.Time
	if !v.until.IsZero() {
		t := time.NewTimer(time.Until(v.until))
		defer t.Stop()
		expiry = t.C
	}
	if !deadline.IsZero() {
		if time.Until(deadline) <= 0 {
			return os.ErrDeadlineExceeded
		}
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		dl = t.C
	}
	select {
	case <-v.changed:
	case <-expiry:
	case <-dl:
		return os.ErrDeadlineExceeded
	case <-closed:
		return net.ErrClosed
	}
	return nil
}

func opName(dir FaultDirection) string {
	if dir == FaultIn {
		return "read"
	}
	return "write"
}

func (c *faultConn) deadline(dir FaultDirection) time.Time {
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	if dir == FaultIn {
		return c.readDeadline
	}
	return c.writeDeadline
}

func (c *faultConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

func (c *faultConn) SetDeadline(t time.Time) error {
	c.dlMu.Lock()
	c.readDeadline, c.writeDeadline = t, t
	c.dlMu.Unlock()
	return c.Conn.SetDeadline(t)
}

func (c *faultConn) SetReadDeadline(t time.Time) error {
	c.dlMu.Lock()
	c.readDeadline = t
	c.dlMu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

func (c *faultConn) SetWriteDeadline(t time.Time) error {
	c.dlMu.Lock()
	c.writeDeadline = t
	c.dlMu.Unlock()
	return c.Conn.SetWriteDeadline(t)
}
