package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// Discovery reaches other masters at start-up. The composition root
// implements it over HTTP; the package itself knows no HTTP.
type Discovery interface {
	// NodeInfo asks the master at an HTTP address who it is.
	NodeInfo(ctx context.Context, httpAddr string) (NodeInfo, error)
	// Join asks the master at an HTTP address (any: followers redirect to
	// the leader) to add self to the cluster. Joining twice is harmless.
	Join(ctx context.Context, httpAddr string, self NodeInfo) error
}

// Config configures a Node. Start from DefaultConfig.
type Config struct {
	ID       string
	RaftAddr string // bind address of the Raft TCP transport
	// RaftAdvertise is the address peers dial; defaults to RaftAddr.
	RaftAdvertise string
	HTTPAddr      string // this master's HTTP address, as clients reach it
	DataDir       string

	// BootstrapExpect is the number of masters to wait for before all of
	// them bootstrap the same configuration; 0 means only join.
	BootstrapExpect int
	// Join lists other masters' HTTP addresses.
	Join      []string
	Discovery Discovery

	// NonVoter makes this master a read replica: it joins as a Raft
	// nonvoter (it never votes or leads). It needs Join, not bootstrap.
	NonVoter bool
	// DeadServerCleanup, when positive, lets the leader remove a server
	// unreachable for longer than this, if quorum allows.
	DeadServerCleanup time.Duration

	// RaftProfile is "default" or "fast" (LAN timings, ~300 ms).
	RaftProfile string

	// HeartbeatInterval is what workers are told; HeartbeatTTL is how long
	// a silent worker stays ready.
	HeartbeatInterval time.Duration
	HeartbeatTTL      time.Duration
	// UnknownLeaseGrace is how long a lease may be missing from its
	// worker's heartbeats before it is requeued (a lost poll answer).
	UnknownLeaseGrace time.Duration
	// LeaderGrace delays lease expiry after a leadership gain, so that a
	// clock skew between old and new leader does not expire live leases.
	LeaderGrace time.Duration
	// StatsInterval is how often heartbeat statistics are replicated.
	StatsInterval time.Duration
	// RetryBaseDelay and RetryMaxDelay bound the retry backoff.
	RetryBaseDelay time.Duration
	RetryMaxDelay  time.Duration

	SnapshotThreshold uint64
	SnapshotInterval  time.Duration

	// Semantics configures dispatch policy, schedules and retention.
	Semantics SemanticsConfig

	// EnableFaultInjection wraps the Raft transport in a fault injector
	// (Node.Faults) for chaos testing. Enable it on all masters or none.
	EnableFaultInjection bool

	// RaftTLS, when set, runs the Raft transport over mutual TLS
	// (tls_stream.go); build it with pki.MutualTLS or pki.LoadMutualTLS.
	// Set it on all masters or none.
	RaftTLS *tls.Config
	// MaxRaftConns caps inbound Raft connections (default
	// DefaultMaxRaftConns).
	MaxRaftConns int

	Logger hclog.Logger
	// ApplyObserver, when set, is told how long each committed write took.
	ApplyObserver func(time.Duration)
}

// DefaultConfig returns a configuration with production defaults.
func DefaultConfig() Config {
	return Config{
		RaftProfile:       "default",
		HeartbeatInterval: time.Second,
		HeartbeatTTL:      10 * time.Second,
		UnknownLeaseGrace: 5 * time.Second,
		LeaderGrace:       2 * time.Second,
		StatsInterval:     5 * time.Second,
		RetryBaseDelay:    time.Second,
		RetryMaxDelay:     5 * time.Minute,
		SnapshotThreshold: 8192,
		SnapshotInterval:  2 * time.Minute,
		Semantics:         DefaultSemanticsConfig(),
	}
}

// Validate reports the first problem with the configuration.
func (c Config) Validate() error {
	switch {
	case c.ID == "":
		return errors.New("config: id is required")
	case c.RaftAddr == "":
		return errors.New("config: raft address is required")
	case c.HTTPAddr == "":
		return errors.New("config: http address is required")
	case c.DataDir == "":
		return errors.New("config: data dir is required")
	case c.BootstrapExpect < 0:
		return errors.New("config: bootstrap-expect must not be negative")
	case c.BootstrapExpect != 1 && len(c.Join) > 0 && c.Discovery == nil:
		return errors.New("config: join needs a discovery implementation")
	case c.BootstrapExpect == 0 && len(c.Join) == 0:
		return errors.New("config: need bootstrap-expect or join addresses")
	case c.BootstrapExpect > 1 && len(c.Join) == 0:
		return errors.New("config: bootstrap-expect above 1 needs join addresses")
	case c.HeartbeatInterval <= 0 || c.HeartbeatTTL <= c.HeartbeatInterval:
		return errors.New("config: heartbeat ttl must exceed a positive heartbeat interval")
	case c.NonVoter && (c.BootstrapExpect > 0 || len(c.Join) == 0):
		return errors.New("config: a nonvoter only joins: give join addresses and no bootstrap-expect")
	case c.DeadServerCleanup < 0:
		return errors.New("config: dead-server-cleanup must not be negative")
	}
	if _, err := raftProfile(c.RaftProfile); err != nil {
		return err
	}
	return c.Semantics.validate()
}

// raftProfile returns Raft's timing for a named profile.
func raftProfile(name string) (*raft.Config, error) {
	rc := raft.DefaultConfig()
	switch name {
	case "", "default":
	case "fast":
		rc.HeartbeatTimeout = 300 * time.Millisecond
		rc.ElectionTimeout = 300 * time.Millisecond
		rc.LeaderLeaseTimeout = 150 * time.Millisecond
		rc.CommitTimeout = 10 * time.Millisecond
	default:
		return nil, fmt.Errorf("config: unknown raft profile %q (want default or fast)", name)
	}
	return rc, nil
}
