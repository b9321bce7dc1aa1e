package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/shepherd/shepherd/api/client"
)

func TestClusterStatus(t *testing.T) {
	b := newFollower()
	leader := ServerStatus{ID: "m2", RaftAddr: "10.0.0.2:7000", HTTPAddr: "10.0.0.2:8080", Suffrage: "voter", State: "leader"}
	b.status = ClusterStatus{Leader: &leader, Term: 3, CommitIndex: 10, AppliedIndex: 9,
		Servers: []ServerStatus{leader, {ID: "m3", RaftAddr: "10.0.0.3:7000", Suffrage: "voter", State: "follower"}}}
	rec := do(t, newTestServer(t, b).Handler(), "GET", "/v1/cluster", "")
	st := decodeAs[client.ClusterStatus](t, rec, http.StatusOK)
	if st.Leader == nil || st.Leader.ID != "m2" || st.Term != 3 || st.CommitIndex != 10 || st.AppliedIndex != 9 ||
		len(st.Servers) != 2 || st.Servers[1].State != "follower" {
		t.Errorf("status %+v", st)
	}
	if rec.Header().Get(headerIndex) == "" {
		t.Error("cluster status carries no index")
	}

	rec = do(t, newTestServer(t, newLeader()).Handler(), "GET", "/v1/cluster", "")
	if !strings.Contains(rec.Body.String(), `"leader":null`) || !strings.Contains(rec.Body.String(), `"servers":[]`) {
		t.Errorf("unknown leader answered %s", rec.Body)
	}
}

func TestClusterSelfIsNeverRedirected(t *testing.T) {
	b := newFollower()
	b.self = NodeInfo{ID: "m3", RaftAddr: "10.0.0.3:7000", HTTPAddr: "10.0.0.3:8080", HasState: true, LeaderHTTP: "10.0.0.2:8080"}
	h := newTestServer(t, b).Handler()
	for _, path := range []string{"/v1/cluster/self", "/v1/cluster/self?consistent=true"} {
		got := decodeAs[client.NodeInfo](t, do(t, h, "GET", path, ""), http.StatusOK)
		if got != (client.NodeInfo{ID: "m3", RaftAddr: "10.0.0.3:7000", HTTPAddr: "10.0.0.3:8080", HasState: true, LeaderHTTP: "10.0.0.2:8080"}) {
			t.Errorf("%s: %+v", path, got)
		}
	}
}

func TestJoin(t *testing.T) {
	b := newLeader()
	h := newTestServer(t, b).Handler()
	decodeAs[client.ServerInfo](t, do(t, h, "POST", "/v1/cluster/join",
		`{"id":"m2","raft_addr":"10.0.0.2:7000","http_addr":"10.0.0.2:8080"}`), http.StatusOK)
	if len(b.joined) != 1 || b.joined[0] != "m2@10.0.0.2:7000/10.0.0.2:8080" {
		t.Errorf("joined %v", b.joined)
	}

	for _, body := range []string{`{"id":"m2"}`, `{"id":"m2","raft_addr":"nohost"}`, `{"raft_addr":"a:1"}`,
		`{"id":"m2","raft_addr":"a:1","http_addr":"x"}`} {
		b := newLeader()
		wantError(t, do(t, newTestServer(t, b).Handler(), "POST", "/v1/cluster/join", body), http.StatusBadRequest, codeInvalid, "")
		wantNoCalls(t, b, 0)
	}
}

func TestHealthAndReady(t *testing.T) {
	b := newFollower()
	b.leaderID, b.leaderHTTP = "", "" // health and readiness answer without a leader
	h := newTestServer(t, b).Handler()

	rec := do(t, h, "GET", "/v1/health", "")
	if body := strings.TrimSpace(rec.Body.String()); rec.Code != http.StatusOK || body != `{"node":"m3","status":"ok"}` {
		t.Errorf("health %d %s", rec.Code, body)
	}

	b.ready = false
	rec = do(t, h, "GET", "/v1/ready", "")
	wantError(t, rec, http.StatusServiceUnavailable, codeNotReady, "not ready")
	if rec.Header().Get("Retry-After") != "1" {
		t.Error("503 without Retry-After")
	}
	b.ready = true
	rec = do(t, h, "GET", "/v1/ready", "")
	if body := strings.TrimSpace(rec.Body.String()); rec.Code != http.StatusOK || body != `{"ready":true}` {
		t.Errorf("ready %d %s", rec.Code, body)
	}
}
