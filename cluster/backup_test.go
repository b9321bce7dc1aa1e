package cluster

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shepherd/shepherd/fsm"
)

func takeBackup(t *testing.T, n *Node) ([]byte, BackupInfo) {
	t.Helper()
	b, err := n.OpenBackup(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	raw, err := io.ReadAll(b)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(raw)) != b.Len() {
		t.Fatalf("backup is %d bytes, Len says %d", len(raw), b.Len())
	}
	return raw, b.Info
}

func TestBackupRestoreConvergesOnEveryReplica(t *testing.T) {
	c := newTestCluster(t, 3)
	leader := c.waitLeader(10 * time.Second)
	ctx := context.Background()
	if _, _, err := leader.Submit(ctx, []fsm.TaskSpec{spec("a"), spec("b")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.followers(leader)[0].OpenBackup(ctx); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("backup on a follower: %v", err)
	}
	raw, info := takeBackup(t, leader)
	if info.Index == 0 || info.Node != leader.cfg.ID || info.Format != BackupFormat {
		t.Fatalf("info = %+v", info)
	}
	hdr, err := ReadBackupHeader(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil || hdr != info {
		t.Fatalf("header = %+v, %v; want %+v", hdr, err, info)
	}
	if _, _, err := leader.Submit(ctx, []fsm.TaskSpec{spec("c")}); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(leader.cfg.DataDir)
	for _, e := range entries {
		if filepath.Ext(e.Name()) == ".tmp" {
			t.Fatalf("temporary file %s left behind", e.Name())
		}
	}

	// A damaged backup changes nothing.
	bad := bytes.Clone(raw)
	bad[len(bad)-3] ^= 1
	if _, err := leader.Restore(ctx, bytes.NewReader(bad)); !errors.Is(err, ErrBadBackup) || !errors.Is(err, fsm.ErrInvalid) {
		t.Fatalf("restore of a damaged backup: %v", err)
	}
	if _, err := leader.Restore(ctx, bytes.NewReader(raw[:len(raw)/2])); !errors.Is(err, ErrBadBackup) {
		t.Fatalf("restore of a truncated backup: %v", err)
	}
	if _, ok := leader.State().Task(3); !ok {
		t.Fatal("a failed restore changed the state")
	}

	got, err := leader.Restore(ctx, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if got != info {
		t.Fatalf("restored %+v, want %+v", got, info)
	}
	for _, n := range c.live() {
		waitFor(t, 10*time.Second, n.cfg.ID+" converges on the backup", func() bool {
			_, a := n.State().Task(1)
			_, gone := n.State().Task(3)
			return a && !gone && n.Ready()
		})
	}
	// The cluster goes on from the restored state: ids continue after it.
	tasks, _, err := leader.Submit(ctx, []fsm.TaskSpec{spec("d")})
	if err != nil {
		t.Fatal(err)
	}
	if tasks[0].ID != 3 {
		t.Fatalf("first id after restore = %d, want 3", tasks[0].ID)
	}
	waitFor(t, 5*time.Second, "server table reconciled", func() bool { return len(leader.State().Servers()) == 3 })
}

func TestRecoverFromMinorityOfSurvivors(t *testing.T) {
	c := newTestCluster(t, 3)
	leader := c.waitLeader(10 * time.Second)
	ctx := context.Background()
	if _, _, err := leader.Submit(ctx, []fsm.TaskSpec{spec("a"), spec("b")}); err != nil {
		t.Fatal(err)
	}
	survivor := 0
	waitFor(t, 5*time.Second, "m1 has every task", func() bool {
		_, ok := nodeByID(c, "m1").State().Task(2)
		return ok
	})
	c.closeAll() // m2 and m3 are lost for good; m1 is stopped for the recovery

	peers := filepath.Join(t.TempDir(), "peers.json")
	body, _ := json.Marshal([]map[string]any{{"id": "m1", "address": c.cfgs[survivor].RaftAddr}})
	if err := os.WriteFile(peers, body, 0o644); err != nil {
		t.Fatal(err)
	}
	conf, err := Recover(c.cfgs[survivor].DataDir, peers, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(conf.Servers) != 1 {
		t.Fatalf("recovered configuration = %+v", conf)
	}
	if _, err := Recover(t.TempDir(), peers, nil); err == nil {
		t.Fatal("recovering an empty data dir succeeded")
	}

	n := c.start(survivor)
	waitFor(t, 10*time.Second, "survivor leads alone", func() bool { return n.leader() != nil })
	if _, ok := n.State().Task(2); !ok {
		t.Fatal("state lost in recovery")
	}
	tasks, _, err := n.Submit(ctx, []fsm.TaskSpec{spec("c")})
	if err != nil || tasks[0].ID != 3 {
		t.Fatalf("submit after recovery: %v %v", tasks, err)
	}
	if _, err := Recover(c.cfgs[survivor].DataDir, peers, nil); err == nil {
		t.Fatal("recover succeeded while the master runs")
	}
}
