package cluster

import (
	"testing"
	"time"
)

// The leader reports a follower its heartbeats cannot reach as "unknown"
// rather than "follower".
func TestLeaderMarksAnUnreachableFollowerUnknown(t *testing.T) {
	c := newTestCluster(t, 3)
	leader := c.waitLeader(10 * time.Second)
	victim := c.followers(leader)[0]
	id := victim.cfg.ID
	c.stop(victim)
	waitFor(t, 10*time.Second, id+" reported unknown", func() bool {
		for _, s := range leader.Status().Servers {
			if s.ID == id {
				return s.State == "unknown"
			}
		}
		return false
	})
}
