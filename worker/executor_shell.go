package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/shepherd/shepherd/api/client"
)

// errShellDisabled refuses shell tasks on a worker not started with
// EnableShell.
var errShellDisabled = errors.New("shell executor is disabled on this worker")

type shellPayload struct {
	Command []string `json:"command"`
	// Dir is relative to the worker's ShellDir and must stay inside it.
	Dir string `json:"dir,omitempty"`
}

type shellResult struct {
	ExitCode int    `json:"exit_code"`
	Stdout   string `json:"stdout"`
	Stderr   string `json:"stderr"`
}

// shellExecutor runs a command (no shell parsing: argv as given). A
// non-zero exit fails the attempt.
func (w *Worker) shellExecutor(ctx context.Context, t client.Task) (json.RawMessage, error) {
	if !w.cfg.EnableShell {
		return nil, NoRetry(errShellDisabled)
	}
	var p shellPayload
	if err := decodePayload(t.Payload, &p); err != nil {
		return nil, err
	}
	if len(p.Command) == 0 || p.Command[0] == "" {
		return nil, NoRetry(errors.New("empty command"))
	}
	if !w.shellAllowed(p.Command[0]) {
		return nil, NoRetry(fmt.Errorf("command %q is not in this worker's shell allow-list", p.Command[0]))
	}
	dir, err := w.shellDir(p.Dir)
	if err != nil {
		return nil, NoRetry(err)
	}
	var stdout, stderr capped
	cmd := exec.CommandContext(ctx, p.Command[0], p.Command[1:]...)
	cmd.Dir = dir
	cmd.Env = w.shellEnv()
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Children that keep the pipes open must not hold the task past its end.
	cmd.WaitDelay = time.Second
	err = cmd.Run()
	res := shellResult{ExitCode: cmd.ProcessState.ExitCode(), Stdout: stdout.String(), Stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case errors.Is(err, exec.ErrNotFound), errors.Is(err, fs.ErrNotExist):
		return nil, NoRetry(fmt.Errorf("run %q: %w", p.Command[0], err))
	case errors.As(err, &exitErr) && ctx.Err() == nil:
		return nil, fmt.Errorf("exit code %d: %s", res.ExitCode, strings.TrimSpace(tail(res.Stderr, 512)))
	case err != nil:
		return nil, fmt.Errorf("run %q: %w", p.Command[0], err)
	}
	return json.Marshal(res)
}

// tail returns at most the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// shellAllowed applies Config.ShellAllow.
func (w *Worker) shellAllowed(command string) bool {
	if len(w.cfg.ShellAllow) == 0 {
		return true
	}
	return slices.Contains(w.cfg.ShellAllow, command)
}

// shellDir resolves a task's dir inside the worker's ShellDir: a task
// cannot choose where on the worker it runs beyond what the worker allows.
func (w *Worker) shellDir(taskDir string) (string, error) {
	if taskDir == "" {
		return w.cfg.ShellDir, nil
	}
	if !filepath.IsLocal(taskDir) {
		return "", fmt.Errorf("dir %q must be a relative path inside the worker's shell directory", taskDir)
	}
	base := w.cfg.ShellDir
	if base == "" {
		base = "."
	}
	return filepath.Join(base, taskDir), nil
}

// shellEnv is the environment of shell commands: the worker's config,
// never the worker's own environment.
func (w *Worker) shellEnv() []string {
	if w.cfg.ShellEnv != nil {
		return slices.Clone(w.cfg.ShellEnv)
	}
	return []string{"PATH=" + os.Getenv("PATH")}
}
