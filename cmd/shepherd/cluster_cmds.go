package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/shepherd/shepherd/api/client"
	"github.com/shepherd/shepherd/cluster"
)

const clusterUsage = `usage: shepherd cluster <command> [--masters a,b,c] ...
  status                          show the masters, their suffrage and the leader
  join --id ID --raft H:P --http H:P [--voter=false]
                                  add a master (normally masters join on their own)
  remove ID [--force]             remove a master; refused if it would lose quorum
  transfer [ID]                   hand leadership to ID, or to the most up-to-date voter`

func runCluster(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(clusterUsage)
	}
	switch args[0] {
	case "status":
		return runClusterStatus(ctx, args[1:], stdout, stderr)
	case "join":
		return runClusterJoin(ctx, args[1:], stdout, stderr)
	case "remove":
		return runClusterRemove(ctx, args[1:], stdout, stderr)
	case "transfer":
		return runClusterTransfer(ctx, args[1:], stdout, stderr)
	}
	return fmt.Errorf("unknown cluster command %q\n%s", args[0], clusterUsage)
}

func runClusterStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, masters := clientFlags("cluster status", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	st, err := cliClient(*masters).ClusterStatus(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, st)
	}
	fmt.Fprintf(stdout, "term %d, commit index %d, applied index %d\n", st.Term, st.CommitIndex, st.AppliedIndex)
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tSUFFRAGE\tHTTP\tRAFT")
	for _, s := range st.Servers {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.ID, s.State, s.Suffrage, s.HTTPAddr, s.RaftAddr)
	}
	return tw.Flush()
}

func runClusterJoin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, masters := clientFlags("cluster join", stderr)
	var req client.JoinRequest
	fs.StringVar(&req.ID, "id", "", "id of the master to add (required)")
	fs.StringVar(&req.RaftAddr, "raft", "", "its Raft address host:port (required)")
	fs.StringVar(&req.HTTPAddr, "http", "", "its HTTP address host:port")
	voter := fs.Bool("voter", true, "add as a voter; false adds a read replica")
	if err := parse(fs, args); err != nil {
		return err
	}
	if req.ID == "" || req.RaftAddr == "" {
		return errors.New("cluster join: --id and --raft are required")
	}
	if !*voter {
		req.Suffrage = "nonvoter"
	}
	c := cliClient(*masters)
	if err := c.Join(ctx, c.Masters()[0], req); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "joined %s (%s)\n", req.ID, map[bool]string{true: "voter", false: "nonvoter"}[*voter])
	return nil
}

func runClusterRemove(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, masters := clientFlags("cluster remove", stderr)
	force := fs.Bool("force", false, "remove even if the remaining live voters would not be a quorum")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: shepherd cluster remove [--masters ...] [--force] ID")
	}
	id := fs.Arg(0)
	if err := cliClient(*masters).RemoveServer(ctx, id, *force); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "removed %s\n", id)
	return nil
}

func runClusterTransfer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, masters := clientFlags("cluster transfer", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return errors.New("usage: shepherd cluster transfer [--masters ...] [ID]")
	}
	leader, err := cliClient(*masters).TransferLeadership(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "leader is now %s\n", leader)
	return nil
}

func runBackup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, masters := clientFlags("backup", stderr)
	out := fs.String("o", "", "write the backup to this file (required; - for stdout)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("usage: shepherd backup [--masters ...] -o FILE")
	}
	c := cliClient(*masters)
	if *out == "-" {
		_, err := c.Backup(ctx, stdout)
		return err
	}
	tmp := *out + ".partial"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer os.Remove(tmp) // after a successful rename this fails harmlessly
	n, err := c.Backup(ctx, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	info, err := backupHeader(tmp)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, *out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d bytes, index %d, from %s\n", *out, n, info.Index, info.Node)
	return nil
}

func backupHeader(path string) (cluster.BackupInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return cluster.BackupInfo{}, err
	}
	defer f.Close()
	return cluster.ReadBackupHeader(bufio.NewReader(f))
}

func runRestore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, masters := clientFlags("restore", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: shepherd restore [--masters ...] FILE")
	}
	if _, err := backupHeader(fs.Arg(0)); err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	info, err := cliClient(*masters).Restore(ctx, f)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored %s: state of %s at index %d (%d bytes)\n", fs.Arg(0), info.Node, info.Index, info.Size)
	return nil
}

func runRecover(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flagSet("recover", stderr)
	data := fs.String("data", "", "data directory of the stopped master (required)")
	peers := fs.String("peers", "", `peers.json: [{"id":"m1","address":"host:7201","non_voter":false}, ...] (required)`)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *data == "" || *peers == "" {
		return errors.New("usage: shepherd recover --data DIR --peers peers.json (with the master stopped)")
	}
	logger := hclog.New(&hclog.LoggerOptions{Name: "recover", Level: hclog.Warn, Output: stderr})
	conf, err := cluster.Recover(*data, *peers, logger)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "recovered %s with %d servers:\n", *data, len(conf.Servers))
	for _, s := range conf.Servers {
		fmt.Fprintf(stdout, "  %s %s %s\n", s.ID, s.Address, s.Suffrage)
	}
	fmt.Fprintln(stdout, "start the master(s) now; they elect among themselves")
	return nil
}

// cliClient is the client of the one-shot commands. Its per-try timeout is
// short so that a hung master (paused, cut off) costs a few seconds of the
// retry budget, not all of it; big transfers (backup, restore) are bounded
// by their context only.
func cliClient(masters string) *client.Client {
	return client.New(splitList(masters), client.WithTimeout(3*time.Second), client.WithRetryBudget(30*time.Second))
}
