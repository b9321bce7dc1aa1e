package cluster

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// faultPair is two fault-injecting stream layers on loopback, a and b,
// with a connection a dialed to b and the end b accepted.
type faultPair struct {
	fa, fb         *Faults
	sa, sb         *tcpStream
	dialed, accept net.Conn
}

func newFaultPair(t *testing.T) *faultPair {
	t.Helper()
	p := &faultPair{fa: NewFaults(nil, nil), fb: NewFaults(nil, nil)}
	var err error
	if p.sa, err = listenTCPStream("127.0.0.1:0", nil); err != nil {
		t.Fatal(err)
	}
	if p.sb, err = listenTCPStream("127.0.0.1:0", nil); err != nil {
		t.Fatal(err)
	}
	la, lb := p.fa.Wrap(p.sa), p.fb.Wrap(p.sb)
	t.Cleanup(func() { la.Close(); lb.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := lb.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	if p.dialed, err = la.Dial(raft.ServerAddress(p.addrB()), time.Second); err != nil {
		t.Fatal(err)
	}
	p.accept = <-accepted
	if p.accept == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { p.dialed.Close(); p.accept.Close() })
	return p
}

func (p *faultPair) addrA() string { return p.sa.Addr().String() }

func (p *faultPair) addrB() string { return p.sb.Addr().String() }

func readN(t *testing.T, c net.Conn, n int, timeout time.Duration) (string, error) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, n)
	_, err := io.ReadFull(c, buf)
	return string(buf), err
}

func TestFaultHelloNamesThePeer(t *testing.T) {
	p := newFaultPair(t)
	if _, err := p.dialed.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if got, err := readN(t, p.accept, 4, 5*time.Second); err != nil || got != "ping" {
		t.Fatalf("read = %q, %v; want ping", got, err)
	}
	if got := p.accept.(*faultConn).peerAddr(); got != p.addrA() {
		t.Fatalf("accepted peer = %q, want %q", got, p.addrA())
	}
}

func TestFaultBlackholeStallsThenResumesIntact(t *testing.T) {
	p := newFaultPair(t)
	f, err := p.fb.Add(Fault{Action: FaultBlackhole, Direction: FaultIn, Peers: []string{p.addrA()}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.dialed.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	_, err = readN(t, p.accept, 5, 200*time.Millisecond)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read during blackhole: err = %v, want deadline exceeded", err)
	}
	if !p.fb.Remove(f.ID) {
		t.Fatal("remove reported the fault inactive")
	}
	if got, err := readN(t, p.accept, 5, 5*time.Second); err != nil || got != "hello" {
		t.Fatalf("read after heal = %q, %v; want hello", got, err)
	}
}

func TestFaultDropBreaksConnectionsAndDials(t *testing.T) {
	p := newFaultPair(t)
	if _, err := p.fa.Add(Fault{Action: FaultDrop, Direction: FaultOut, Peers: []string{p.addrB()}}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.dialed.Write([]byte("x")); !errors.Is(err, errFaultDrop) {
		t.Fatalf("write = %v, want a drop", err)
	}
	if _, err := p.fa.Wrap(p.sa).Dial(raft.ServerAddress(p.addrB()), time.Second); !errors.Is(err, errFaultDrop) {
		t.Fatalf("dial = %v, want a drop", err)
	}
	// Another peer is unaffected.
	if _, err := p.fa.Wrap(p.sa).Dial("127.0.0.1:1", 100*time.Millisecond); errors.Is(err, errFaultDrop) {
		t.Fatal("drop applied to an unrelated peer")
	}
}

func TestFaultDelayAddsLatency(t *testing.T) {
	p := newFaultPair(t)
	if _, err := p.fa.Add(Fault{Action: FaultDelay, Delay: 150 * time.Millisecond, Duration: time.Minute}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := p.dialed.Write([]byte("late")); err != nil {
		t.Fatal(err)
	}
	if got, err := readN(t, p.accept, 4, 5*time.Second); err != nil || got != "late" {
		t.Fatalf("read = %q, %v", got, err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("delivered after %v, want at least 150ms", d)
	}
}

func TestFaultValidationAndExpiry(t *testing.T) {
	f := NewFaults(func(id string) (string, bool) { return "10.0.0.2:7201", id == "m2" }, nil)
	bad := []Fault{
		{Action: "explode"},
		{Action: FaultDelay},
		{Action: FaultDrop, Direction: "sideways"},
		{Action: FaultDrop, Probability: 2},
		{Action: FaultDrop, Duration: -time.Second},
		{Action: FaultDrop, Peers: []string{"m9"}},
	}
	for _, b := range bad {
		if _, err := f.Add(b); err == nil {
			t.Errorf("Add(%+v) accepted an invalid fault", b)
		}
	}
	got, err := f.Add(Fault{Action: FaultDrop, Peers: []string{"m2"}, Duration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if got.Direction != FaultBoth || got.ExpiresAt.IsZero() || got.ID == "" {
		t.Fatalf("added fault = %+v", got)
	}
	if v := f.decide("10.0.0.2:7201", FaultIn); !v.drop {
		t.Fatal("fault by server id does not match its address")
	}
	f.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	if n := len(f.List()); n != 0 {
		t.Fatalf("%d faults after expiry, want 0", n)
	}
}

// TestFaultsPartitionLeader isolates a real leader with drop rules on
// every node, waits for the majority to elect another, then heals.
func TestFaultsPartitionLeader(t *testing.T) {
	c := newTestClusterWith(t, 3, func(cfg *Config) { cfg.EnableFaultInjection = true })
	leader := c.waitLeader(20 * time.Second)
	for _, n := range c.live() {
		var peers []string
		if n == leader {
			for _, o := range c.followers(leader) {
				peers = append(peers, o.cfg.ID)
			}
		} else {
			peers = []string{leader.cfg.ID}
		}
		if _, err := n.Faults().Add(Fault{Action: FaultDrop, Peers: peers, Duration: time.Minute}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 20*time.Second, "a leader on the majority side", func() bool {
		for _, n := range c.followers(leader) {
			if n.IsLeader() {
				return true
			}
		}
		return false
	})
	for _, n := range c.live() {
		n.Faults().Clear()
	}
	waitFor(t, 20*time.Second, "the old leader to follow", func() bool {
		id, _, ok := leader.Leader()
		return ok && id != leader.cfg.ID && !leader.IsLeader()
	})
}
