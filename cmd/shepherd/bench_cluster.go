package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/shepherd/shepherd/api/client"
	"github.com/shepherd/shepherd/cmd/shepherd/chaos"
)

// benchCluster is a throwaway cluster of master processes of this binary
// on free loopback ports, with data and logs in a temporary directory.
type benchCluster struct {
	dir   string
	https []string
	procs []*devProc
}

func startBenchCluster(n int, raftProfile, logLevel string, stderr io.Writer) (*benchCluster, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "shepherd-bench-")
	if err != nil {
		return nil, err
	}
	c := &benchCluster{dir: dir}
	logDir := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return c, err
	}
	ports, err := chaos.FreeAddrs(2 * n)
	if err != nil {
		return c, err
	}
	c.https = ports[:n]
	raftAddrs := ports[n:]
	for i := range n {
		id := fmt.Sprintf("m%d", i+1)
		p, err := startProc(exe, logDir, id, "master", "--id", id, "--http", c.https[i], "--raft", raftAddrs[i],
			"--data", filepath.Join(dir, id), "--bootstrap-expect", fmt.Sprint(n), "--join", strings.Join(c.https, ","),
			"--raft-profile", raftProfile, "--log-level", logLevel)
		if err != nil {
			return c, err
		}
		c.procs = append(c.procs, p)
	}
	return c, nil
}

// exited returns the name of a master process that has ended, if any.
func (c *benchCluster) exited() string {
	if c == nil {
		return ""
	}
	for _, p := range c.procs {
		select {
		case <-p.done:
			return p.name
		default:
		}
	}
	return ""
}

// close stops the masters and removes the directory (unless keep). After
// a failed run it first shows the end of each master's log.
func (c *benchCluster) close(stderr io.Writer, failed, keep bool) {
	stopAll(c.procs, stderr)
	if failed {
		for _, p := range c.procs {
			tailLog(stderr, filepath.Join(c.dir, "logs", p.name+".log"), 8)
		}
	}
	if keep {
		fmt.Fprintf(stderr, "bench: kept data and logs in %s\n", c.dir)
		return
	}
	if err := os.RemoveAll(c.dir); err != nil {
		fmt.Fprintf(stderr, "bench: remove %s: %v\n", c.dir, err)
	}
}

func tailLog(w io.Writer, path string, n int) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	fmt.Fprintf(w, "--- last lines of %s\n", path)
	for _, l := range lines {
		fmt.Fprintln(w, "    "+l)
	}
}

// waitLeader asks every master for GET /v1/cluster until one names a
// leader that itself agrees and, with expect > 0, sees expect voters.
func waitLeader(ctx context.Context, masters []string, expect int, local *benchCluster) (client.ServerInfo, error) {
	status := func(addr string) (client.ClusterStatus, error) {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		return client.New([]string{addr}, client.WithTimeout(2*time.Second), client.WithRetryBudget(0)).ClusterStatus(actx)
	}
	var last error
	for {
		if name := local.exited(); name != "" {
			return client.ServerInfo{}, fmt.Errorf("bench: master %s exited during start-up", name)
		}
		for _, addr := range masters {
			st, err := status(addr)
			if err != nil {
				last = err
				continue
			}
			if st.Leader == nil || st.Leader.HTTPAddr == "" {
				last = fmt.Errorf("%s knows no leader yet", addr)
				continue
			}
			lst, err := status(st.Leader.HTTPAddr)
			if err != nil {
				last = err
				continue
			}
			voters, leading := 0, false
			for _, s := range lst.Servers {
				if s.Suffrage == "" || s.Suffrage == "voter" {
					voters++
				}
				if s.ID == st.Leader.ID && s.State == "leader" {
					leading = true
				}
			}
			if !leading || voters < expect || lst.Leader == nil {
				last = fmt.Errorf("leader %s: leading=%v, %d of %d voters", st.Leader.ID, leading, voters, expect)
				continue
			}
			return *lst.Leader, nil
		}
		if !sleepFor(ctx, 100*time.Millisecond) {
			return client.ServerInfo{}, fmt.Errorf("bench: no leader (last: %v): %w", last, context.Cause(ctx))
		}
	}
}
