package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/shepherd/shepherd/cmd/shepherd/chaos"
)

// errChaosFailed is returned when a chaos run's checks fail.
var errChaosFailed = errors.New("chaos: checks failed")

// runChaos is `shepherd chaos`: a workload under a nemesis schedule,
// followed by history checks and a report (text on stdout, JSON in --out).
func runChaos(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := chaos.DefaultConfig()
	fs := flagSet("chaos", stderr)
	local := fs.Int("local", 3, "spawn this many masters of this binary on loopback (ignored with --masters)")
	masters := fs.String("masters", "", "comma-separated HTTP addresses of an existing cluster (started with --enable-fault-injection)")
	docker := fs.String("docker", "", "with --masters: container names, in the same order, for kill and pause")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long the nemesis runs")
	fs.DurationVar(&cfg.Interval, "interval", cfg.Interval, "time from one fault to the next")
	fs.DurationVar(&cfg.FaultDuration, "fault-duration", 0, "how long each fault lasts (default: half the interval)")
	fs.Int64Var(&cfg.Seed, "seed", 0, "random seed of the nemesis schedule (0: random, printed in the report)")
	nemeses := fs.String("nemesis", "kill,pause,partition,worker-kill", "faults to pick from: kill, pause, partition, transfer, worker-kill")
	partitions := fs.String("partitions", "isolate-leader,halves,bridge,one-way,minority", "partition shapes to pick from")
	fs.Float64Var(&cfg.KillLeaderRatio, "kill-leader-ratio", cfg.KillLeaderRatio, "chance that kill and pause hit the leader")
	fs.IntVar(&cfg.Submitters, "submitters", cfg.Submitters, "concurrent submitters")
	fs.Float64Var(&cfg.Rate, "rate", cfg.Rate, "submissions per second over all submitters (0: as fast as possible)")
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "in-process worker agents")
	fs.IntVar(&cfg.Capacity, "capacity", cfg.Capacity, "task slots per worker")
	fs.DurationVar(&cfg.WorkTime, "work-time", cfg.WorkTime, "how long a worker holds each task before completing it")
	fs.DurationVar(&cfg.HealTimeout, "heal-timeout", cfg.HealTimeout, "after healing, how long to wait for every task to complete")
	raftProfile := fs.String("raft-profile", "default", "Raft timing of --local masters: default or fast")
	heartbeatTTL := fs.Duration("heartbeat-ttl", 5*time.Second, "worker heartbeat TTL of --local masters")
	logLevel := fs.String("master-log-level", "info", "log level of --local masters")
	out := fs.String("out", "", "directory for report.json, history.json and, on failure, linearizability.html (default: a new temp dir)")
	jsonOut := fs.Bool("json", false, "print the JSON report on stdout instead of the text one")
	quiet := fs.Bool("quiet", false, "no progress line on stderr")
	keep := fs.Bool("keep", false, "keep the --local masters' data and logs")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("chaos: unexpected argument %q", fs.Arg(0))
	}
	cfg.Nemeses, cfg.PartitionModes = splitList(*nemeses), splitList(*partitions)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	cfg.RunID = hex.EncodeToString(b)
	if cfg.Seed == 0 {
		cfg.Seed = time.Now().UnixNano()
	}
	if *out == "" {
		*out = filepath.Join(os.TempDir(), "shepherd-chaos-"+cfg.RunID)
	}
	cfg.OutDir = *out
	if !*quiet {
		cfg.Progress = stderr
	}
	if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
		return err
	}

	var lc *chaos.LocalCluster
	explicit := false
	fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "masters" })
	if explicit {
		cfg.Masters = splitList(*masters)
		if names := splitList(*docker); len(names) > 0 {
			if len(names) != len(cfg.Masters) {
				return errors.New("chaos: --docker needs one container name per master")
			}
			cfg.Control = chaos.Docker{Containers: names}
		}
	} else {
		if *local < 1 || *local > 9 {
			return errors.New("chaos: --local must be between 1 and 9")
		}
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		lc, err = chaos.StartLocal(*local, chaos.LocalOptions{
			Exe: exe, Dir: filepath.Join(cfg.OutDir, "cluster"), RaftProfile: *raftProfile, LogLevel: *logLevel,
			Extra: []string{"--heartbeat-ttl", heartbeatTTL.String()},
		})
		if err != nil {
			return err
		}
		cfg.Masters, cfg.Control = lc.HTTP, lc
		fmt.Fprintf(stderr, "chaos: %d local masters, data and logs in %s\n", *local, lc.Dir)
	}

	rep, err := chaos.Run(ctx, cfg)
	failed := err != nil || !rep.OK
	if lc != nil {
		lc.Close()
		if failed && ctx.Err() == nil {
			lc.TailLogs(stderr, 15)
		}
		if !*keep && !failed {
			_ = os.RemoveAll(lc.Dir)
		}
	}
	if err != nil {
		return err
	}
	if werr := rep.WriteFiles(cfg.OutDir); werr != nil {
		fmt.Fprintln(stderr, "chaos: write report:", werr)
	}
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		rep.Print(stdout)
		fmt.Fprintf(stdout, "report: %s\n", filepath.Join(cfg.OutDir, "report.json"))
	}
	if !rep.OK {
		return errChaosFailed
	}
	return nil
}
