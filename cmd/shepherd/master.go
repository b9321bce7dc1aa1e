package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/shepherd/shepherd/api"
	"github.com/shepherd/shepherd/api/client"
	"github.com/shepherd/shepherd/cluster"
	"github.com/shepherd/shepherd/fsm"
	"github.com/shepherd/shepherd/monitor"
)

// masterConfig is everything a master process needs.
type masterConfig struct {
	Cluster  cluster.Config
	API      api.Config
	LogLevel string
	// Observers see every applied entry's events (tests, monitoring).
	Observers []fsm.Observer
	// PeerClient configures the client this master calls other masters
	// with (discovery, join): their CA and a token (security.go).
	PeerClient []client.Option
	// Monitor tunes the event hub (ring size, keep-alive); State, Cluster,
	// Metrics and Logger are set by startMaster.
	Monitor monitor.Config
	// print, when set, prints the effective configuration (--print-config).
	print func(io.Writer) error
}

// master is one running master: the Raft node, monitoring and the HTTP edge.
type master struct {
	node   *cluster.Node
	hub    *monitor.Hub
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
		cfg.Cluster.Discovery = newHTTPDiscovery(logger, cfg.PeerClient...)
	}
	var metrics *monitor.Metrics
	cfg.Cluster.ApplyObserver = func(d time.Duration) {
		if metrics != nil {
			metrics.ObserveApply(d)
		}
	}
	node, err := cluster.New(cfg.Cluster)
	if err != nil {
		return nil, err
	}
	metrics = monitor.NewMetrics(node.State())
	// Entries replayed at start-up happened before this process; a little
	// slack covers clock skew between this master and the leader.
	metrics.CountFrom(time.Now().Add(-30 * time.Second))
	mc := cfg.Monitor
	mc.State, mc.Cluster, mc.Metrics, mc.Logger = node.State(), node, metrics, logger
	hub, err := monitor.NewHub(mc)
	if err != nil {
		return nil, err
	}
	node.State().AddObserver(hub) // before Open: the log replay reaches the hub
	for _, o := range cfg.Observers {
		node.State().AddObserver(o)
	}
	if err := node.Open(); err != nil {
		return nil, fmt.Errorf("open raft: %w", err)
	}
	hub.Start()
	cfg.API.Metrics = metrics
	if f := node.Faults(); f != nil {
		cfg.API.Faults = f
		logger.Warn("fault injection is enabled: /v1/faults can partition this master")
	}
	srv := api.New(cfg.API, node)
	srv.Mount("/v1/events", hub)
	srv.Mount("/metrics", metrics.Handler())
	srv.Mount("/", monitor.DashboardHandler())
	if err := srv.Open(); err != nil {
		hub.Close()
		_ = node.Close()
		return nil, fmt.Errorf("open http: %w", err)
	}
	logger.Info("master started", "http", srv.Addr(), "raft", node.RaftAddr())
	return &master{node: node, hub: hub, api: srv, logger: logger}, nil
}

// close shuts down in order: a leader hands leadership over first (the
// cluster sees no election timeout), then HTTP stops taking requests,
// then Raft stops.
func (m *master) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	handOff, done := context.WithTimeout(ctx, 5*time.Second)
	m.node.HandOff(handOff)
	done()
	m.hub.Close() // subscribers get 1001 and resume elsewhere
	if err := m.api.Close(ctx); err != nil {
		m.logger.Warn("http shutdown", "error", err)
	}
	return m.node.Close()
}

// abort stops without handing leadership over: to its peers it looks like
// a crash (the leader's heartbeats stop; an election follows). Tests use it.
func (m *master) abort() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = m.node.Close()
	m.hub.Close()
	_ = m.api.Close(ctx)
	return nil
}

func runMaster(ctx context.Context, args []string, stderr io.Writer) error {
	cfg, err := parseMasterFlags(args, stderr)
	if cfg.print != nil {
		if perr := cfg.print(os.Stdout); perr != nil {
			return perr
		}
		return err
	}
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
	conf := addConfigFlags(fs)
	addMasterOpsFlags(fs, &cc)
	fs.StringVar(&cc.ID, "id", "", "unique id of this master (required)")
	fs.StringVar(&ac.Addr, "http", "127.0.0.1:7101", "HTTP listen address")
	fs.StringVar(&cc.HTTPAddr, "http-advertise", "", "HTTP address others reach this master at (default: --http)")
	fs.StringVar(&cc.RaftAddr, "raft", "127.0.0.1:7201", "Raft listen address")
	fs.StringVar(&cc.RaftAdvertise, "raft-advertise", "", "Raft address peers dial (default: --raft)")
	fs.StringVar(&cc.DataDir, "data", "", "data directory (required)")
	fs.IntVar(&cc.BootstrapExpect, "bootstrap-expect", 0, "number of masters that bootstrap the cluster together")
	join := fs.String("join", "", "comma-separated HTTP addresses of other masters")
	fs.StringVar(&cc.RaftProfile, "raft-profile", cc.RaftProfile, "Raft timing: default or fast (LAN)")
	mc := monitor.DefaultConfig()
	fs.IntVar(&mc.Capacity, "event-buffer", mc.Capacity, "events kept for /v1/events clients resuming with since")
	fs.DurationVar(&cc.HeartbeatTTL, "heartbeat-ttl", cc.HeartbeatTTL, "a worker silent this long is marked down")
	fs.DurationVar(&cc.HeartbeatInterval, "heartbeat-interval", cc.HeartbeatInterval, "how often workers heartbeat")
	fs.Int64Var(&ac.BodyLimit, "body-limit", ac.BodyLimit, "largest request body in bytes")
	fs.BoolVar(&cc.EnableFaultInjection, "enable-fault-injection", false,
		"serve /v1/faults to inject Raft network faults (chaos testing only; enable on all masters or none)")
	fs.StringVar(&cc.Semantics.Dispatch, "dispatch", cc.Semantics.Dispatch, "dispatch policy: least-loaded, round-robin or affinity")
	fs.DurationVar(&cc.Semantics.Retention, "retention", cc.Semantics.Retention, "how long finished tasks are kept")
	fs.DurationVar(&cc.Semantics.MisfireGrace, "misfire-grace", cc.Semantics.MisfireGrace, "how late a schedule tick may still fire")
	sec := addMasterSecurityFlags(fs, &ac, &cc)
	level := fs.String("log-level", "info", "trace, debug, info, warn or error")
	if err := parseConfigured(fs, args); err != nil {
		return masterConfig{}, err
	}
	cc.Join = splitList(*join)
	peerOpts, err := sec.apply(&ac, &cc, &mc)
	if err != nil {
		return masterConfig{}, err
	}
	cfg := masterConfig{Cluster: cc, API: ac, LogLevel: *level, Monitor: mc, PeerClient: peerOpts}
	if *conf.print {
		cfg.print = printer(fs)
	}
	if err := validateMaster(cfg); err != nil {
		return cfg, err
	}
	if cfg.Cluster.HTTPAddr == "" {
		cfg.Cluster.HTTPAddr = ac.Addr
	}
	return cfg, nil
}
