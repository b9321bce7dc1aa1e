package monitor

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hashicorp/go-hclog"

	"github.com/shepherd/shepherd/cluster"
	"github.com/shepherd/shepherd/fsm"
)

// ErrHubClosed is returned by Subscribe after Close.
var ErrHubClosed = errors.New("monitor: hub closed")

// Hub fans the FSM's events out to subscribers. It is an fsm.Observer.
type Hub struct {
	cfg    Config
	node   string
	state  *fsm.FSM
	logger hclog.Logger
	ring   *ring

	subs     atomic.Pointer[[]*Subscription] // copy-on-write, read by Observe
	mu       sync.Mutex                      // guards subs writes, conns, started
	conns    map[*websocket.Conn]struct{}
	started  bool
	closed   bool
	closing  chan struct{}
	wg       sync.WaitGroup // background loops and connection handlers
	upgrader websocket.Upgrader

	status    atomic.Pointer[nodeStatus]
	submitted atomic.Uint64 // task.submitted events observed
	completed atomic.Uint64
}

var _ fsm.RestoreObserver = (*Hub)(nil)

// NewHub returns a hub; register it with State.AddObserver before Raft
// starts, call Start once Raft runs, and Close at shutdown.
func NewHub(cfg Config) (*Hub, error) {
	if cfg.State == nil {
		return nil, ErrNoState
	}
	cfg = cfg.withDefaults()
	h := &Hub{
		cfg: cfg, node: cfg.NodeID, state: cfg.State, logger: cfg.Logger.Named("monitor"),
		ring: newRing(cfg.Capacity), conns: map[*websocket.Conn]struct{}{}, closing: make(chan struct{}),
	}
	h.subs.Store(&[]*Subscription{})
	h.upgrader = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   1024,
		WriteBufferSize:  16 << 10,
		CheckOrigin:      h.checkOrigin,
	}
	if cfg.CheckOrigin != nil {
		h.upgrader.CheckOrigin = cfg.CheckOrigin
	}
	if cfg.Metrics != nil {
		cfg.Metrics.attach(h)
	}
	return h, nil
}

// Observe appends the events of one applied entry to the ring and wakes
// the subscribers. It runs on the apply goroutine and never waits on a
// subscriber: a subscriber the ring overtakes is ended, not waited for.
// For worker events it reads the worker's running tasks from State (a read
// lock), so the FSM must call observers outside its own lock, as it does.
// O(events + subscribers): no per-subscriber copies or encoding.
func (h *Hub) Observe(events []fsm.Event) {
	if len(events) == 0 {
		return
	}
	es := make([]*entry, len(events))
	for i := range events {
		es[i] = h.newEntry(&events[i])
	}
	tail := h.ring.append(es)
	if m := h.cfg.Metrics; m != nil {
		m.observeEvents(events)
	}
	for _, s := range *h.subs.Load() {
		if s.cursor.Load() < tail {
			s.overtaken()
		} else {
			s.signal()
		}
	}
}

func (h *Hub) newEntry(ev *fsm.Event) *entry {
	e := &entry{index: ev.Index, typ: ev.Type, time: ev.Time, task: ev.Task, server: ev.Server, reason: ev.Reason}
	switch ev.Type {
	case "task.submitted":
		h.submitted.Add(1)
	case "task.completed":
		h.completed.Add(1)
	}
	if ev.Worker != nil {
		w := *ev.Worker
		e.worker = &w
		if _, running, ok := h.state.Worker(w.ID); ok {
			e.running = running
		}
	}
	return e
}

// Restored tells the hub that the FSM replaced its state with a snapshot
// at index: the events it holds no longer connect to the ones that follow.
// It empties the ring and ends every subscriber with 1013, so each resumes
// and gets a stream.reset and a state.snapshot. Call it from the apply
// goroutine (FSM.Restore), like Observe.
func (h *Hub) Restored(index uint64) {
	h.ring.discardAll(index)
	for _, s := range *h.subs.Load() {
		s.end(CodeTryAgainLater, "replica restored a snapshot: resume with since")
	}
}

// Subscribe registers a subscriber positioned by opts.
func (h *Hub) Subscribe(opts SubscribeOptions) (*Subscription, error) {
	s := &Subscription{hub: h, opts: opts, notify: make(chan struct{}, 1),
		local: make(chan []byte, localBuffer), done: make(chan struct{})}
	if err := h.position(s); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrHubClosed
	}
	old := *h.subs.Load()
	next := make([]*Subscription, len(old), len(old)+1)
	copy(next, old)
	next = append(next, s)
	h.subs.Store(&next)
	s.signal()
	return s, nil
}

// position sets a new subscription's cursor and its first messages.
// A subscription that needs a snapshot starts right after the index the
// snapshot reflects; since the ring lags the FSM by at most the entry
// being observed, no event after that index is missed.
func (h *Hub) position(s *Subscription) error {
	opts := s.opts
	if !opts.Resume {
		s.cursor.Store(h.ring.position())
		if opts.Snapshot {
			snap, idx := h.snapshot(opts, true)
			seq, _, _ := h.ring.seek(idx)
			s.cursor.Store(seq)
			s.pending, s.skipThrough = [][]byte{snap}, idx
		}
		return nil
	}
	seq, lost, oldest := h.ring.seek(opts.Since)
	s.cursor.Store(seq)
	if !lost && !opts.Snapshot {
		return nil
	}
	if lost {
		s.pending = append(s.pending, h.resetMessage(opts.Since, oldest))
	}
	snap, idx := h.snapshot(opts, false)
	s.pending = append(s.pending, snap)
	if idx > opts.Since {
		seq, _, _ = h.ring.seek(idx)
		s.cursor.Store(seq)
		s.skipThrough = idx
	}
	return nil
}

func (h *Hub) remove(s *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	old := *h.subs.Load()
	next := make([]*Subscription, 0, len(old))
	for _, o := range old {
		if o != s {
			next = append(next, o)
		}
	}
	h.subs.Store(&next)
}

// Subscribers is the number of current subscribers.
func (h *Hub) Subscribers() int { return len(*h.subs.Load()) }

func (h *Hub) dropped() {
	if m := h.cfg.Metrics; m != nil {
		m.subscriberDropped()
	}
}

// Start begins the leader watch and the node.metrics ticker. Call it once
// the Raft node runs (Cluster.Status needs it).
func (h *Hub) Start() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.started || h.closed {
		return
	}
	h.started = true
	h.wg.Add(2)
	go func() { defer h.wg.Done(); h.watchStatus() }()
	go func() { defer h.wg.Done(); h.sendMetrics() }()
}

// Close ends every subscriber with 1001, stops the background loops and
// waits for the connection handlers; connections that do not finish their
// close within CloseGrace are cut.
func (h *Hub) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	close(h.closing)
	subs := *h.subs.Load()
	h.mu.Unlock()
	for _, s := range subs {
		s.end(CodeGoingAway, "server shutting down")
	}
	finished := make(chan struct{})
	go func() { h.wg.Wait(); close(finished) }()
	select {
	case <-finished:
		return nil
	case <-time.After(h.cfg.CloseGrace):
	}
	h.mu.Lock()
	for c := range h.conns {
		c.NetConn().Close()
	}
	h.mu.Unlock()
	<-finished
	return nil
}

// broadcastLocal sends a node-local event to every subscriber, dropping it
// for those whose buffer is full.
func (h *Hub) broadcastLocal(typ string, msg []byte) {
	for _, s := range *h.subs.Load() {
		s.deliverLocal(typ, msg)
	}
}

// nodeStatus is the last cluster status the watch loop read.
type nodeStatus struct {
	at     time.Time
	status cluster.ClusterStatus
	stats  map[string]string
}
