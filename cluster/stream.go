package cluster

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// errNotAdvertisable mirrors raft's TCP transport check: peers cannot dial
// an unspecified address such as 0.0.0.0.
var errNotAdvertisable = errors.New("raft: local bind address is not advertisable")

// tcpStream is Raft's stream layer over plain TCP: a net.Listener plus a
// dialer, advertising the address peers dial. Other layers (fault
// injection, TLS) wrap a raft.StreamLayer, so they compose in any order as
// long as every master composes them the same way.
//
// Raft's NetworkTransport never closes the connections it accepted (their
// handlers block in Read until the peer hangs up), so tcpStream tracks them
// and closes them with the listener: a closed node leaves no goroutines.
type tcpStream struct {
	net.Listener
	advertise net.Addr

	mu     sync.Mutex
	closed bool
	conns  map[*trackedConn]struct{}
}

var _ raft.StreamLayer = (*tcpStream)(nil)

// listenTCPStream listens on bind; advertise nil means the bound address.
func listenTCPStream(bind string, advertise net.Addr) (*tcpStream, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, err
	}
	if advertise == nil {
		advertise = ln.Addr()
	}
	addr, ok := advertise.(*net.TCPAddr)
	if !ok || addr.IP == nil || addr.IP.IsUnspecified() {
		ln.Close()
		return nil, fmt.Errorf("%w: %s", errNotAdvertisable, advertise)
	}
	return &tcpStream{Listener: ln, advertise: advertise, conns: make(map[*trackedConn]struct{})}, nil
}

// Accept returns the next inbound connection, tracked until it closes.
func (s *tcpStream) Accept() (net.Conn, error) {
	conn, err := s.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: conn, s: s}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		conn.Close()
		return nil, net.ErrClosed
	}
	s.conns[tc] = struct{}{}
	return tc, nil
}

// Close stops listening and closes every accepted connection still open.
func (s *tcpStream) Close() error {
	err := s.Listener.Close()
	s.mu.Lock()
	s.closed = true
	conns := s.conns
	s.conns = map[*trackedConn]struct{}{}
	s.mu.Unlock()
	for c := range conns {
		c.Conn.Close()
	}
	return err
}

// trackedConn is an accepted connection that leaves tcpStream's set when
// closed.
type trackedConn struct {
	net.Conn
	s *tcpStream
}

func (c *trackedConn) Close() error {
	c.s.mu.Lock()
	delete(c.s.conns, c)
	c.s.mu.Unlock()
	return c.Conn.Close()
}

// Dial connects to a peer's Raft address.
func (s *tcpStream) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout("tcp", string(address), timeout)
}

// Addr is the advertised address, which raft hands to peers.
func (s *tcpStream) Addr() net.Addr { return s.advertise }

// openStream builds this node's Raft stream layer: TCP, wrapped in fault
// injection when the configuration enables it.
func (n *Node) openStream(advertise net.Addr) (raft.StreamLayer, error) {
	tcp, err := listenTCPStream(n.cfg.RaftAddr, advertise)
	if err != nil {
		return nil, err
	}
	if !n.cfg.EnableFaultInjection {
		return tcp, nil
	}
	n.faults = NewFaults(n.resolvePeer, n.logger.Named("faults"))
	return n.faults.Wrap(tcp), nil
}

// resolvePeer maps a server id of the Raft configuration to its address.
func (n *Node) resolvePeer(id string) (string, bool) {
	if n.raft == nil {
		return "", false
	}
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return "", false
	}
	for _, s := range f.Configuration().Servers {
		if string(s.ID) == id {
			return string(s.Address), true
		}
	}
	return "", false
}

// Faults is the node's fault injector, or nil unless the configuration
// enables fault injection.
func (n *Node) Faults() *Faults { return n.faults }
