package cluster

import (
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/shepherd/shepherd/fsm"
)

// FaultAction is what a fault does to the Raft traffic it matches.
type FaultAction string

const (
	// FaultDrop breaks matching connections and refuses new ones, like a
	// firewall that rejects: Raft sees errors at once and redials.
	FaultDrop FaultAction = "drop"
	// FaultDelay adds latency to every matching read or write.
	FaultDelay FaultAction = "delay"
	// FaultBlackhole stalls matching traffic until the fault ends, like a
	// firewall that silently discards packets: TCP keeps the bytes, so the
	// stream resumes intact when the fault is removed, and Raft only sees
	// its own deadlines pass.
	FaultBlackhole FaultAction = "blackhole"
)

// FaultDirection says which traffic a fault affects, seen from this node.
type FaultDirection string

const (
	FaultIn   FaultDirection = "in"   // bytes this node receives from the peers
	FaultOut  FaultDirection = "out"  // bytes this node sends to the peers
	FaultBoth FaultDirection = "both" // both
)

// Limits of a fault, so that a typo cannot wedge a node for a day.
const (
	maxFaultDelay = time.Minute
	maxFaults     = 256
)

// Fault is one injected network fault on this node's Raft transport.
type Fault struct {
	ID string
	// Peers are server ids or Raft addresses; empty means every peer.
	Peers     []string
	Direction FaultDirection
	Action    FaultAction
	// Delay and Jitter (uniform, added) are the latency of FaultDelay.
	Delay  time.Duration
	Jitter time.Duration
	// Probability is the chance that one read or write is affected; 0
	// means 1.
	Probability float64
	// Duration is how long the fault lasts; 0 means until removed.
	Duration  time.Duration
	CreatedAt time.Time
	ExpiresAt time.Time // zero when Duration is 0
}

// rule is an active fault with its peers resolved to addresses.
type rule struct {
	Fault
	addrs map[string]bool // nil: every peer
}

func (r *rule) matches(peer string, dir FaultDirection) bool {
	if r.Direction != FaultBoth && r.Direction != dir {
		return false
	}
	return r.addrs == nil || r.addrs[peer]
}

// Faults injects faults into a Raft stream layer. Rules are node-local:
// each master holds its own, and a partition is made by adding matching
// rules on the masters involved. Its methods are safe for concurrent use.
type Faults struct {
	resolve func(id string) (string, bool)
	logger  hclog.Logger
	now     func() time.Time

	active  atomic.Int32 // len(rules): the fault-free path takes no lock
	mu      sync.Mutex
	rules   []rule
	seq     int
	changed chan struct{} // closed (and replaced) whenever rules change
}

// NewFaults returns an injector without rules. resolve maps a server id to
// its Raft address (nil: peers must be given as addresses).
func NewFaults(resolve func(id string) (string, bool), logger hclog.Logger) *Faults {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &Faults{resolve: resolve, logger: logger, now: time.Now, changed: make(chan struct{})}
}

// Add validates f, fills its ID, CreatedAt and ExpiresAt, and activates
// it. An invalid fault is rejected with an error wrapping fsm.ErrInvalid.
func (f *Faults) Add(fault Fault) (Fault, error) {
	r, err := f.check(fault)
	if err != nil {
		return Fault{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pruneLocked()
	if len(f.rules) >= maxFaults {
		return Fault{}, fmt.Errorf("%w: at most %d faults at once", fsm.ErrInvalid, maxFaults)
	}
	f.seq++
	r.ID = "f" + strconv.Itoa(f.seq)
	r.CreatedAt = f.now().UTC()
	if r.Duration > 0 {
		r.ExpiresAt = r.CreatedAt.Add(r.Duration)
	}
	f.rules = append(f.rules, r)
	f.changedLocked()
	f.logger.Warn("fault injected", "id", r.ID, "action", r.Action, "direction", r.Direction,
		"peers", r.Peers, "duration", r.Duration)
	return r.Fault, nil
}

func (f *Faults) check(fault Fault) (rule, error) {
	bad := func(format string, args ...any) (rule, error) {
		return rule{}, fmt.Errorf("%w: "+format, append([]any{fsm.ErrInvalid}, args...)...)
	}
	r := rule{Fault: fault}
	switch r.Action {
	case FaultDrop, FaultBlackhole:
	case FaultDelay:
		if r.Delay <= 0 || r.Delay > maxFaultDelay {
			return bad("delay must be between 0 and %s", maxFaultDelay)
		}
	default:
		return bad("action must be drop, delay or blackhole, not %q", r.Action)
	}
	switch r.Direction {
	case "":
		r.Direction = FaultBoth
	case FaultIn, FaultOut, FaultBoth:
	default:
		return bad("direction must be in, out or both, not %q", r.Direction)
	}
	switch {
	case r.Jitter < 0 || r.Jitter > maxFaultDelay:
		return bad("jitter must be between 0 and %s", maxFaultDelay)
	case r.Probability < 0 || r.Probability > 1:
		return bad("probability must be between 0 and 1")
	case r.Duration < 0:
		return bad("duration must not be negative")
	}
	if len(r.Peers) == 0 {
		return r, nil
	}
	r.Peers = slices.Clone(r.Peers)
	r.addrs = make(map[string]bool, len(r.Peers))
	for _, p := range r.Peers {
		if _, _, err := net.SplitHostPort(p); err == nil {
			r.addrs[p] = true
			continue
		}
		if f.resolve != nil {
			if addr, ok := f.resolve(p); ok {
				r.addrs[addr] = true
				continue
			}
		}
		return bad("peer %q is neither a Raft address nor a server id in the configuration", p)
	}
	return r, nil
}

// List returns the active faults, oldest first.
func (f *Faults) List() []Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pruneLocked()
	out := make([]Fault, 0, len(f.rules))
	for _, r := range f.rules {
		out = append(out, r.Fault)
	}
	return out
}

// Remove ends one fault; it reports whether the fault was active.
func (f *Faults) Remove(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pruneLocked()
	i := slices.IndexFunc(f.rules, func(r rule) bool { return r.ID == id })
	if i < 0 {
		return false
	}
	f.rules = slices.Delete(f.rules, i, i+1)
	f.changedLocked()
	f.logger.Warn("fault removed", "id", id)
	return true
}

// Clear ends every fault and returns how many were active.
func (f *Faults) Clear() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pruneLocked()
	n := len(f.rules)
	f.rules = nil
	f.changedLocked()
	if n > 0 {
		f.logger.Warn("faults cleared", "count", n)
	}
	return n
}

func (f *Faults) pruneLocked() {
	now := f.now()
	kept := f.rules[:0]
	for _, r := range f.rules {
		if r.ExpiresAt.IsZero() || now.Before(r.ExpiresAt) {
			kept = append(kept, r)
		}
	}
	if len(kept) != len(f.rules) {
		clear(f.rules[len(kept):])
		f.rules = kept
		f.changedLocked()
	}
}

func (f *Faults) changedLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
	f.active.Store(int32(len(f.rules)))
}

// verdict is what happens to one read, write or dial.
type verdict struct {
	drop  bool
	stall bool
	delay time.Duration
	// until is when the earliest stalling rule expires (zero: never);
	// changed is closed when the rules change. A stalled caller waits for
	// either, then asks again.
	until   time.Time
	changed <-chan struct{}
}

// decide applies the active rules to traffic with peer ("" when unknown:
// only rules without peers match) in direction dir.
func (f *Faults) decide(peer string, dir FaultDirection) verdict {
	if f.active.Load() == 0 {
		return verdict{}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pruneLocked()
	v := verdict{changed: f.changed}
	for i := range f.rules {
		r := &f.rules[i]
		if !r.matches(peer, dir) || (r.Probability > 0 && rand.Float64() >= r.Probability) {
			continue
		}
		switch r.Action {
		case FaultDrop:
			v.drop = true
		case FaultBlackhole:
			v.stall = true
			if !r.ExpiresAt.IsZero() && (v.until.IsZero() || r.ExpiresAt.Before(v.until)) {
				v.until = r.ExpiresAt
			}
		case FaultDelay:
			d := r.Delay
			if r.Jitter > 0 {
				d += rand.N(r.Jitter)
			}
			v.delay = max(v.delay, d)
		}
	}
	return v
}

// Wrap returns inner with the faults applied to its connections.
func (f *Faults) Wrap(inner raft.StreamLayer) raft.StreamLayer {
	return &faultStream{StreamLayer: inner, f: f, self: inner.Addr().String()}
}
