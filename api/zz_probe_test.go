package api

import "testing"

func TestZZProbe(t *testing.T) {
	h := newTestServer(t, newLeader()).Handler()
	for _, m := range [][2]string{{"DELETE", "/v1/tasks/1"}, {"PUT", "/v1/tasks"}, {"GET", "/v1/tasks/1/cancel"}, {"GET", "/v1/tasks/batch"}} {
		rec := do(t, h, m[0], m[1], "")
		t.Logf("%s %s -> %d %v %s", m[0], m[1], rec.Code, rec.Header(), rec.Body)
	}
}
