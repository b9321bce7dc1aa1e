package monitor

import (
	"bytes"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/shepherd/shepherd/fsm"
)

// BenchmarkFanout measures the delay from Observe to receipt with 100
// subscribers, at a paced event rate (entries of perEntry events every
// millisecond), and reports p50/p99/max delay. b.N is the number of
// events. "hub" reads Subscriptions in-process; "ws" runs 100 gorilla
// clients over loopback in the same process (they share the CPU).
func BenchmarkFanout(b *testing.B) {
	b.Run("hub-100k/s", func(b *testing.B) { benchFanout(b, false, 10, 10) })
	b.Run("ws-2k/s", func(b *testing.B) { benchFanout(b, true, 2, 1) })
	b.Run("ws-5k/s", func(b *testing.B) { benchFanout(b, true, 5, 1) })
	b.Run("ws-10k/s", func(b *testing.B) { benchFanout(b, true, 10, 1) })
}

func benchFanout(b *testing.B, overWS bool, perEntry, entriesPerTick int) {
	const subscribers = 100
	h, err := NewHub(Config{State: fsm.New(nil), NodeID: "m1"})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	n := max(b.N, perEntry)
	sent := make([]time.Time, n+1) // by index; written before Observe
	var mu sync.Mutex
	var delays []time.Duration
	var wg sync.WaitGroup
	record := func(local []time.Duration) {
		mu.Lock()
		delays = append(delays, local...)
		mu.Unlock()
	}
	if overWS {
		url := serveBench(b, h)
		for range subscribers {
			c, _, err := websocket.DefaultDialer.Dial(url+"?since=0", nil)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			wg.Add(1)
			go func() {
				defer wg.Done()
				local := make([]time.Duration, 0, n)
				for len(local) < n {
					_, msg, err := c.ReadMessage()
					if err != nil {
						break
					}
					local = append(local, time.Since(sent[indexOf(msg)]))
				}
				record(local)
			}()
		}
		for h.Subscribers() < subscribers {
			time.Sleep(time.Millisecond)
		}
	} else {
		for range subscribers {
			s, _ := h.Subscribe(SubscribeOptions{Resume: true})
			defer s.Close()
			wg.Add(1)
			go func() {
				defer wg.Done()
				local := make([]time.Duration, 0, n)
				var buf [][]byte
				for len(local) < n {
					buf, _ = s.Next(buf[:0], batchSize)
					now := time.Now()
					for _, msg := range buf {
						local = append(local, now.Sub(sent[indexOf(msg)]))
					}
					if len(buf) == 0 {
						select {
						case <-s.Notify():
						case <-s.Done():
							record(local)
							return
						}
					}
				}
				record(local)
			}()
		}
	}
	task := &fsm.Task{ID: 1, Name: "email.send", Queue: "default", Status: fsm.StatusCompleted, Timeout: 30 * time.Second}
	b.ResetTimer()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	index := 0
	for index < n {
		<-tick.C
		for range entriesPerTick {
			if index >= n {
				break
			}
			evs := make([]fsm.Event, 0, perEntry)
			now := time.Now()
			for range perEntry {
				if index >= n {
					break
				}
				index++
				sent[index] = now
				evs = append(evs, fsm.Event{Index: uint64(index), Type: "task.completed", Time: now, Task: task})
			}
			h.Observe(evs)
		}
	}
	wg.Wait()
	b.StopTimer()
	if len(delays) < subscribers*n {
		b.Fatalf("received %d of %d", len(delays), subscribers*n)
	}
	slices.Sort(delays)
	pct := func(p float64) float64 { return float64(delays[int(float64(len(delays)-1)*p)].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(pct(1), "max-ms")
}

// indexOf reads the index of an event message, which starts {"index":N,.
func indexOf(msg []byte) int {
	const prefix = `{"index":`
	if !bytes.HasPrefix(msg, []byte(prefix)) {
		return 0
	}
	rest := msg[len(prefix):]
	end := bytes.IndexByte(rest, ',')
	n, _ := strconv.Atoi(string(rest[:end]))
	return n
}

func serveBench(b *testing.B, h *Hub) string {
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	return "ws" + srv.URL[len("http"):]
}
