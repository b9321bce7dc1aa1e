package api

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// fuzzRoutes are the endpoints whose request bodies the fuzz targets feed.
var fuzzRoutes = []string{
	"/v1/tasks",
	"/v1/tasks/batch",
	"/v1/tasks/1/complete",
	"/v1/tasks/1/fail",
	"/v1/workers",
	"/v1/workers/w1/heartbeat",
	"/v1/workers/w1/poll",
	"/v1/faults",
}

// fuzzSeeds are valid and almost-valid bodies of those endpoints.
var fuzzSeeds = []string{
	`{"name":"echo","payload":{"a":1},"idempotency_key":"k","priority":3,"labels":{"r":"eu"},"timeout":"30s","delay":"1s"}`,
	`{"tasks":[{"name":"a"},{"name":"b","run_at":"2030-01-01T00:00:00Z"}]}`,
	`{"worker_id":"w1","attempt":1,"result":{"ok":true}}`,
	`{"worker_id":"w1","attempt":1,"error":"boom","retry":true}`,
	`{"id":"w1","address":"h:1","labels":{"a":"b"},"capacity":4}`,
	`{"cpu":0.5,"memory":0.2,"running":[1,2],"progress":{"1":0.5,"x":2}}`,
	`{"max":4,"wait":"0s","queues":["default"],"completed":[{"id":1,"attempt":1}],"failed":[{"id":2,"attempt":1,"error":"e"}]}`,
	`{"action":"delay","delay":"10ms","jitter":"1ms","peers":["m2"],"direction":"in","probability":0.5,"duration":"1s"}`,
	`{"name":"` + strings.Repeat("x", 300) + `"}`,
	`{"max":-1,"wait":"-5s"}`, `{"unknown":1}`, `[]`, `null`, `{}`, `{"name":1e400}`, `{"a":` + strings.Repeat("[", 200),
}

// FuzzDecodeRequests posts arbitrary bodies to every write endpoint: the
// edge must answer with the contract's error shape and never fail
// internally (a panic would surface as a 500 from the recovery middleware).
func FuzzDecodeRequests(f *testing.F) {
	for i, s := range fuzzSeeds {
		f.Add(uint8(i), s)
	}
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		b := newLeader()
		b.pollHook = func(context.Context) (PollResult, error) { return PollResult{}, nil }
		s := newTestServer(t, b, func(c *Config) { c.Faults = noFaults{} })
		target := fuzzRoutes[int(route)%len(fuzzRoutes)]
		rec := do(t, s.Handler(), http.MethodPost, target, body)
		if rec.Code >= 500 {
			t.Fatalf("POST %s %q: status %d, body %s", target, body, rec.Code, rec.Body)
		}
	})
}

// noFaults accepts every valid fault and keeps none.
type noFaults struct{}

func (noFaults) Add(f Fault) (Fault, error) { return f, nil }
func (noFaults) List() []Fault              { return nil }
func (noFaults) Remove(string) bool         { return false }
func (noFaults) Clear() int                 { return 0 }
