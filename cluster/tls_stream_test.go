package cluster

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/shepherd/shepherd/cluster/pki"
)

// testPKI is a cluster CA plus certificates of every role, and a server
// certificate of another CA.
type testPKI struct {
	roots                         *x509.CertPool
	server, worker, client, rogue tls.Certificate
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	ca, err := pki.NewCA("test cluster CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.NewCA("another CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(ca *pki.CA, role pki.Role) tls.Certificate {
		certPEM, keyPEM, err := ca.Issue(role, string(role), []string{"127.0.0.1", "localhost"}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		return pair
	}
	p := &testPKI{roots: x509.NewCertPool()}
	p.roots.AddCert(ca.Cert)
	p.server, p.worker, p.client = issue(ca, pki.RoleServer), issue(ca, pki.RoleWorker), issue(ca, pki.RoleClient)
	p.rogue = issue(other, pki.RoleServer)
	return p
}

func (p *testPKI) raftTLS() *tls.Config { return pki.MutualTLS(p.server, p.roots, pki.RoleServer) }

// TestRaftOverMutualTLS: masters with server certificates of the cluster
// CA form a cluster and replicate.
func TestRaftOverMutualTLS(t *testing.T) {
	p := newTestPKI(t)
	c := newTestClusterWith(t, 3, func(cfg *Config) { cfg.RaftTLS = p.raftTLS() })
	leader := c.waitLeader(20 * time.Second)
	want := leader.raft.AppliedIndex()
	for _, f := range c.followers(leader) {
		waitFor(t, 20*time.Second, "a follower to catch up over TLS", func() bool {
			return f.raft.AppliedIndex() >= want
		})
	}
}

// dialStream is an attacker's raft.StreamLayer: a plain listener (only so
// that NetworkTransport has one) and a dialer of our choosing.
type dialStream struct {
	net.Listener
	dial func(addr string, timeout time.Duration) (net.Conn, error)
}

func (s dialStream) Dial(a raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return s.dial(string(a), timeout)
}

func tlsDialer(cfg *tls.Config) func(string, time.Duration) (net.Conn, error) {
	return func(addr string, timeout time.Duration) (net.Conn, error) {
		return tls.DialWithDialer(&net.Dialer{Timeout: timeout}, "tcp", addr, cfg)
	}
}

func plainDialer(addr string, timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout("tcp", addr, timeout)
}

// attacker is a Raft transport that dials the victim with dial.
func attacker(t *testing.T, dial func(string, time.Duration) (net.Conn, error)) *raft.NetworkTransport {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tr := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: dialStream{Listener: ln, dial: dial}, MaxPool: 1, Timeout: 5 * time.Second,
		Logger: hclog.NewNullLogger(),
	})
	t.Cleanup(func() { tr.CloseStreams(); tr.Close() })
	return tr
}

// TestRaftRefusesIntruders: against a TLS master that leads alone, a
// plaintext dialer, a dialer without a certificate, with a worker's or a
// client's certificate of the same CA, or with a server certificate of
// another CA can neither vote (a RequestVote with a higher term would
// depose the leader) nor append entries. A real server certificate gets
// through, which shows the probe would notice.
func TestRaftRefusesIntruders(t *testing.T) {
	p := newTestPKI(t)
	cfg := testConfig(t, "m1")
	cfg.RaftTLS = p.raftTLS()
	cfg.BootstrapExpect = 1
	c := &testCluster{t: t, nodes: make(map[string]*Node), cfgs: []Config{cfg}}
	c.start(0)
	t.Cleanup(c.closeAll)
	victim := c.waitLeader(20 * time.Second)
	addr := raft.ServerAddress(victim.RaftAddr())
	term := victim.raft.CurrentTerm()

	peerTLS := func(certs ...tls.Certificate) *tls.Config {
		return &tls.Config{Certificates: certs, RootCAs: p.roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	}
	intruders := []struct {
		name string
		dial func(string, time.Duration) (net.Conn, error)
	}{
		{"plaintext", plainDialer},
		{"no certificate", tlsDialer(peerTLS())},
		{"worker certificate", tlsDialer(peerTLS(p.worker))},
		{"client certificate", tlsDialer(peerTLS(p.client))},
		{"server certificate of another CA", tlsDialer(peerTLS(p.rogue))},
	}
	for _, in := range intruders {
		t.Run(in.name, func(t *testing.T) {
			tr := attacker(t, in.dial)
			vote := &raft.RequestVoteRequest{
				RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("intruder"), Addr: []byte(tr.LocalAddr())},
				Term:      term + 10, LastLogIndex: 1 << 40, LastLogTerm: term + 10,
			}
			var vr raft.RequestVoteResponse
			if err := tr.RequestVote("m1", addr, vote, &vr); err == nil {
				t.Fatalf("RequestVote reached raft: %+v", vr)
			}
			app := &raft.AppendEntriesRequest{
				RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("intruder"), Addr: []byte(tr.LocalAddr())},
				Term:      term + 10, Leader: []byte(tr.LocalAddr()),
			}
			var ar raft.AppendEntriesResponse
			if err := tr.AppendEntries("m1", addr, app, &ar); err == nil {
				t.Fatalf("AppendEntries reached raft: %+v", ar)
			}
			if got := victim.raft.CurrentTerm(); got != term || victim.raft.State() != raft.Leader {
				t.Fatalf("intruder moved the term %d -> %d (state %v)", term, got, victim.raft.State())
			}
		})
	}

	t.Run("server certificate (control)", func(t *testing.T) {
		tr := attacker(t, tlsDialer(peerTLS(p.server)))
		vote := &raft.RequestVoteRequest{
			RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("m9"), Addr: []byte(tr.LocalAddr())},
			Term:      term, // not higher: answered, changes nothing
		}
		var vr raft.RequestVoteResponse
		if err := tr.RequestVote("m1", addr, vote, &vr); err != nil {
			t.Fatalf("a server peer was refused: %v", err)
		}
		if vr.Granted {
			t.Fatal("vote granted to a stale candidate")
		}
	})
}

// TestRaftDialRefusesWrongRoleListener: a master does not talk Raft to a
// listener that shows a worker certificate (a hijacked address).
func TestRaftDialRefusesWrongRoleListener(t *testing.T) {
	p := newTestPKI(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{p.worker}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _ = c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	tcp, err := listenTCPStream("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &securedStream{StreamLayer: tcp, tlsCfg: p.raftTLS(), max: 4, logger: hclog.NewNullLogger()}
	defer s.Close()
	if conn, err := s.Dial(raft.ServerAddress(ln.Addr().String()), 5*time.Second); err == nil {
		conn.Close()
		t.Fatal("dialed a worker-certificate listener as a Raft peer")
	}
}

// TestRaftConnectionCap: connections beyond the cap are closed at accept.
func TestRaftConnectionCap(t *testing.T) {
	tcp, err := listenTCPStream("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &securedStream{StreamLayer: tcp, max: 2, logger: hclog.NewNullLogger()}
	defer s.Close()
	accepted := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := s.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	var dialed []net.Conn
	defer func() {
		for _, c := range dialed {
			c.Close()
		}
	}()
	for range 3 {
		c, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		dialed = append(dialed, c)
	}
	first, second := <-accepted, <-accepted
	// The third is closed by the stream: its read sees EOF.
	_ = dialed[2].SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := dialed[2].Read(make([]byte, 1)); err == nil {
		t.Fatal("third connection was served")
	}
	first.Close() // frees a slot
	c4, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	dialed = append(dialed, c4)
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(10 * time.Second):
		t.Fatal("a freed slot was not reused")
	}
	second.Close()
	s.Close()
	for range accepted {
	}
}
