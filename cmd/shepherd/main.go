// Command shepherd is Shepherd's one binary: the master, the worker, a
// local development cluster, and client subcommands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

const usage = `usage: shepherd <command> [flags]

Servers:
  master     run a master (Raft peer and HTTP API)
  worker     run a worker that polls the masters and runs tasks
  dev        run 3 masters and 2 workers on loopback (data in ./data/dev)
  tls        create a cluster CA and server/worker/client certificates (see 'shepherd tls')
  recover    rewrite a stopped master's Raft peers (--data DIR --peers peers.json)

Clients (all take --masters a,b,c; default $SHEPHERD_MASTERS or 127.0.0.1:7101):
  submit         submit a task
  tasks list     list tasks
  tasks get ID   show one task
  tasks retry|cancel ID
                 retry a failed task, cancel a task
  schedules list|get|create|delete|pause|resume
                 recurring tasks (cron)
  queues list|pause|resume|limit
                 queue settings and counts
  cluster status|join|remove|transfer
                 show or change the masters (see 'shepherd cluster')
  backup -o FILE take a consistent backup from the leader
  restore FILE   replace the cluster's state with a backup, through Raft
  tokens create|list|revoke
                 API tokens with scopes (needs an admin token)
  watch          live view of the cluster, workers, counts and events (follows failover)
  bench          measure end-to-end throughput and latency (--local or --masters)
  chaos          run a workload under injected faults and check the history (--local or --masters)

Run 'shepherd <command> -h' for the flags of a command.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "shepherd:", err)
		}
		os.Exit(1)
	}
}

// groupCommands take a subcommand (shepherd tasks list, ...).
var groupCommands = map[string]bool{"tasks": true, "schedules": true, "queues": true, "cluster": true, "tokens": true, "tls": true}

func isHelp(arg string) bool { return arg == "-h" || arg == "--help" || arg == "help" }

// run executes one subcommand; it returns when the command is done or ctx
// ends (SIGINT/SIGTERM).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	if groupCommands[cmd] && (len(rest) == 0 || isHelp(rest[0])) {
		// A command group alone, or with -h, lists its subcommands.
		err := run(ctx, []string{cmd, "?"}, stdout, stderr)
		fmt.Fprintln(stdout, strings.TrimPrefix(err.Error(), "unknown "))
		if len(rest) == 0 {
			return errors.New("no subcommand given")
		}
		return nil
	}
	switch cmd {
	case "master":
		return runMaster(ctx, rest, stderr)
	case "worker":
		return runWorker(ctx, rest, stderr)
	case "dev":
		return runDev(ctx, rest, stdout, stderr)
	case "submit":
		return runSubmit(ctx, rest, stdout, stderr)
	case "tasks":
		return runTasks(ctx, rest, stdout, stderr)
	case "schedules":
		return runSchedules(ctx, rest, stdout, stderr)
	case "queues":
		return runQueues(ctx, rest, stdout, stderr)
	case "cluster":
		return runCluster(ctx, rest, stdout, stderr)
	case "backup":
		return runBackup(ctx, rest, stdout, stderr)
	case "restore":
		return runRestore(ctx, rest, stdout, stderr)
	case "recover":
		return runRecover(ctx, rest, stdout, stderr)
	case "tls":
		return runTLS(ctx, rest, stdout, stderr)
	case "tokens":
		return runTokens(ctx, rest, stdout, stderr)
	case "watch":
		return runWatch(ctx, rest, stdout, stderr)
	case "bench":
		return runBench(ctx, rest, stdout, stderr)
	case "chaos":
		return runChaos(ctx, rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}
