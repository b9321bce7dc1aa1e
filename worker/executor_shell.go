package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"strings"
	"time"

	"github.com/shepherd/shepherd/api/client"
)

// errShellDisabled refuses shell tasks on a worker not started with
// EnableShell.
var errShellDisabled = errors.New("shell executor is disabled on this worker")

type shellPayload struct {
	Command []string `json:"command"`
	Dir     string   `json:"dir,omitempty"`
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
	var stdout, stderr capped
	cmd := exec.CommandContext(ctx, p.Command[0], p.Command[1:]...)
	cmd.Dir = p.Dir
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Children that keep the pipes open must not hold the task past its end.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
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
