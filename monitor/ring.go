package monitor

import (
	"slices"
	"sort"
	"sync"
)

// ring holds the last events in append order. Positions are sequence
// numbers that only grow: the event at seq s lives in buf[s%len(buf)] while
// tail <= s < head. Entries are never modified after append, so a reader
// may keep the pointers it copied out after the ring moves on.
type ring struct {
	mu   sync.RWMutex
	buf  []*entry
	head uint64 // seq of the next append
	tail uint64 // seq of the oldest entry held
	// floor is the highest index whose events may no longer all be held:
	// the index of the last evicted event, or the point the hub started
	// or restored at. A resume from below floor cannot be served.
	floor uint64
}

func newRing(capacity int) *ring {
	return &ring{buf: make([]*entry, capacity)}
}

// append adds entries in order, evicting the oldest when full, and returns
// the new tail. O(1) per entry.
func (r *ring) append(es []*entry) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := uint64(len(r.buf))
	for _, e := range es {
		if r.head-r.tail == n {
			old := r.buf[r.tail%n]
			r.floor = max(r.floor, old.index)
			r.buf[r.tail%n] = nil
			r.tail++
		}
		r.buf[r.head%n] = e
		r.head++
	}
	return r.tail
}

// raiseFloor marks every event up to index as unknown to this ring.
func (r *ring) raiseFloor(index uint64) {
	r.mu.Lock()
	r.floor = max(r.floor, index)
	r.mu.Unlock()
}

// discardAll empties the ring and raises the floor to index: after a
// snapshot restore, the events held no longer connect to what follows.
func (r *ring) discardAll(index uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := uint64(len(r.buf))
	for ; r.tail < r.head; r.tail++ {
		r.floor = max(r.floor, r.buf[r.tail%n].index)
		r.buf[r.tail%n] = nil
	}
	r.floor = max(r.floor, index)
}

// recent returns up to n of the newest held entries with index <= through
// that keep accepts, oldest first.
func (r *ring) recent(n int, through uint64, keep func(*entry) bool) []*entry {
	r.mu.RLock()
	defer r.mu.RUnlock()
	size := uint64(len(r.buf))
	var out []*entry
	for s := r.head; s > r.tail && len(out) < n; s-- {
		e := r.buf[(s-1)%size]
		if e.index <= through && keep(e) {
			out = append(out, e)
		}
	}
	slices.Reverse(out)
	return out
}

// read copies up to max entries from seq cursor into dst. ok is false when
// the ring has overtaken cursor (those events are gone).
func (r *ring) read(cursor uint64, max int, dst []*entry) (_ []*entry, ok bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if cursor < r.tail {
		return dst, false
	}
	n := uint64(len(r.buf))
	for s := cursor; s < r.head && len(dst) < max; s++ {
		dst = append(dst, r.buf[s%n])
	}
	return dst, true
}

// seek returns the seq of the first event with index > since (head if
// none) and whether since is below the floor, so events after it are lost.
func (r *ring) seek(since uint64) (seq uint64, lost bool, oldest uint64) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	n := uint64(len(r.buf))
	held := int(r.head - r.tail)
	i := sort.Search(held, func(i int) bool { return r.buf[(r.tail+uint64(i))%n].index > since })
	if held > 0 {
		oldest = r.buf[r.tail%n].index
	}
	return r.tail + uint64(i), since < r.floor, oldest
}

// position returns head, the seq the next event will get.
func (r *ring) position() uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.head
}

// bounds reports the seqs held and the floor, for tests and metrics.
func (r *ring) bounds() (tail, head, floor uint64) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.tail, r.head, r.floor
}
