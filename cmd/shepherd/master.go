package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/shepherd/shepherd/api"
	"github.com/shepherd/shepherd/cluster"
	"github.com/shepherd/shepherd/fsm"
)

// masterConfig is everything a master process needs.
type masterConfig struct {
	Cluster  cluster.Config
	API      api.Config
	LogLevel string
	// Observers see every applied entry's events (tests, monitoring).
	Observers []fsm.Observer
}

// master is one running master: the Raft node and the HTTP edge.
type master struct {
	node   *cluster.Node
	api    *api.Server
	logger hclog.Logger
}

// startMaster composes and opens a master: Raft first (the HTTP edge
// reads it), then HTTP; discovery of peers retries until both are up.
func startMaster(cfg masterConfig, logOut io.Writer) (*master, error) {
	logger := hclog.New(&hclog.LoggerOptions{Name: cfg.Cluster.ID, Level: hclog.LevelFromString(cfg.LogLevel), Output: logOut})
	cfg.Cluster.Logger = logger
	cfg.API.Logger = logger
	if cfg.Cluster.Discovery == nil {
		cfg.Cluster.Discovery = newHTTPDiscovery(logger)
	}
	node, err := cluster.New(cfg.Cluster)
	if err != nil {
		return nil, err
	}
	for _, o := range cfg.Observers {
		node.State().AddObserver(o)
	}
	if err := node.Open(); err != nil {
		return nil, fmt.Errorf("open raft: %w", err)
	}
	srv := api.New(cfg.API, node)
	if err := srv.Open(); err != nil {
		_ = node.Close()
		return nil, fmt.Errorf("open http: %w", err)
	}
	logger.Info("master started", "http", srv.Addr(), "raft", node.RaftAddr())
	return &master{node: node, api: srv, logger: logger}, nil
}

// close shuts down in order: stop taking requests, then leave Raft.
func (m *master) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.api.Close(ctx); err != nil {
		m.logger.Warn("http shutdown", "error", err)
	}
	return m.node.Close()
}

func runMaster(ctx context.Context, args []string, stderr io.Writer) error {
	cfg, err := parseMasterFlags(args, stderr)
	if err != nil {
		return err
	}
	m, err := startMaster(cfg, stderr)
	if err != nil {
		return err
	}
	<-ctx.Done()
	m.logger.Info("shutting down")
	return m.close()
}

func parseMasterFlags(args []string, stderr io.Writer) (masterConfig, error) {
	cc, ac := cluster.DefaultConfig(), api.DefaultConfig()
	fs := flagSet("master", stderr)
	fs.StringVar(&cc.ID, "id", "", "unique id of this master (required)")
	fs.StringVar(&ac.Addr, "http", "127.0.0.1:7101", "HTTP listen address")
	fs.StringVar(&cc.HTTPAddr, "http-advertise", "", "HTTP address others reach this master at (default: --http)")
	fs.StringVar(&cc.RaftAddr, "raft", "127.0.0.1:7201", "Raft listen address")
	fs.StringVar(&cc.RaftAdvertise, "raft-advertise", "", "Raft address peers dial (default: --raft)")
	fs.StringVar(&cc.DataDir, "data", "", "data directory (required)")
	fs.IntVar(&cc.BootstrapExpect, "bootstrap-expect", 0, "number of masters that bootstrap the cluster together")
	join := fs.String("join", "", "comma-separated HTTP addresses of other masters")
	fs.StringVar(&cc.RaftProfile, "raft-profile", cc.RaftProfile, "Raft timing: default or fast (LAN)")
	fs.DurationVar(&cc.HeartbeatTTL, "heartbeat-ttl", cc.HeartbeatTTL, "a worker silent this long is marked down")
	fs.DurationVar(&cc.HeartbeatInterval, "heartbeat-interval", cc.HeartbeatInterval, "how often workers heartbeat")
	fs.Int64Var(&ac.BodyLimit, "body-limit", ac.BodyLimit, "largest request body in bytes")
	level := fs.String("log-level", "info", "trace, debug, info, warn or error")
	if err := parse(fs, args); err != nil {
		return masterConfig{}, err
	}
	cc.Join = splitList(*join)
	if cc.HTTPAddr == "" {
		cc.HTTPAddr = ac.Addr
	}
	return masterConfig{Cluster: cc, API: ac, LogLevel: *level}, nil
}
