package cluster

import (
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/shepherd/shepherd/fsm"
)

// After an outage longer than one scheduler pass can walk, run-once still
// fires exactly one missed tick, in the pass that catches up.
func TestRunOnceMisfireFiresOnceAfterALongOutage(t *testing.T) {
	cfg := DefaultConfig()
	n := &Node{cfg: cfg, logger: hclog.NewNullLogger()}
	now := time.Date(2026, 1, 10, 0, 30, 0, 0, time.UTC) // 30 min after the last hourly tick
	s := fsm.Schedule{ID: "s", Cron: "0 0 * * * *", Misfire: fsm.MisfireRunOnce,
		LastTick: now.Add(-time.Duration(2*maxTicksPerPass+5) * time.Hour)}
	fired, passes := 0, 0
	for {
		cmd, ok := n.dueTicks(s, now)
		if !ok {
			break
		}
		passes++
		for _, tick := range cmd.Ticks {
			if now.Sub(tick) > cfg.Semantics.MisfireGrace {
				fired++
			}
		}
		s.LastTick = cmd.Through
		if passes > 10 {
			t.Fatal("scheduler never caught up")
		}
	}
	if passes < 3 {
		t.Fatalf("outage took %d passes; the test needs several", passes)
	}
	if fired != 1 {
		t.Fatalf("run-once fired %d missed ticks over %d passes, want 1", fired, passes)
	}
}
