package chaos

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Controller kills and pauses masters by their index in Config.Masters.
type Controller interface {
	Kill(i int) error   // SIGKILL
	Start(i int) error  // start a killed master again, on its old data
	Pause(i int) error  // SIGSTOP
	Resume(i int) error // SIGCONT
}

// LocalCluster is N master processes of the shepherd binary on loopback,
// with fault injection enabled, data and logs in Dir.
type LocalCluster struct {
	Dir   string
	HTTP  []string
	exe   string
	args  [][]string
	mu    sync.Mutex
	procs []*proc
}

type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// LocalOptions shape the masters a LocalCluster runs.
type LocalOptions struct {
	Exe         string // the shepherd binary
	Dir         string // data and logs; created if missing
	RaftProfile string
	LogLevel    string
	// Extra flags for every master.
	Extra []string
}

// StartLocal starts n masters that bootstrap a cluster together.
func StartLocal(n int, o LocalOptions) (*LocalCluster, error) {
	if err := os.MkdirAll(filepath.Join(o.Dir, "logs"), 0o755); err != nil {
		return nil, err
	}
	addrs, err := FreeAddrs(2 * n)
	if err != nil {
		return nil, err
	}
	c := &LocalCluster{Dir: o.Dir, HTTP: addrs[:n], exe: o.Exe, procs: make([]*proc, n)}
	for i := range n {
		id := fmt.Sprintf("m%d", i+1)
		args := []string{"master", "--id", id, "--http", addrs[i], "--raft", addrs[n+i],
			"--data", filepath.Join(o.Dir, id), "--bootstrap-expect", fmt.Sprint(n),
			"--join", strings.Join(c.HTTP, ","), "--enable-fault-injection",
			"--raft-profile", o.RaftProfile, "--log-level", o.LogLevel}
		c.args = append(c.args, append(args, o.Extra...))
	}
	for i := range n {
		if err := c.Start(i); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// Start starts master i (again), appending to its log.
func (c *LocalCluster) Start(i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.procs[i]; p != nil && !p.exited() {
		return fmt.Errorf("master %d is running", i+1)
	}
	log, err := os.OpenFile(filepath.Join(c.Dir, "logs", fmt.Sprintf("m%d.log", i+1)),
		os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(c.exe, c.args[i]...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("start master %d: %w", i+1, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); log.Close(); close(p.done) }()
	c.procs[i] = p
	return nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (c *LocalCluster) signal(i int, sig syscall.Signal) error {
	c.mu.Lock()
	p := c.procs[i]
	c.mu.Unlock()
	if p == nil || p.exited() {
		return fmt.Errorf("master %d is not running", i+1)
	}
	return p.cmd.Process.Signal(sig)
}

// Kill SIGKILLs master i and waits until it is gone.
func (c *LocalCluster) Kill(i int) error {
	if err := c.signal(i, syscall.SIGKILL); err != nil {
		return err
	}
	c.mu.Lock()
	p := c.procs[i]
	c.mu.Unlock()
	<-p.done
	return nil
}

func (c *LocalCluster) Pause(i int) error  { return c.signal(i, syscall.SIGSTOP) }
func (c *LocalCluster) Resume(i int) error { return c.signal(i, syscall.SIGCONT) }

// Exited names the masters whose process has ended.
func (c *LocalCluster) Exited() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int
	for i, p := range c.procs {
		if p != nil && p.exited() {
			out = append(out, i)
		}
	}
	return out
}

// Close resumes and stops every master (SIGTERM, then SIGKILL after 15 s).
func (c *LocalCluster) Close() {
	c.mu.Lock()
	procs := append([]*proc(nil), c.procs...)
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range procs {
		if p == nil || p.exited() {
			continue
		}
		wg.Go(func() {
			_ = p.cmd.Process.Signal(syscall.SIGCONT)
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			t := time.NewTimer(15 * time.Second)
			defer t.Stop()
			select {
			case <-p.done:
			case <-t.C:
				_ = p.cmd.Process.Kill()
				<-p.done
			}
		})
	}
	wg.Wait()
}

// TailLogs writes the last n lines of every master's log to w.
func (c *LocalCluster) TailLogs(w io.Writer, n int) {
	for i := range c.procs {
		path := filepath.Join(c.Dir, "logs", fmt.Sprintf("m%d.log", i+1))
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		if len(lines) > n {
			lines = lines[len(lines)-n:]
		}
		fmt.Fprintf(w, "--- last lines of %s\n%s\n", path, strings.Join(lines, "\n"))
	}
}

// Docker controls masters that run as docker containers, by name.
type Docker struct {
	Containers []string
}

func (d Docker) docker(args ...string) error {
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (d Docker) name(i int) (string, error) {
	if i < 0 || i >= len(d.Containers) {
		return "", errors.New("no container for this master")
	}
	return d.Containers[i], nil
}

func (d Docker) run(i int, args ...string) error {
	n, err := d.name(i)
	if err != nil {
		return err
	}
	return d.docker(append(args, n)...)
}

func (d Docker) Kill(i int) error   { return d.run(i, "kill", "--signal", "KILL") }
func (d Docker) Start(i int) error  { return d.run(i, "start") }
func (d Docker) Pause(i int) error  { return d.run(i, "pause") }
func (d Docker) Resume(i int) error { return d.run(i, "unpause") }
