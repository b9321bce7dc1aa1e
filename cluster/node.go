package cluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/shepherd/shepherd/fsm"
)

// Node is one master: a Raft peer with its replicated state machine and,
// while it leads, the leader-only scheduling work.
type Node struct {
	cfg    Config
	logger hclog.Logger
	fsm    *fsm.FSM

	raft      *raft.Raft
	transport *raft.NetworkTransport
	store     *raftboltdb.BoltStore
	faults    *Faults // nil unless fault injection is enabled

	hasState atomic.Bool
	leading  atomic.Pointer[leaderState]
	wakeup   chan struct{} // signalled when tasks become pending
	batcher  *batcher      // groups concurrent commands into one entry
	notifyCh <-chan bool   // leadership changes from Raft
	peersMu  sync.Mutex
	peers    []NodeInfo  // masters found at bootstrap, registered by a leader
	health   *peerHealth // which peers answer the leader's heartbeats

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	closeMu sync.Once
}

// New creates a node; Open starts it.
func New(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.RaftAdvertise == "" {
		cfg.RaftAdvertise = cfg.RaftAddr
	}
	n := &Node{cfg: cfg, logger: cfg.Logger.Named("cluster"), wakeup: make(chan struct{}, 1), health: newPeerHealth()}
	n.fsm = fsm.New(cfg.Logger)
	n.fsm.AddObserver(fsm.ObserverFunc(n.observe))
	return n, nil
}

// State is the local replica of the replicated state, for reads.
func (n *Node) State() *fsm.FSM { return n.fsm }

// NodeID is this master's id.
func (n *Node) NodeID() string { return n.cfg.ID }

// Open starts Raft and, in the background, discovery and bootstrap. It
// returns once the node serves Raft; leadership comes later.
func (n *Node) Open() error {
	if err := n.openRaft(); err != nil {
		return err
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.batcher = newBatcher(n)
	n.batcher.start(n.ctx, &n.wg)
	n.wg.Add(3)
	go func() { defer n.wg.Done(); n.watchLeadership() }()
	go func() { defer n.wg.Done(); n.watchPeers(n.ctx) }()
	go func() { defer n.wg.Done(); n.startCluster(n.ctx) }()
	return nil
}

func (n *Node) openRaft() error {
	rc, err := raftProfile(n.cfg.RaftProfile)
	if err != nil {
		return err
	}
	rc.LocalID = raft.ServerID(n.cfg.ID)
	rc.Logger = n.cfg.Logger.Named("raft")
	rc.SnapshotThreshold = n.cfg.SnapshotThreshold
	rc.SnapshotInterval = n.cfg.SnapshotInterval
	rc.MaxAppendEntries = 512
	// BatchApplyCh stays off: with it, a command queued when Raft shuts down
	// never gets an answer. Raft still group-commits whatever is waiting,
	// and batcher.go groups commands into shared entries.
	notify := make(chan bool, 16)
	rc.NotifyCh = notify
	n.notifyCh = notify

	dir := filepath.Join(n.cfg.DataDir, "raft")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	n.store, err = raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db")})
	if err != nil {
		return fmt.Errorf("open raft store: %w", err)
	}
	logs, err := raft.NewLogCache(1024, n.store)
	if err != nil {
		return fmt.Errorf("create log cache: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, rc.Logger)
	if err != nil {
		return fmt.Errorf("open snapshot store: %w", err)
	}
	advertise, err := net.ResolveTCPAddr("tcp", n.cfg.RaftAdvertise)
	if err != nil {
		return fmt.Errorf("resolve raft advertise address: %w", err)
	}
	stream, err := n.openStream(advertise)
	if err != nil {
		return fmt.Errorf("listen for raft: %w", err)
	}
	stream = n.secureStream(stream) // connection cap and mutual TLS
	n.transport = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: stream, MaxPool: 3, Timeout: 10 * time.Second, Logger: rc.Logger,
	})
	existing, err := raft.HasExistingState(logs, n.store, snaps)
	if err != nil {
		return fmt.Errorf("inspect raft state: %w", err)
	}
	n.hasState.Store(existing)
	n.raft, err = raft.NewRaft(rc, n.fsm, logs, n.store, snaps, n.transport)
	if err != nil {
		return fmt.Errorf("start raft: %w", err)
	}
	return nil
}

// RaftAddr is the address peers reach this node's Raft transport at.
func (n *Node) RaftAddr() string { return string(n.transport.LocalAddr()) }

// Close stops leader work and Raft, then closes the store. It does not
// leave the cluster: a restarted node resumes from its data dir.
func (n *Node) Close() error {
	var err error
	n.closeMu.Do(func() {
		if n.cancel != nil {
			n.cancel()
		}
		if n.raft != nil {
			err = n.raft.Shutdown().Error()
		}
		n.wg.Wait()
		if n.faults != nil {
			n.faults.Clear() // wakes connections stalled by a blackhole
		}
		if n.transport != nil {
			n.transport.CloseStreams() // peers' handlers of our pooled conns end
			_ = n.transport.Close()
		}
		if n.store != nil {
			if cerr := n.store.Close(); err == nil {
				err = cerr
			}
		}
	})
	return err
}
