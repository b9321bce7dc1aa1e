package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shepherd/shepherd/api/client"
)

// cluster is three `shepherd master` processes and one worker process.
type cluster struct {
	ids     []string
	https   []string
	masters map[string]*proc
	leader  string
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	c := &cluster{ids: []string{"m1", "m2", "m3"}, masters: map[string]*proc{}}
	for range c.ids {
		c.https = append(c.https, freeAddr(t))
	}
	for i, id := range c.ids {
		c.masters[id] = start(t, id, "master", "--id", id, "--http", c.https[i], "--raft", freeAddr(t),
			"--data", t.TempDir(), "--bootstrap-expect", "3", "--join", strings.Join(c.https, ","),
			"--raft-profile", "fast", "--log-level", "warn")
	}
	waitFor(t, 20*time.Second, "a leader", func() bool { c.leader = leaderOf(c.https[0]); return c.leader != "" })
	start(t, "w1", "worker", "--id", "w1", "--masters", strings.Join(c.https, ","), "--capacity", "8", "--log-level", "warn")
	return c
}

func (c *cluster) addr(id string) string {
	for i, m := range c.ids {
		if m == id {
			return c.https[i]
		}
	}
	return ""
}

// survivors are the HTTP addresses of the masters other than id.
func (c *cluster) survivors(id string) []string {
	var out []string
	for i, m := range c.ids {
		if m != id {
			out = append(out, c.https[i])
		}
	}
	return out
}

// kill SIGKILLs the leader and waits for another one.
func (c *cluster) killLeader(t *testing.T) string {
	t.Helper()
	old := c.leader
	c.masters[old].stop(syscall.SIGKILL)
	live := c.survivors(old)
	waitFor(t, 15*time.Second, "a new leader", func() bool {
		c.leader = leaderOf(live[0])
		return c.leader != "" && c.leader != old
	})
	return old
}

// appliedIndex is a master's applied index.
func appliedIndex(t *testing.T, addr string) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := client.New([]string{addr}).ClusterStatus(ctx)
	if err != nil {
		t.Fatalf("status of %s: %v", addr, err)
	}
	return st.AppliedIndex
}

func submitEcho(t *testing.T, c *client.Client, prefix string, n int) []int64 {
	t.Helper()
	var ids []int64
	for i := range n {
		task, _, err := c.Submit(context.Background(), client.SubmitRequest{Name: "echo",
			Payload: json.RawMessage(strconv.Itoa(i)), IdempotencyKey: fmt.Sprintf("%s-%d", prefix, i)})
		if err != nil {
			t.Fatalf("submit %s-%d: %v", prefix, i, err)
		}
		ids = append(ids, task.ID)
	}
	return ids
}

func allDone(c *client.Client, ids []int64) bool {
	for _, id := range ids {
		task, err := c.GetTask(context.Background(), id)
		if err != nil || task.Status != "completed" {
			return false
		}
	}
	return true
}

// follower is one client.EventStream and what it received.
type follower struct {
	mu         sync.Mutex
	start      uint64 // index of its state.snapshot
	seq        []string
	last       uint64
	master     string
	reconnects int
	resets     int
}

func (f *follower) run(ctx context.Context, s *client.EventStream, ready chan<- struct{}) {
	defer s.Close()
	for {
		ev, err := s.Next(ctx)
		if err != nil {
			return
		}
		f.mu.Lock()
		f.master, f.reconnects = s.Master(), s.Reconnects()
		switch {
		case ev.Type == "state.snapshot":
			if ready != nil {
				f.start, f.last = ev.Index, ev.Index
				close(ready)
				ready = nil
			}
		case ev.Type == "stream.reset":
			f.resets++
		case ev.Replicated():
			f.seq = append(f.seq, eventKey(ev))
			f.last = ev.Index
		}
		f.mu.Unlock()
	}
}

func eventKey(ev client.Event) string {
	id := ""
	switch {
	case ev.Task != nil:
		id = strconv.FormatInt(ev.Task.ID, 10)
	case ev.Worker != nil:
		id = ev.Worker.ID
	case ev.Server != nil:
		id = ev.Server.ID
	}
	return fmt.Sprintf("%d %s %s", ev.Index, ev.Type, id)
}

func keyIndex(k string) uint64 {
	n, _ := strconv.ParseUint(k[:strings.IndexByte(k, ' ')], 10, 64)
	return n
}

// window returns the events with from < index <= to.
func (f *follower) window(from, to uint64) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, k := range f.seq {
		if i := keyIndex(k); i > from && i <= to {
			out = append(out, k)
		}
	}
	return out
}

func (f *follower) lastIndex() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

func follow(t *testing.T, ctx context.Context, masters []string) *follower {
	f := &follower{}
	ready := make(chan struct{})
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		defer close(done)
		f.run(ctx, client.New(masters).Events(client.EventOptions{Snapshot: true}), ready)
	}()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-ready:
	case <-time.After(20 * time.Second):
		t.Fatalf("no state.snapshot from %v", masters)
	}
	return f
}

// TestEventSubscribersResumeAcrossLeaderKill: 100 WebSocket subscribers
// spread over the three masters while the leader is SIGKILLed mid-
// workload. Every one ends with exactly the sequence a survivor streamed.
func TestEventSubscribersResumeAcrossLeaderKill(t *testing.T) {
	c := startCluster(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	refAddr := c.survivors(c.leader)[0]
	ref := follow(t, ctx, []string{refAddr})

	const n = 100
	subs := make([]*follower, n)
	firstOf := make([]string, n)
	for i := range subs {
		// Each starts on one master and knows the others, as a dashboard
		// learns them from its first snapshot.
		first := i % 3
		masters := []string{c.https[first], c.https[(first+1)%3], c.https[(first+2)%3]}
		firstOf[i] = c.ids[first]
		subs[i] = follow(t, ctx, masters)
	}
	api := client.New(c.https, client.WithRetryBudget(20*time.Second))
	ids := submitEcho(t, api, "subs-before", 30)
	waitFor(t, 30*time.Second, "every subscriber saw the first tasks", func() bool {
		idx := appliedIndex(t, refAddr)
		for _, s := range subs {
			if s.lastIndex() < idx-5 {
				return false
			}
		}
		return true
	})
	killed := c.killLeader(t)
	t.Logf("killed leader %s; new leader %s", killed, c.leader)
	ids = append(ids, submitEcho(t, api, "subs-after", 30)...)
	waitFor(t, 60*time.Second, "every task completed", func() bool { return allDone(api, ids) })

	end := appliedIndex(t, refAddr)
	waitFor(t, 30*time.Second, fmt.Sprintf("every subscriber at index %d", end), func() bool {
		for _, s := range subs {
			if s.lastIndex() < end {
				return false
			}
		}
		return true
	})
	moved := 0
	for i, s := range subs {
		from := max(s.start, ref.start)
		want := ref.window(from, end)
		got := s.window(from, end)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("subscriber %d (started on %s, now %s): %d events, want %d; first difference %s",
				i, firstOf[i], s.master, len(got), len(want), firstDiff(got, want))
		}
		if s.resets != 0 {
			t.Errorf("subscriber %d got %d stream resets", i, s.resets)
		}
		if firstOf[i] == killed {
			moved++
			if s.reconnects == 0 || strings.HasSuffix(s.master, c.addr(killed)) {
				t.Errorf("subscriber %d still on the killed master %s (%d reconnects)", i, killed, s.reconnects)
			}
		}
	}
	if moved == 0 {
		t.Fatal("no subscriber started on the killed leader")
	}
	t.Logf("%d subscribers, %d moved off the killed leader; each has the %d events up to index %d",
		n, moved, len(ref.window(ref.start, end)), end)
}

func firstDiff(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("at %d: %q, want %q", i, got[i], want[i])
		}
	}
	return fmt.Sprintf("one is a prefix of the other (%d vs %d)", len(got), len(want))
}
