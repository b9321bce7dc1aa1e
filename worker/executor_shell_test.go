package worker

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shepherd/shepherd/api/client"
)

func runShell(t *testing.T, w *Worker, payload string) (shellResult, error) {
	t.Helper()
	raw, err := w.shellExecutor(context.Background(), client.Task{Payload: json.RawMessage(payload)})
	var res shellResult
	if err == nil {
		if jerr := json.Unmarshal(raw, &res); jerr != nil {
			t.Fatal(jerr)
		}
	}
	return res, err
}

func TestShellOffUnlessEnabled(t *testing.T) {
	w := newIdleWorker(t)
	_, err := runShell(t, w, `{"command":["true"]}`)
	if !errors.Is(err, errShellDisabled) {
		t.Fatalf("err = %v, want disabled", err)
	}
}

func TestShellAllowList(t *testing.T) {
	w := newIdleWorker(t)
	w.cfg.EnableShell = true
	w.cfg.ShellAllow = []string{"echo"}
	if _, err := runShell(t, w, `{"command":["echo","ok"]}`); err != nil {
		t.Fatalf("allowed command: %v", err)
	}
	for _, cmd := range []string{`["sh","-c","echo pwned"]`, `["/bin/echo","x"]`, `["echo ","x"]`} {
		if _, err := runShell(t, w, `{"command":`+cmd+`}`); err == nil || !strings.Contains(err.Error(), "allow-list") {
			t.Fatalf("%s: err = %v, want refused", cmd, err)
		}
	}
}

// TestShellDirAndEnvFromWorkerConfig: the task cannot pick a directory
// outside the worker's, and sees only the worker-configured environment
// (never the worker's own, which may hold its token).
func TestShellDirAndEnvFromWorkerConfig(t *testing.T) {
	base := t.TempDir()
	if err := os.Mkdir(filepath.Join(base, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SHEPHERD_TOKEN", "worker-secret")
	w := newIdleWorker(t)
	w.cfg.EnableShell = true
	w.cfg.ShellDir = base
	w.cfg.ShellEnv = []string{"PATH=" + os.Getenv("PATH"), "GREETING=hi"}

	res, err := runShell(t, w, `{"command":["sh","-c","pwd; env"]}`)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.Stdout, base+"\n") || !strings.Contains(res.Stdout, "GREETING=hi") {
		t.Fatalf("stdout %q: want dir %s and GREETING", res.Stdout, base)
	}
	if strings.Contains(res.Stdout, "worker-secret") {
		t.Fatal("the worker's environment leaked into the task")
	}
	if res, err = runShell(t, w, `{"command":["pwd"],"dir":"sub"}`); err != nil || strings.TrimSpace(res.Stdout) != filepath.Join(base, "sub") {
		t.Fatalf("dir sub: %q %v", res.Stdout, err)
	}
	for _, dir := range []string{"..", "/etc", "sub/../../x"} {
		if _, err := runShell(t, w, `{"command":["pwd"],"dir":"`+dir+`"}`); err == nil {
			t.Fatalf("dir %q escaped the worker's directory", dir)
		}
	}

	w.cfg.ShellEnv = nil
	res, err = runShell(t, w, `{"command":["env"]}`)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(res.Stdout) != "PATH="+os.Getenv("PATH") {
		t.Fatalf("default env %q, want PATH only", res.Stdout)
	}
}
