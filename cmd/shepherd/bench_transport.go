package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// workerTraffic counts what the bench workers ask of the cluster, to show
// how well results and leases are batched.
type workerTraffic struct {
	polls       atomic.Int64 // poll round trips (redirects included)
	pollNanos   atomic.Int64 // their summed duration
	pollMax     atomic.Int64 // summed "max" the polls asked for
	pollCarried atomic.Int64 // results that rode on a poll
	completes   atomic.Int64 // results sent on their own (complete/fail)
	heartbeats  atomic.Int64
	redirects   atomic.Int64
}

// trafficStats is the JSON form of workerTraffic.
type trafficStats struct {
	Polls           int64   `json:"polls"`
	PollMeanMs      float64 `json:"poll_mean_ms"`
	PollMeanMax     float64 `json:"poll_mean_max"`
	ResultsOnPolls  int64   `json:"results_on_polls"`
	ResultsOnTheirs int64   `json:"results_sent_alone"`
	Heartbeats      int64   `json:"heartbeats"`
	Redirects       int64   `json:"redirects"`
}

// snapshot reads the counters; stats turns two snapshots into the
// figures of the interval between them.
func (w *workerTraffic) snapshot() [7]int64 {
	return [7]int64{w.polls.Load(), w.pollNanos.Load(), w.pollMax.Load(), w.pollCarried.Load(),
		w.completes.Load(), w.heartbeats.Load(), w.redirects.Load()}
}

func trafficBetween(a, b [7]int64) trafficStats {
	var d [7]int64
	for i := range d {
		d[i] = b[i] - a[i]
	}
	s := trafficStats{Polls: d[0], ResultsOnPolls: d[3], ResultsOnTheirs: d[4], Heartbeats: d[5], Redirects: d[6]}
	if s.Polls > 0 {
		s.PollMeanMs = float64(d[1]) / float64(s.Polls) / 1e6
		s.PollMeanMax = float64(d[2]) / float64(s.Polls)
	}
	return s
}

// countingTransport is an http.RoundTripper that feeds workerTraffic.
type countingTransport struct {
	next http.RoundTripper
	t    *workerTraffic
}

func (c countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	path := req.URL.Path
	isPoll := strings.HasSuffix(path, "/poll")
	switch {
	case isPoll:
		c.t.polls.Add(1)
		c.pollBody(req)
	case strings.HasSuffix(path, "/complete"), strings.HasSuffix(path, "/fail"):
		c.t.completes.Add(1)
	case strings.HasSuffix(path, "/heartbeat"):
		c.t.heartbeats.Add(1)
	}
	start := time.Now()
	resp, err := c.next.RoundTrip(req)
	if isPoll {
		c.t.pollNanos.Add(int64(time.Since(start)))
	}
	if err == nil && resp.StatusCode == http.StatusTemporaryRedirect {
		c.t.redirects.Add(1)
	}
	return resp, err
}

// pollBody reads how many tasks a poll asks for and how many results it
// carries from a copy of its body.
func (c countingTransport) pollBody(req *http.Request) {
	if req.GetBody == nil {
		return
	}
	body, err := req.GetBody()
	if err != nil {
		return
	}
	defer body.Close()
	var p struct {
		Max       int               `json:"max"`
		Completed []json.RawMessage `json:"completed"`
		Failed    []json.RawMessage `json:"failed"`
	}
	if json.NewDecoder(io.LimitReader(body, 8<<20)).Decode(&p) == nil {
		c.t.pollMax.Add(int64(p.Max))
		c.t.pollCarried.Add(int64(len(p.Completed) + len(p.Failed)))
	}
}
