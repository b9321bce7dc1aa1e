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
	"syscall"
)

const usage = `usage: shepherd <command> [flags]

Servers:
  master     run a master (Raft peer and HTTP API)
  worker     run a worker that polls the masters and runs tasks
  dev        run 3 masters and 2 workers on loopback (data in ./data/dev)

Clients (all take --masters a,b,c; default $SHEPHERD_MASTERS or 127.0.0.1:7101):
  submit         submit a task
  tasks list     list tasks
  tasks get ID   show one task
  cluster status show the masters and the leader
  bench          measure end-to-end throughput and latency (--local or --masters)

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

// run executes one subcommand; it returns when the command is done or ctx
// ends (SIGINT/SIGTERM).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
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
	case "cluster":
		return runCluster(ctx, rest, stdout, stderr)
	case "bench":
		return runBench(ctx, rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}
