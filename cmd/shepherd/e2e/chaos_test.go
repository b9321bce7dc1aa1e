package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestChaos runs `shepherd chaos` for about two minutes on three local
// master processes with kills, pauses, partitions and worker kills, and
// requires every history check to pass (exit status 0).
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos run takes minutes")
	}
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "chaos", "--local", "3", "--duration", "2m", "--interval", "10s",
		"--nemesis", "kill,pause,partition,worker-kill", "--quiet", "--out", out, "--master-log-level", "warn")
	cmd.WaitDelay = 30 * time.Second
	output, err := cmd.CombinedOutput()
	t.Logf("shepherd chaos:\n%s", output)
	if err != nil {
		t.Fatalf("shepherd chaos failed: %v (report and history in %s)", err, out)
	}
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		OK     bool `json:"ok"`
		Events []struct {
			Kind string `json:"kind"`
		} `json:"events"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.OK || len(rep.Events) < 5 {
		t.Fatalf("report: ok=%v with %d faults, want ok with at least 5", rep.OK, len(rep.Events))
	}
}
