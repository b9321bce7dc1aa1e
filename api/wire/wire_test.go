package wire

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/shepherd/shepherd/fsm"
)

func TestDurationDropsTrailingZeroUnits(t *testing.T) {
	for d, want := range map[time.Duration]string{
		5 * time.Minute: "5m", 90 * time.Second: "1m30s", 2 * time.Hour: "2h",
		time.Hour + time.Second: "1h0m1s", 1500 * time.Millisecond: "1.5s",
	} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%v) = %q, want %q", d, got, want)
		}
		if back, err := time.ParseDuration(Duration(d)); err != nil || back != d {
			t.Errorf("Duration(%v) does not parse back: %v %v", d, back, err)
		}
	}
}

func TestTaskWireShape(t *testing.T) {
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("x", 3600))
	task := Task(fsm.Task{ID: 7, Name: "echo", Status: fsm.StatusPending, Timeout: 30 * time.Second,
		CreatedAt: created, RetryBase: time.Second})
	buf, err := json.Marshal(task)
	if err != nil {
		t.Fatal(err)
	}
	s := string(buf)
	for _, want := range []string{`"timeout":"30s"`, `"lease_expires_at":null`, `"status":"pending"`,
		`"created_at":"2025-12-31T23:00:00Z"`, `"retry_backoff":{"base":"1s"}`} {
		if !strings.Contains(s, want) {
			t.Errorf("task JSON lacks %s: %s", want, s)
		}
	}
	if w := Worker(fsm.Worker{ID: "w1"}, nil); w.Running == nil {
		t.Error("worker running list is null, want []")
	}
}
