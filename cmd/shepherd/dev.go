package main

import (
	"context"
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

// runDev starts a local cluster as separate processes of this binary, so
// that a newcomer can kill the leader's process and watch failover.
func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flagSet("dev", stderr)
	masters := fs.Int("masters", 3, "number of masters")
	workers := fs.Int("workers", 2, "number of workers")
	dataDir := fs.String("data", filepath.Join("data", "dev"), "data directory")
	basePort := fs.Int("base-port", 7100, "masters listen on HTTP base+1.. and Raft base+101..")
	shell := fs.Bool("enable-shell", false, "let the workers run shell tasks")
	if err := parse(fs, args); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	logDir := filepath.Join(*dataDir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	var https []string
	for i := 1; i <= *masters; i++ {
		https = append(https, fmt.Sprintf("127.0.0.1:%d", *basePort+i))
	}
	var procs []*devProc
	defer func() { stopAll(procs, stderr) }()
	for i := 1; i <= *masters; i++ {
		id := fmt.Sprintf("m%d", i)
		p, err := startProc(exe, logDir, id, "master", "--id", id, "--http", https[i-1],
			"--raft", fmt.Sprintf("127.0.0.1:%d", *basePort+100+i), "--data", filepath.Join(*dataDir, id),
			"--bootstrap-expect", fmt.Sprint(*masters), "--join", strings.Join(https, ","))
		if err != nil {
			return err
		}
		procs = append(procs, p)
	}
	for i := 1; i <= *workers; i++ {
		id := fmt.Sprintf("w%d", i)
		wargs := []string{"worker", "--id", id, "--masters", strings.Join(https, ",")}
		if *shell {
			wargs = append(wargs, "--enable-shell")
		}
		p, err := startProc(exe, logDir, id, wargs...)
		if err != nil {
			return err
		}
		procs = append(procs, p)
	}
	printDevBanner(stdout, procs, https, logDir)
	<-ctx.Done()
	return nil
}

type devProc struct {
	name string
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{}
}

func startProc(exe, logDir, name string, args ...string) (*devProc, error) {
	logFile, err := os.OpenFile(filepath.Join(logDir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &devProc{name: name, cmd: cmd, log: logFile, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	return p, nil
}

// stopAll sends SIGTERM to every child and waits, killing stragglers.
func stopAll(procs []*devProc, stderr io.Writer) {
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(15 * time.Second):
				fmt.Fprintf(stderr, "%s did not stop in time, killing it\n", p.name)
				_ = p.cmd.Process.Kill()
				<-p.done
			}
			p.log.Close()
		}()
	}
	wg.Wait()
}

func printDevBanner(w io.Writer, procs []*devProc, https []string, logDir string) {
	fmt.Fprintln(w, "Shepherd dev cluster is starting.")
	for _, p := range procs {
		fmt.Fprintf(w, "  %-4s pid %d\n", p.name, p.cmd.Process.Pid)
	}
	fmt.Fprintln(w, "Masters (API and dashboard):")
	for _, h := range https {
		fmt.Fprintf(w, "  http://%s/\n", h)
	}
	fmt.Fprintf(w, "Logs: %s\n", logDir)
	fmt.Fprintf(w, "Try:  curl -s -XPOST http://%s/v1/tasks -d '{\"name\":\"echo\",\"payload\":{\"hello\":\"world\"}}'\n", https[0])
	fmt.Fprintln(w, "Press Ctrl-C to stop.")
}
