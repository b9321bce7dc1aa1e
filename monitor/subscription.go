package monitor

import (
	"errors"
	"sync"
	"sync/atomic"

	"github.com/gorilla/websocket"
)

// Close codes a subscription ends with.
const (
	// CodeTryAgainLater (1013) closes a subscriber the ring overtook, or
	// whose events no longer connect after a snapshot restore. It resumes
	// with since.
	CodeTryAgainLater = websocket.CloseTryAgainLater
	// CodeGoingAway (1001) closes every subscriber when the hub shuts down.
	CodeGoingAway = websocket.CloseGoingAway
)

// ErrClosed is returned by Next once the subscription ended; CloseCode
// tells why.
var ErrClosed = errors.New("monitor: subscription closed")

// localBuffer is how many node-local events wait for a subscriber; more
// are dropped for that subscriber (they are periodic or superseded).
const localBuffer = 16

// Subscription is one reader of the hub: a cursor into the ring, a
// notification channel and a small buffer of node-local events.
// Next, Notify, Local and Done are for one goroutine.
type Subscription struct {
	hub  *Hub
	opts SubscribeOptions

	cursor atomic.Uint64 // seq of the next ring entry to read
	// skipThrough: ring events with index <= skipThrough are already in
	// the state.snapshot this subscription sent.
	skipThrough uint64
	pending     [][]byte // stream.reset / state.snapshot, sent first
	scratch     []*entry

	notify chan struct{} // cap 1: "the ring grew"
	local  chan []byte   // node-local events, encoded
	done   chan struct{}

	once   sync.Once
	code   int
	reason string
}

// Notify is signalled (without blocking the hub) when events arrive.
func (s *Subscription) Notify() <-chan struct{} { return s.notify }

// Local delivers node-local events (node.leader_changed, node.metrics).
func (s *Subscription) Local() <-chan []byte { return s.local }

// Done is closed when the hub ends the subscription.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// CloseCode is the WebSocket close code and reason the subscription ended
// with; 0 while it runs.
func (s *Subscription) CloseCode() (int, string) {
	select {
	case <-s.done:
		return s.code, s.reason
	default:
		return 0, ""
	}
}

// Close ends the subscription and removes it from the hub.
func (s *Subscription) Close() {
	s.end(websocket.CloseNormalClosure, "")
	s.hub.remove(s)
}

// end closes the subscription once with the given code.
func (s *Subscription) end(code int, reason string) bool {
	ended := false
	s.once.Do(func() {
		s.code, s.reason = code, reason
		close(s.done)
		ended = true
	})
	return ended
}

// overtaken ends a subscriber the ring went past; safe from Observe.
func (s *Subscription) overtaken() {
	if s.end(CodeTryAgainLater, "too slow: resume with since") {
		s.hub.dropped()
	}
}

// Next appends to dst the next encoded messages, at most max, without
// waiting: first the stream control messages, then the ring's events that
// pass the filter. It returns no messages when it is caught up, and
// ErrClosed once the subscription ended (overtaken, restored, hub closed).
func (s *Subscription) Next(dst [][]byte, max int) ([][]byte, error) {
	select {
	case <-s.done:
		return dst, ErrClosed
	default:
	}
	for len(s.pending) > 0 && len(dst) < max {
		dst, s.pending = append(dst, s.pending[0]), s.pending[1:]
	}
	cursor := s.cursor.Load()
	for len(dst) < max {
		ents, ok := s.hub.ring.read(cursor, max-len(dst), s.scratch[:0])
		if !ok {
			s.overtaken()
			return dst, ErrClosed
		}
		if len(ents) == 0 {
			break
		}
		for _, e := range ents {
			cursor++
			if e.index > s.skipThrough && s.opts.match(e) {
				dst = append(dst, e.encode(s.hub.node))
			}
		}
		clear(ents)
		s.scratch = ents[:0]
	}
	s.cursor.Store(cursor)
	return dst, nil
}

// signal wakes the subscriber without blocking.
func (s *Subscription) signal() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// deliverLocal queues a node-local event without blocking.
func (s *Subscription) deliverLocal(typ string, msg []byte) {
	if !s.opts.wantsType(typ) {
		return
	}
	select {
	case s.local <- msg:
	default:
	}
}
