package monitor

import (
	"errors"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/shepherd/shepherd/cluster"
	"github.com/shepherd/shepherd/fsm"
)

// Cluster is what the hub reads of the local master's Raft node.
// *cluster.Node satisfies it. Status is called from the hub's own
// goroutines (about ten times a second), never from Observe.
type Cluster interface {
	NodeID() string
	Status() cluster.ClusterStatus
}

// RaftStatser is optionally implemented by a Cluster that exposes
// raft.Raft.Stats(); the hub then reports "last_contact" and the Raft state
// from it.
type RaftStatser interface {
	RaftStats() map[string]string
}

// Config configures a Hub. Zero fields take DefaultConfig's values.
type Config struct {
	// NodeID names this master in every event; defaults to Cluster.NodeID().
	NodeID string
	// State is the local replica, read for state.snapshot, node.metrics and
	// the workers' running lists. Required.
	State *fsm.FSM
	// Cluster, if set, feeds node.leader_changed, the Raft part of
	// node.metrics and the origins the WebSocket accepts.
	Cluster Cluster
	// Metrics, if set, is fed from the events and the cluster status.
	Metrics *Metrics
	Logger  hclog.Logger

	// Capacity is the number of events the ring holds.
	Capacity int
	// StatusInterval is how often the cluster status is polled for leader
	// changes; MetricsInterval how often node.metrics is sent.
	StatusInterval  time.Duration
	MetricsInterval time.Duration

	// PingInterval is the WebSocket keep-alive period; a client that does
	// not answer a ping within PongWait is disconnected.
	PingInterval time.Duration
	PongWait     time.Duration
	// WriteWait bounds every write to a client; a client that takes longer
	// to accept a message is disconnected.
	WriteWait time.Duration
	// ReadLimit is the largest message a client may send (they are read
	// and discarded).
	ReadLimit int64
	// CloseGrace is how long Close lets subscribers finish their close
	// handshake before it closes their connections.
	CloseGrace time.Duration
	// CheckOrigin replaces the default origin check (same origin, no
	// Origin header, or the host of a master of the cluster).
	CheckOrigin func(r *http.Request) bool
	// AllowedOrigins are further origins ("https://ops.example.com") the
	// default check accepts, for a dashboard served elsewhere
	// (--allowed-origins). "*" accepts any origin: avoid it.
	AllowedOrigins []string
}

// DefaultConfig returns the defaults; State must still be set.
func DefaultConfig() Config {
	return Config{
		Capacity:        100_000,
		StatusInterval:  100 * time.Millisecond,
		MetricsInterval: time.Second,
		PingInterval:    15 * time.Second,
		PongWait:        30 * time.Second,
		WriteWait:       10 * time.Second,
		ReadLimit:       4 << 10,
		CloseGrace:      time.Second,
	}
}

// ErrNoState is returned by NewHub without Config.State.
var ErrNoState = errors.New("monitor: config needs a State")

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Capacity <= 0 {
		c.Capacity = d.Capacity
	}
	if c.StatusInterval <= 0 {
		c.StatusInterval = d.StatusInterval
	}
	if c.MetricsInterval <= 0 {
		c.MetricsInterval = d.MetricsInterval
	}
	if c.PingInterval <= 0 {
		c.PingInterval = d.PingInterval
	}
	if c.PongWait <= 0 {
		c.PongWait = max(d.PongWait, 2*c.PingInterval)
	}
	if c.WriteWait <= 0 {
		c.WriteWait = d.WriteWait
	}
	if c.ReadLimit <= 0 {
		c.ReadLimit = d.ReadLimit
	}
	if c.CloseGrace <= 0 {
		c.CloseGrace = d.CloseGrace
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	if c.NodeID == "" && c.Cluster != nil {
		c.NodeID = c.Cluster.NodeID()
	}
	return c
}
