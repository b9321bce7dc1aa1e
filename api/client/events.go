package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// Event is one message of GET /v1/events (API.md, "Monitoring"). Which
// fields are set depends on Type; the others are zero.
type Event struct {
	// Index is the Raft index of the entry behind a replicated event, and
	// the index a state.snapshot reflects; 0 for node-local events.
	Index  uint64      `json:"index,omitempty"`
	Type   string      `json:"type"`
	Time   time.Time   `json:"time"`
	Node   string      `json:"node"`
	Task   *Task       `json:"task,omitempty"`
	Worker *Worker     `json:"worker,omitempty"`
	Server *ServerInfo `json:"server,omitempty"`
	Reason string      `json:"reason,omitempty"`

	// stream.reset: events after Since are no longer held (Oldest is the
	// oldest index the master holds); a state.snapshot follows.
	Since  uint64 `json:"since,omitempty"`
	Oldest uint64 `json:"oldest,omitempty"`

	// state.snapshot
	Counts  map[string]map[string]int `json:"counts,omitempty"`
	Workers []Worker                  `json:"workers,omitempty"`
	Cluster *ClusterStatus            `json:"cluster,omitempty"`

	// node.leader_changed
	Leader   *EventLeader `json:"leader,omitempty"`
	Term     uint64       `json:"term,omitempty"`
	Previous string       `json:"previous,omitempty"`

	// node.metrics
	Raft        *EventRaft                `json:"raft,omitempty"`
	Queues      map[string]map[string]int `json:"queues,omitempty"`
	Rates       *EventRates               `json:"rates,omitempty"`
	Subscribers int                       `json:"subscribers,omitempty"`
}

// Replicated reports whether the event comes from the replicated log:
// every master sends these with the same index, in the same order.
func (e Event) Replicated() bool {
	return e.Index > 0 && e.Type != "state.snapshot" && e.Type != "stream.reset"
}

// EventLeader names the leader in node.leader_changed.
type EventLeader struct {
	ID       string `json:"id"`
	HTTPAddr string `json:"http_addr"`
}

// EventRaft is the Raft part of node.metrics.
type EventRaft struct {
	State        string `json:"state"`
	Leader       string `json:"leader"`
	Term         uint64 `json:"term"`
	CommitIndex  uint64 `json:"commit_index"`
	AppliedIndex uint64 `json:"applied_index"`
	Lag          uint64 `json:"lag"`
	LastContact  string `json:"last_contact,omitempty"`
}

// EventRates are node.metrics' tasks per second.
type EventRates struct {
	Submitted float64 `json:"submitted"`
	Completed float64 `json:"completed"`
}

// EventOptions selects what an EventStream receives and where it starts.
type EventOptions struct {
	// Resume starts after index Since (0: everything the master holds);
	// without it the stream starts live.
	Resume bool
	Since  uint64
	// Snapshot asks for a state.snapshot first. A live stream that ends
	// before its first replicated event reconnects with one, so it has a
	// position to resume from.
	Snapshot bool
	// Types keeps events whose type starts with one of these prefixes.
	Types []string
	// Queue and Name drop task events of other queues / task names.
	Queue, Name string
	// ReadTimeout ends a connection that delivers nothing (not even a
	// keep-alive ping) for this long (default 45 s).
	ReadTimeout time.Duration
}

// EventStream follows GET /v1/events across the masters. When its
// connection ends (the master died, shut down, or found it too slow) it
// reconnects, to the next master unless it was only too slow, and resumes
// where it stopped. Next hands out each replicated event once, in index
// order, with no gap as long as the masters still hold the events (a
// stream.reset followed by a state.snapshot says when they did not).
//
// One Raft entry can carry several events, all with its index, so the
// stream resumes with since=<last index - 1> and skips the events of the
// last index it already delivered. An EventStream is for one goroutine.
type EventStream struct {
	c       *Client
	opts    EventOptions
	dialer  *websocket.Dialer
	masters []string // base URLs
	cur     int

	conn       *websocket.Conn
	positioned bool   // last is a resume point
	last       uint64 // highest index delivered (or a snapshot's index)
	seenAtLast int    // events delivered with index == last
	skip       int    // events of index last still to skip after a resume
	node       string // base URL of the current (or last) master
	reconnects int
	lastCode   int
	backoff    time.Duration
}

// Events returns a stream over the client's masters. Nothing connects
// until the first Next.
func (c *Client) Events(opts EventOptions) *EventStream {
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = 45 * time.Second
	}
	d := &websocket.Dialer{HandshakeTimeout: 5 * time.Second, ReadBufferSize: 16 << 10}
	if c.tlsConfig != nil {
		d.TLSClientConfig = c.tlsConfig.Clone()
	}
	return &EventStream{c: c, opts: opts, masters: c.Masters(), dialer: d,
		positioned: opts.Resume, last: opts.Since}
}

// ErrNoMasters is returned by EventStream.Next when the client has none.
var ErrNoMasters = errors.New("client: no masters to stream events from")

// Next returns the next event, connecting or reconnecting as needed. It
// fails only when ctx ends (or with ErrNoMasters).
func (s *EventStream) Next(ctx context.Context) (Event, error) {
	for {
		if s.conn == nil {
			if err := s.connect(ctx); err != nil {
				return Event{}, err
			}
		}
		ev, err := s.read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return Event{}, ctx.Err()
			}
			s.dropConn(err)
			continue
		}
		if s.accept(&ev) {
			return ev, nil
		}
	}
}

// read reads one message; ctx ending closes the connection.
func (s *EventStream) read(ctx context.Context) (Event, error) {
	stop := context.AfterFunc(ctx, func() { s.conn.Close() })
	defer stop()
	s.conn.SetReadDeadline(time.Now().Add(s.opts.ReadTimeout))
	_, data, err := s.conn.ReadMessage()
	if err != nil {
		return Event{}, err
	}
	var ev Event
	if err := json.Unmarshal(data, &ev); err != nil {
		return Event{}, fmt.Errorf("decode event: %w", err)
	}
	return ev, nil
}

// accept updates the resume point and reports whether ev is new.
func (s *EventStream) accept(ev *Event) bool {
	switch {
	case ev.Type == "state.snapshot":
		s.positioned, s.last, s.seenAtLast, s.skip = true, ev.Index, 0, 0
		s.learnMasters(ev.Cluster)
		return true
	case !ev.Replicated():
		return true
	case ev.Index < s.last:
		return false
	case ev.Index == s.last && s.skip > 0:
		s.skip--
		return false
	case ev.Index == s.last:
		s.seenAtLast++
	default:
		s.last, s.seenAtLast, s.skip = ev.Index, 1, 0
	}
	s.positioned = true
	s.backoff = 0
	return true
}

// learnMasters adds the masters a snapshot names, so the stream can fail
// over to masters the client was not given.
func (s *EventStream) learnMasters(st *ClusterStatus) {
	if st == nil {
		return
	}
	for _, srv := range st.Servers {
		if srv.HTTPAddr == "" || strings.HasPrefix(srv.HTTPAddr, ":") {
			continue
		}
		base := s.c.normalize(srv.HTTPAddr)
		known := false
		for _, m := range s.masters {
			known = known || m == base
		}
		if !known {
			s.masters = append(s.masters, base)
		}
	}
}

func (s *EventStream) dropConn(err error) {
	s.conn.Close()
	s.conn = nil
	s.reconnects++
	s.lastCode = 0
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		s.lastCode = ce.Code
	}
	// Too slow (1013): the master is fine, resume there. Anything else
	// (shutdown, a dead connection): try the next master first.
	if s.lastCode != websocket.CloseTryAgainLater {
		s.cur = (s.cur + 1) % len(s.masters)
	}
}

// connect dials the masters in turn from the current one, pausing after
// each round that found none, until one accepts or ctx ends.
func (s *EventStream) connect(ctx context.Context) error {
	if len(s.masters) == 0 {
		return ErrNoMasters
	}
	for {
		for range s.masters {
			base := s.masters[s.cur]
			conn, _, err := s.dialer.DialContext(ctx, s.url(base), s.header())
			if err == nil {
				s.conn, s.node = conn, base
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.c.logger.Debug("event stream: dial failed", "master", base, "error", err)
			s.cur = (s.cur + 1) % len(s.masters)
		}
		s.backoff = min(max(2*s.backoff, 50*time.Millisecond), 2*time.Second)
		if err := sleep(ctx, s.backoff); err != nil {
			return err
		}
	}
}

// header carries the client's token, if any.
func (s *EventStream) header() http.Header {
	if s.c.token == "" {
		return nil
	}
	return http.Header{"Authorization": {"Bearer " + s.c.token}}
}

// url is the stream's URL on base, positioned after what was delivered.
func (s *EventStream) url(base string) string {
	q := url.Values{}
	switch {
	case s.positioned && s.seenAtLast > 0:
		q.Set("since", strconv.FormatUint(s.last-1, 10))
		s.skip = s.seenAtLast
	case s.positioned:
		q.Set("since", strconv.FormatUint(s.last, 10))
		s.skip = 0
		if s.opts.Snapshot && s.reconnects == 0 {
			q.Set("snapshot", "true")
		}
	default:
		if s.opts.Snapshot || s.reconnects > 0 {
			q.Set("snapshot", "true")
		}
	}
	if len(s.opts.Types) > 0 {
		q.Set("types", strings.Join(s.opts.Types, ","))
	}
	if s.opts.Queue != "" {
		q.Set("queue", s.opts.Queue)
	}
	if s.opts.Name != "" {
		q.Set("name", s.opts.Name)
	}
	u := strings.Replace(strings.Replace(base, "https://", "wss://", 1), "http://", "ws://", 1)
	return u + "/v1/events?" + q.Encode()
}

// Master is the base URL of the master the stream reads (or last read).
func (s *EventStream) Master() string { return s.node }

// Position is the resume point: the last index delivered.
func (s *EventStream) Position() uint64 { return s.last }

// Reconnects counts the connections that ended; CloseCode is the close
// code of the last one (0 if it ended without a close frame).
func (s *EventStream) Reconnects() int { return s.reconnects }

// CloseCode is the WebSocket close code the last connection ended with.
func (s *EventStream) CloseCode() int { return s.lastCode }

// Close ends the current connection; the stream is not used afterwards.
func (s *EventStream) Close() {
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}
