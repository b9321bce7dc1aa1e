package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "shepherd.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseFlatYAML(t *testing.T) {
	got, err := parseFlatYAML(`# a comment
---
id: m1            # trailing comment
http: "0.0.0.0:7101"
data: '/var/lib/it''s'
join: [m1:7101, "m2:7101" , m3:7101]
labels:
  - a=1
  - "b=#2"
voter: false
empty: ~
`)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"id": "m1", "http": "0.0.0.0:7101", "data": "/var/lib/it's",
		"join": "m1:7101,m2:7101,m3:7101", "labels": "a=1,b=#2", "voter": "false", "empty": ""}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for _, e := range got {
		if want[e.key] != e.value {
			t.Errorf("%s = %q, want %q", e.key, e.value, want[e.key])
		}
	}
	for _, bad := range []string{"id: m1\nid: m2", "  id: m1", "nested:\n  a: 1", "join: [a, b", "x: {a: 1}", "novalue", `id: "m1`} {
		if _, err := parseFlatYAML(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestMasterConfigPrecedence(t *testing.T) {
	path := writeConfig(t, `id: from-file
data: /tmp/file
http: 127.0.0.1:7101
raft: 127.0.0.1:7201
bootstrap-expect: 3
join: [127.0.0.1:7101, 127.0.0.2:7101, 127.0.0.3:7101]
heartbeat_ttl: 30s
raft-profile: fast
dead-server-cleanup: 1h
voter: true
`)
	t.Setenv("SHEPHERD_DATA", "/tmp/env")
	t.Setenv("SHEPHERD_HEARTBEAT_TTL", "20s")
	cfg, err := parseMasterFlags([]string{"--config", path, "--heartbeat-ttl", "15s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cc := cfg.Cluster
	switch {
	case cc.ID != "from-file", cc.RaftProfile != "fast", cc.BootstrapExpect != 3, len(cc.Join) != 3:
		t.Errorf("file values not applied: %+v", cc)
	case cc.DataDir != "/tmp/env":
		t.Errorf("env does not override the file: data = %q", cc.DataDir)
	case cc.HeartbeatTTL != 15*time.Second:
		t.Errorf("flag does not override env: ttl = %v", cc.HeartbeatTTL)
	case cc.DeadServerCleanup != time.Hour || cc.NonVoter:
		t.Errorf("ops flags: %+v", cc)
	case cc.HeartbeatInterval != time.Second:
		t.Errorf("default lost: %v", cc.HeartbeatInterval)
	}

	t.Setenv("SHEPHERD_CONFIG", path)
	cfg, err = parseMasterFlags([]string{"--print-config"}, io.Discard)
	if err != nil || cfg.print == nil {
		t.Fatalf("print-config: %v", err)
	}
	var b strings.Builder
	if err := cfg.print(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, line := range []string{"id: from-file\n", "data: /tmp/env\n", "heartbeat-ttl: 20s\n", `join: "127.0.0.1:7101,127.0.0.2:7101,127.0.0.3:7101"` + "\n", "voter: true\n"} {
		if !strings.Contains(out, line) {
			t.Errorf("printed config lacks %q:\n%s", line, out)
		}
	}
	// What --print-config prints reads back to the same configuration.
	again, err := parseMasterFlags([]string{"--config", writeConfig(t, out)}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if again.Cluster.HeartbeatTTL != 20*time.Second || again.Cluster.ID != "from-file" || len(again.Cluster.Join) != 3 {
		t.Errorf("round trip: %+v", again.Cluster)
	}
}

func TestMasterConfigValidation(t *testing.T) {
	cases := []struct {
		args []string
		file string
		want []string
	}{
		{args: []string{"--data", "/d"}, want: []string{"--id is required"}},
		{args: []string{"--id", "m1", "--data", "/d", "--http", "0.0.0.0:7101", "--raft", "0.0.0.0:7201",
			"--bootstrap-expect", "3", "--join", "m1:7101,m2:7101,m3:7101"},
			want: []string{"--http-advertise (defaults to --http) \"0.0.0.0:7101\": others cannot dial", "--raft-advertise (defaults to --raft)"}},
		{args: []string{"--id", "m1", "--data", "/d", "--http", "nope", "--log-level", "loud", "--bootstrap-expect", "1"},
			want: []string{`--http "nope": want host:port`, `--log-level "loud"`}},
		{args: []string{"--id", "m1", "--data", "/d", "--bootstrap-expect", "1", "--raft-profile", "slow"},
			want: []string{"unknown raft profile"}},
		{args: []string{"--id", "m1", "--data", "/d", "--voter=false", "--bootstrap-expect", "3", "--join", "a:1"},
			want: []string{"a nonvoter only joins"}},
		{file: "id: m1\nhttp-port: 7101\n", want: []string{"shepherd.yaml:2: unknown key \"http-port\""}},
		{file: "id: m1\nbootstrap-expect: three\n", want: []string{"shepherd.yaml:2: bootstrap-expect"}},
	}
	for _, tc := range cases {
		args := tc.args
		if tc.file != "" {
			args = append([]string{"--config=" + writeConfig(t, tc.file)}, args...)
		}
		_, err := parseMasterFlags(args, io.Discard)
		if err == nil {
			t.Errorf("%v %q: no error", tc.args, tc.file)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v %q: error %q lacks %q", tc.args, tc.file, err, w)
			}
		}
	}
}

// A secret set in the environment shows in --print-config as set and
// redacted, as a comment, so the printed file cannot set a placeholder.
func TestPrintConfigRedactsSecretsThatAreSet(t *testing.T) {
	t.Setenv("SHEPHERD_BOOTSTRAP_TOKEN", "s3cret-value")
	cfg, err := parseMasterFlags([]string{"--id", "m1", "--data", "/d", "--bootstrap-expect", "1", "--print-config"}, io.Discard)
	if err != nil || cfg.print == nil {
		t.Fatalf("print-config: %v", err)
	}
	var b strings.Builder
	if err := cfg.print(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Contains(out, "s3cret-value") || !strings.Contains(out, "# bootstrap-token: set, <redacted>\n") ||
		!strings.Contains(out, "token: \"\"\n") {
		t.Fatalf("printed config:\n%s", out)
	}
}
