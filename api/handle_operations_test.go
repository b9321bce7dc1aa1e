package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/shepherd/shepherd/api/client"
	"github.com/shepherd/shepherd/cluster"
	"github.com/shepherd/shepherd/fsm"
)

func TestRemoveServer(t *testing.T) {
	b := newLeader()
	h := newTestServer(t, b).Handler()
	got := decodeAs[client.RemoveServerResponse](t, do(t, h, "DELETE", "/v1/cluster/servers/m3", ""), http.StatusOK)
	if got.Removed != "m3" {
		t.Errorf("answer %+v", got)
	}
	decodeAs[client.RemoveServerResponse](t, do(t, h, "DELETE", "/v1/cluster/servers/m3?force=true", ""), http.StatusOK)
	if calls := b.callsMade(); !slices.Equal(calls, []string{"RemoveServer", "RemoveServer(force)"}) {
		t.Errorf("calls %v", calls)
	}
	wantError(t, do(t, h, "DELETE", "/v1/cluster/servers/m3?force=maybe", ""), http.StatusBadRequest, codeInvalid, "force")

	b.fail["RemoveServer"] = fmt.Errorf("remove: %w: %w", cluster.ErrQuorumAtRisk, fsm.ErrConflict)
	wantError(t, do(t, h, "DELETE", "/v1/cluster/servers/m2", ""), http.StatusConflict, codeConflict, "quorum")

	rec := do(t, newTestServer(t, newFollower()).Handler(), "DELETE", "/v1/cluster/servers/m3?force=true", "")
	if rec.Code != http.StatusTemporaryRedirect || rec.Header().Get("Location") != "http://10.0.0.2:8080/v1/cluster/servers/m3?force=true" {
		t.Errorf("follower answered %d %q", rec.Code, rec.Header().Get("Location"))
	}
}

func TestTransferLeadership(t *testing.T) {
	b := newLeader()
	h := newTestServer(t, b).Handler()
	if got := decodeAs[client.TransferResponse](t, do(t, h, "POST", "/v1/cluster/transfer-leadership", ""), http.StatusOK); got.Leader != "m2" {
		t.Errorf("empty body: %+v", got)
	}
	if got := decodeAs[client.TransferResponse](t, do(t, h, "POST", "/v1/cluster/transfer-leadership", `{"id":"m3"}`), http.StatusOK); got.Leader != "m3" {
		t.Errorf("to m3: %+v", got)
	}
	wantError(t, do(t, h, "POST", "/v1/cluster/transfer-leadership", `{"to":"m3"}`), http.StatusBadRequest, codeInvalid, "")
}

func TestJoinAsNonvoter(t *testing.T) {
	b := newLeader()
	h := newTestServer(t, b).Handler()
	got := decodeAs[client.ServerInfo](t, do(t, h, "POST", "/v1/cluster/join",
		`{"id":"r1","raft_addr":"10.0.0.9:7201","http_addr":"10.0.0.9:7101","suffrage":"nonvoter"}`), http.StatusOK)
	if got.Suffrage != "nonvoter" || !slices.Equal(b.callsMade(), []string{"JoinNonvoter"}) {
		t.Errorf("answer %+v, calls %v", got, b.callsMade())
	}
	wantError(t, do(t, h, "POST", "/v1/cluster/join", `{"id":"r1","raft_addr":"10.0.0.9:7201","suffrage":"observer"}`),
		http.StatusBadRequest, codeInvalid, "suffrage")
}

func TestSnapshotAndRestore(t *testing.T) {
	b := newLeader()
	h := newTestServer(t, b).Handler()
	rec := do(t, h, "GET", "/v1/cluster/snapshot", "")
	if rec.Code != http.StatusOK || !strings.HasSuffix(rec.Body.String(), "\nstate") {
		t.Fatalf("snapshot answered %d %q", rec.Code, rec.Body)
	}
	if rec.Header().Get("Content-Length") != fmt.Sprint(rec.Body.Len()) || rec.Header().Get(headerIndex) != "7" ||
		!strings.Contains(rec.Header().Get("Content-Disposition"), "attachment") {
		t.Errorf("headers %v", rec.Header())
	}
	info := decodeAs[client.BackupInfo](t, do(t, h, "POST", "/v1/cluster/restore", rec.Body.String()), http.StatusOK)
	if info.Size != int64(rec.Body.Len()) {
		t.Errorf("restore answered %+v", info)
	}
	b.fail["Restore"] = fmt.Errorf("restore: %w: %w", cluster.ErrBadBackup, fsm.ErrInvalid)
	wantError(t, do(t, h, "POST", "/v1/cluster/restore", "junk"), http.StatusBadRequest, codeInvalid, "not a valid backup")

	rec = do(t, newTestServer(t, newFollower()).Handler(), "GET", "/v1/cluster/snapshot", "")
	if rec.Code != http.StatusTemporaryRedirect {
		t.Errorf("follower answered %d", rec.Code)
	}
}
