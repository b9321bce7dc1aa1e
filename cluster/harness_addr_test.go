package cluster

import (
	"net"
	"testing"
)

// The harness re-picks a fresh node's Raft port when another process took
// it first; that needs Open's error to keep EADDRINUSE.
func TestOpenReportsAddressInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg := testConfig(t, "m1")
	cfg.RaftAddr, cfg.BootstrapExpect = l.Addr().String(), 1
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = n.Open()
	_ = n.Close()
	if !isAddrInUse(err) {
		t.Fatalf("open on a taken port: %v, want EADDRINUSE", err)
	}
}
