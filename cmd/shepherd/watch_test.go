package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shepherd/shepherd/worker"
)

// syncBuffer is an io.Writer the test reads while watch writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lastFrame is the last complete screen watch drew.
func (b *syncBuffer) lastFrame() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	frames := strings.Split(b.buf.String(), clearScreen)
	return frames[len(frames)-1]
}

// TestWatchFollowsTheClusterAcrossFailover runs `shepherd watch` against
// a live cluster, reading the leader, then stops the leader: watch goes
// on from another master with the counts and events that follow.
func TestWatchFollowsTheClusterAcrossFailover(t *testing.T) {
	c := newLocalCluster(t, 3)
	leader := c.leader(15 * time.Second)
	c.startWorker("w1", map[string]worker.HandlerFunc{"count": okHandler})
	api := c.client()
	ctx := context.Background()

	order := []string{c.https[leader], c.https[(leader+1)%3], c.https[(leader+2)%3]}
	out := &syncBuffer{}
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- run(wctx, []string{"watch", "--masters", strings.Join(order, ","), "--interval", "100ms", "--events", "40"}, out, io.Discard)
	}()
	defer func() { cancel(); <-done }()
	ids := submitN(t, api, 10, "watch")
	waitFor(t, 20*time.Second, "10 tasks completed", func() bool { return allCompleted(ctx, api, ids) })
	leaderID := fmt.Sprintf("m%d", leader+1)
	frameShows := func(parts ...string) func() bool {
		return func() bool {
			f := out.lastFrame()
			for _, p := range parts {
				if !strings.Contains(f, p) {
					return false
				}
			}
			return true
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last frame:\n%s", out.lastFrame())
		}
	})
	waitFor(t, 10*time.Second, "a frame of the leader with the workload", frameShows("reading "+leaderID,
		"completed 10 ", "leader "+leaderID, leaderID+" *", "w1", "ready", "task.completed", "reconnects 0"))
	t.Logf("frame before the failover:\n%s", out.lastFrame())

	c.stop(leader)
	c.leader(10 * time.Second)
	more := submitN(t, api, 5, "watch-after")
	waitFor(t, 20*time.Second, "5 more tasks completed", func() bool { return allCompleted(ctx, api, more) })
	waitFor(t, 10*time.Second, "a frame from another master with every task", frameShows("completed 15 ", "reconnects 1",
		fmt.Sprintf("#%d count [default]", more[len(more)-1])))
	frame := out.lastFrame()
	t.Logf("frame after the failover:\n%s", frame)
	if strings.Contains(frame, "reading "+leaderID) {
		t.Fatalf("watch still reads the stopped master %s", leaderID)
	}
	if strings.Contains(frame, "stream resets") {
		t.Fatal("watch lost events across the failover")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("watch: %v", err)
	}
	done <- nil // for the deferred wait

	// --iterations draws that many frames and exits; --clear=false keeps
	// them apart without escape codes.
	var plain bytes.Buffer
	if err := run(ctx, []string{"watch", "--masters", strings.Join(c.https, ","), "--interval", "50ms",
		"--iterations", "2", "--clear=false"}, &plain, io.Discard); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(plain.String(), "Shepherd watch"); n != 2 || strings.Contains(plain.String(), "\x1b[") {
		t.Fatalf("--iterations 2 --clear=false drew %d frames:\n%s", n, plain.String())
	}
}
