package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// streamEvent is the part of a /v1/events message the check compares.
type streamEvent struct {
	Index uint64 `json:"index"`
	Type  string `json:"type"`
	Task  *struct {
		ID int64 `json:"id"`
	} `json:"task"`
}

func (e streamEvent) String() string {
	var id int64
	if e.Task != nil {
		id = e.Task.ID
	}
	return fmt.Sprintf("%d:%s:%d", e.Index, e.Type, id)
}

// eventCheck is the verdict on the masters' event streams, plus the tasks
// the streams show completed twice.
type eventCheck struct {
	check      Check
	duplicates []int64
}

// checkEvents reads every master's task events of the run's queue from
// the start of what it holds and checks that all masters sent the same
// events in the same order over the index range they all hold.
func (r *run) checkEvents(ctx context.Context) eventCheck {
	out := eventCheck{check: Check{Name: "event streams"}}
	streams := make([][]streamEvent, len(r.nodes))
	for i, n := range r.nodes {
		evs, err := readEvents(ctx, n.HTTP, r.queue)
		if errors.Is(err, errNoEvents) {
			out.check.Skipped, out.check.Pass = true, true
			out.check.Detail = "GET /v1/events is not served by " + n.ID
			return out
		}
		if err != nil {
			out.check.Detail = fmt.Sprintf("%s: %v", n.ID, err)
			return out
		}
		streams[i] = evs
	}
	// The range every master holds (a restarted master's ring starts later).
	var lo, hi uint64 = 0, ^uint64(0)
	for _, s := range streams {
		if len(s) == 0 {
			hi = 0
			continue
		}
		lo, hi = max(lo, s[0].Index), min(hi, s[len(s)-1].Index)
	}
	var ref []string
	for i, s := range streams {
		var seq []string
		for _, e := range s {
			if e.Index >= lo && e.Index <= hi {
				seq = append(seq, e.String())
			}
		}
		if i == 0 {
			ref = seq
			continue
		}
		if !slices.Equal(ref, seq) {
			at := 0
			for at < min(len(ref), len(seq)) && ref[at] == seq[at] {
				at++
			}
			out.check.Value++
			out.check.Detail += fmt.Sprintf("%s differs from %s at event %d of [%d,%d]; ", r.nodes[i].ID, r.nodes[0].ID, at, lo, hi)
		}
	}
	completed := map[int64]int{}
	for _, e := range streams[0] {
		if e.Type == "task.completed" && e.Task != nil {
			completed[e.Task.ID]++
		}
	}
	for id, n := range completed {
		if n > 1 {
			out.duplicates = append(out.duplicates, id)
		}
	}
	out.check.Pass = out.check.Value == 0
	if out.check.Pass {
		out.check.Detail = fmt.Sprintf("%d masters agree on %d task events (indexes %d-%d)", len(streams), len(ref), lo, hi)
	}
	return out
}

var errNoEvents = errors.New("no event stream")

// readEvents reads the held task events of queue from one master until
// the stream is idle for two seconds.
func readEvents(ctx context.Context, addr, queue string) ([]streamEvent, error) {
	u := url.URL{Scheme: "ws", Host: strings.TrimPrefix(addr, "http://"), Path: "/v1/events",
		RawQuery: url.Values{"since": {"0"}, "types": {"task."}, "queue": {queue}}.Encode()}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, resp, err := websocket.DefaultDialer.DialContext(dctx, u.String(), nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		if resp != nil && (resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed) {
			return nil, errNoEvents
		}
		return nil, err
	}
	defer conn.Close()
	var out []streamEvent
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, msg, err := conn.ReadMessage()
		if err != nil {
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() {
				return out, nil
			}
			return out, err
		}
		var e streamEvent
		if err := json.Unmarshal(msg, &e); err != nil {
			return out, fmt.Errorf("decode event: %w", err)
		}
		switch {
		case e.Type == "stream.reset":
			out = out[:0] // what came before is not contiguous with what follows
		case e.Index == 0 || !strings.HasPrefix(e.Type, "task."):
		default:
			out = append(out, e)
		}
	}
	return out, nil
}
