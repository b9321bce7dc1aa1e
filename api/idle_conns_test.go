package api

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The client ends of the idle connections live in a child process (this
// test binary re-run as a dialer): 10,000 connections with both ends in
// one process need more descriptors than a container's hard limit allows.
const idleDialerEnv = "SHEPHERD_TEST_IDLE_DIALER"

// TestMain runs the dialer child when asked to, else the tests.
func TestMain(m *testing.M) {
	if spec := os.Getenv(idleDialerEnv); spec != "" {
		os.Exit(runIdleDialer(spec))
	}
	os.Exit(m.Run())
}

// runIdleDialer opens n connections to addr ("addr n"), half of them
// slowloris requests whose headers never end, says "ready" and holds them
// until stdin closes.
func runIdleDialer(spec string) int {
	addr, nstr, _ := strings.Cut(spec, " ")
	n, _ := strconv.Atoi(nstr)
	conns := make([]net.Conn, n)
	var wg sync.WaitGroup
	var failed atomic.Value
	const dialers = 8
	for d := range dialers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := d; i < n; i += dialers {
				c, err := net.DialTimeout("tcp", addr, 30*time.Second)
				if err != nil {
					failed.Store(err)
					return
				}
				if i%2 == 1 {
					_, _ = c.Write([]byte("GET /v1/health HTTP/1.1\r\nHost: x\r\n"))
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// TestTenThousandIdleConnections: idle and half-sent connections cost a
// goroutine each, never a slot that a real client waits for.
func TestTenThousandIdleConnections(t *testing.T) {
	const idle = 10_000
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur < idle+1024 {
		lim.Cur = min(lim.Max, idle+1024)
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur < idle+1024 {
			t.Skipf("file limit %d is too low for %d connections (%v)", lim.Cur, idle, err)
		}
	}
	s := newTestServer(t, newLeader())
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
	addr := s.Addr()

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d", idleDialerEnv, addr, idle))
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); _ = child.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("dialer: %q %v", line, err)
	}

	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for range 5 {
		start := time.Now()
		resp, err := hc.Get("http://" + addr + "/v1/health")
		if err != nil {
			t.Fatalf("with %d idle connections: %v", idle, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("health: %d", resp.StatusCode)
		}
		t.Logf("health answered in %v with %d idle connections", time.Since(start), idle)
	}
}
