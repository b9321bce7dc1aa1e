package cluster

import (
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// DefaultMaxRaftConns caps inbound Raft connections when the configuration
// names no cap. A master has a handful of pooled connections per peer, so
// this is far above normal use and far below what exhausts descriptors.
const DefaultMaxRaftConns = 256

// raftHandshakeTimeout bounds a peer's TLS handshake: a connection that
// sends nothing (or plaintext that never completes a record) is dropped.
const raftHandshakeTimeout = 10 * time.Second

// maxRaftConnsPerIP caps inbound Raft connections from one address, so
// that one host (a scanner, a misbehaving client) cannot take every slot
// from the real peers.
const maxRaftConnsPerIP = 64

// securedStream wraps a raft.StreamLayer (TCP, or TCP wrapped in fault
// injection) in a cap on inbound connections and, when tlsCfg is set,
// mutual TLS: both ends must present a certificate of the cluster CA with
// the server role (pki.MutualTLS), so a worker or client certificate from
// the same CA, a plaintext dial or a forged RPC never reaches Raft.
//
// The server side handshakes lazily, in the first Read or Write of the
// connection, which NetworkTransport makes on the connection's own
// goroutine: a slow or silent dialer never holds up Accept.
type securedStream struct {
	raft.StreamLayer
	tlsCfg  *tls.Config // nil: plain (only the cap applies)
	max     int64
	open    atomic.Int64
	refused atomic.Int64
	logger  hclog.Logger

	mu   sync.Mutex
	byIP map[string]int // open connections per remote IP
}

// secureStream composes the cap and, if configured, mTLS around inner.
func (n *Node) secureStream(inner raft.StreamLayer) raft.StreamLayer {
	max := n.cfg.MaxRaftConns
	if max <= 0 {
		max = DefaultMaxRaftConns
	}
	if n.cfg.RaftTLS == nil {
		n.logger.Warn("raft transport is plaintext: set a certificate and CA for mutual TLS in production")
	}
	return &securedStream{StreamLayer: inner, tlsCfg: n.cfg.RaftTLS, max: int64(max), logger: n.logger.Named("raft-tls")}
}

// Accept returns the next connection within the cap; connections over it
// are closed at once.
func (s *securedStream) Accept() (net.Conn, error) {
	for {
		conn, err := s.StreamLayer.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteIP(conn)
		if !s.admit(ip) {
			if s.refused.Add(1)%100 == 1 {
				s.logger.Warn("raft connection limit reached; refusing connections", "limit", s.max,
					"per-ip-limit", maxRaftConnsPerIP, "remote", conn.RemoteAddr().String())
			}
			conn.Close()
			continue
		}
		counted := &countedConn{Conn: conn, release: func() { s.release(ip) }}
		if s.tlsCfg == nil {
			return counted, nil
		}
		return &serverTLSConn{Conn: tls.Server(counted, s.tlsCfg), logger: s.logger}, nil
	}
}

// Dial connects and completes the TLS handshake (verifying the peer is a
// server) before Raft sends a byte.
func (s *securedStream) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	start := time.Now()
	conn, err := s.StreamLayer.Dial(address, timeout)
	if err != nil || s.tlsCfg == nil {
		return conn, err
	}
	tc := tls.Client(conn, s.tlsCfg)
	if timeout <= 0 {
		timeout = raftHandshakeTimeout
	}
	_ = tc.SetDeadline(start.Add(timeout))
	if err := tc.Handshake(); err != nil {
		tc.Close()
		s.logger.Warn("refusing raft peer", "address", string(address), "error", err)
		return nil, err
	}
	_ = tc.SetDeadline(time.Time{})
	return tc, nil
}

// admit counts a new connection from ip unless a cap is reached.
func (s *securedStream) admit(ip string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open.Load() >= s.max || s.byIP[ip] >= maxRaftConnsPerIP {
		return false
	}
	if s.byIP == nil {
		s.byIP = make(map[string]int)
	}
	s.byIP[ip]++
	s.open.Add(1)
	return true
}

func (s *securedStream) release(ip string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byIP[ip]--; s.byIP[ip] <= 0 {
		delete(s.byIP, ip)
	}
	s.open.Add(-1)
}

func remoteIP(c net.Conn) string {
	addr := c.RemoteAddr().String()
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// countedConn releases its slot once, when closed.
type countedConn struct {
	net.Conn
	release func()
	once    sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// serverTLSConn handshakes on first use, under raftHandshakeTimeout. A
// failed handshake (plaintext, no certificate, wrong CA or role) closes
// the connection: Raft's handler sees an error and drops it.
type serverTLSConn struct {
	*tls.Conn
	logger hclog.Logger
	once   sync.Once
	err    error
}

func (c *serverTLSConn) handshake() error {
	c.once.Do(func() {
		_ = c.Conn.SetDeadline(time.Now().Add(raftHandshakeTimeout))
		if c.err = c.Conn.Handshake(); c.err != nil {
			c.logger.Warn("refusing raft peer", "remote", c.Conn.RemoteAddr().String(), "error", c.err)
			c.Conn.Close()
			return
		}
		c.err = c.Conn.SetDeadline(time.Time{})
	})
	return c.err
}

func (c *serverTLSConn) Read(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

func (c *serverTLSConn) Write(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}
