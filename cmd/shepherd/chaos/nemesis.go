package chaos

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/shepherd/shepherd/api/client"
)

// Event is one nemesis action: what was done to whom, from Start until it
// was healed.
type Event struct {
	Kind    string    `json:"kind"`
	Detail  string    `json:"detail,omitempty"`
	Targets []string  `json:"targets,omitempty"`
	Start   time.Time `json:"start"`
	Healed  time.Time `json:"healed"`
	// LeaderLoss: the action took the leader away (killed, paused,
	// isolated, or asked to hand over); Recovery is the time from Start
	// to the first lease granted after it.
	LeaderLoss bool   `json:"leader_loss"`
	OldLeader  string `json:"old_leader,omitempty"`
	Recovery   string `json:"recovery,omitempty"`
	Error      string `json:"error,omitempty"`

	recovery time.Duration
}

// masterState is what the nemesis did to a master.
type masterState int

const (
	masterUp masterState = iota
	masterKilled
	masterPaused
)

// nemesis runs one action per interval until ctx ends.
func (r *run) nemesis(ctx context.Context) {
	kinds := slices.Clone(r.cfg.Nemeses)
	if r.cfg.Control == nil {
		kinds = slices.DeleteFunc(kinds, func(k string) bool {
			if k == NemesisKill || k == NemesisPause {
				r.note("%s nemesis skipped: no process control (use --local or --docker)", k)
				return true
			}
			return false
		})
	}
	if len(kinds) == 0 {
		r.note("no nemesis to run: the workload ran fault-free")
		<-ctx.Done()
		return
	}
	hold := r.cfg.FaultDuration
	if hold == 0 {
		hold = r.cfg.Interval / 2
	}
	next := time.Now().Add(r.cfg.Interval / 2) // a fault-free warm-up first
	for sleepUntil(ctx, next) {
		next = next.Add(r.cfg.Interval)
		kind := kinds[r.rng.IntN(len(kinds))]
		ev, ok := r.act(ctx, kind, hold)
		if !ok {
			kinds = slices.DeleteFunc(kinds, func(k string) bool { return k == kind })
			if len(kinds) == 0 {
				<-ctx.Done()
				return
			}
			continue
		}
		r.addEvent(ev)
	}
}

// act performs one action and heals it after hold; ok false means the
// kind is unavailable and should not be picked again.
func (r *run) act(ctx context.Context, kind string, hold time.Duration) (Event, bool) {
	leader := r.leader(ctx)
	ev := Event{Kind: kind, Start: time.Now()}
	if leader >= 0 {
		ev.OldLeader = r.nodes[leader].ID
	}
	r.setActive(&ev)
	defer r.setActive(nil)
	switch kind {
	case NemesisKill, NemesisPause:
		i := r.pickMaster(leader)
		if i < 0 {
			ev.Error = "no live master to target"
			break
		}
		ev.Targets, ev.LeaderLoss = []string{r.nodes[i].ID}, i == leader
		ev.Start = time.Now()
		if err := r.downMaster(i, kind); err != nil {
			ev.Error = err.Error()
			break
		}
		sleepCtx(ctx, hold)
		if err := r.upMaster(i); err != nil {
			ev.Error = err.Error()
		}
	case NemesisPartition:
		if err := r.partition(ctx, &ev, leader, hold); err != nil {
			ev.Error = err.Error()
		}
	case NemesisTransfer:
		if leader < 0 {
			ev.Error = "no leader to transfer from"
			break
		}
		ev.Targets, ev.LeaderLoss, ev.Start = []string{r.nodes[leader].ID}, true, time.Now()
		status, err := r.transfer(ctx, leader)
		if status == http.StatusNotFound || status == http.StatusMethodNotAllowed {
			r.note("transfer nemesis skipped: POST /v1/cluster/transfer-leadership is not served")
			return ev, false
		}
		if err != nil {
			ev.Error = err.Error()
		}
		sleepCtx(ctx, hold)
	case NemesisWorkerKill:
		j := r.rng.IntN(r.cfg.Workers)
		ev.Start = time.Now()
		ev.Targets = []string{r.workers.kill(j)}
		sleepCtx(ctx, hold)
		r.workers.spawn(j)
	}
	ev.Healed = time.Now()
	return ev, true
}

// pickMaster returns the leader with probability KillLeaderRatio, else a
// random master that is up, never leaving fewer than a majority up.
func (r *run) pickMaster(leader int) int {
	if leader >= 0 && r.rng.Float64() < r.cfg.KillLeaderRatio {
		return leader
	}
	var up []int
	for i := range r.nodes {
		if r.state(i) == masterUp {
			up = append(up, i)
		}
	}
	if len(up) == 0 {
		return -1
	}
	return up[r.rng.IntN(len(up))]
}

func (r *run) state(i int) masterState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.masters[i]
}

func (r *run) downMaster(i int, kind string) error {
	var err error
	st := masterKilled
	if kind == NemesisPause {
		st, err = masterPaused, r.cfg.Control.Pause(i)
	} else {
		err = r.cfg.Control.Kill(i)
	}
	if err == nil {
		r.mu.Lock()
		r.masters[i] = st
		r.mu.Unlock()
	}
	return err
}

func (r *run) upMaster(i int) error {
	var err error
	switch r.state(i) {
	case masterKilled:
		err = r.cfg.Control.Start(i)
	case masterPaused:
		err = r.cfg.Control.Resume(i)
	default:
		return nil
	}
	if err == nil {
		r.mu.Lock()
		r.masters[i] = masterUp
		r.mu.Unlock()
	}
	return err
}

// partition cuts the Raft links between groups of masters with drop
// faults on both ends (a one-way cut blackholes the leader's outbound
// traffic only), holds, then removes them.
func (r *run) partition(ctx context.Context, ev *Event, leader int, hold time.Duration) error {
	n := len(r.nodes)
	mode := r.cfg.PartitionModes[r.rng.IntN(len(r.cfg.PartitionModes))]
	if leader < 0 && (mode == PartitionIsolateLeader || mode == PartitionOneWay || mode == PartitionMinority) {
		mode = PartitionHalves
	}
	if n < 3 && mode == PartitionBridge {
		mode = PartitionHalves
	}
	perm := r.rng.Perm(n)
	side := make([]int, n) // 0 and 1 are cut from each other; 2 sees both
	action, dir := "drop", "both"
	switch mode {
	case PartitionIsolateLeader:
		side[leader] = 1
		ev.LeaderLoss = true
	case PartitionHalves:
		for _, i := range perm[:n/2] {
			side[i] = 1
		}
		ev.LeaderLoss = leader >= 0 && side[leader] == 1
	case PartitionBridge:
		side[perm[0]] = 2
		for _, i := range perm[1 : 1+(n-1)/2] {
			side[i] = 1
		}
		// Either side plus the bridge is a majority: the leader stays.
	case PartitionMinority:
		var followers []int
		for _, i := range perm {
			if i != leader {
				followers = append(followers, i)
			}
		}
		for _, i := range followers[:(n-1)/2] {
			side[i] = 1
		}
	case PartitionOneWay:
		side[leader] = 1
		action, dir = "blackhole", "out"
		ev.LeaderLoss = true
	}
	var groups [3][]string
	for i, s := range side {
		groups[s] = append(groups[s], r.nodes[i].ID)
	}
	ev.Detail = mode
	ev.Targets = groups[1]
	ev.Start = time.Now()
	safety := (hold + 10*time.Second).String() // faults expire even if we die
	var errs []string
	for i, s := range side {
		if s == 2 || r.state(i) != masterUp {
			continue
		}
		peers := groups[1-s]
		if mode == PartitionOneWay && s == 0 {
			continue // only the leader's outbound traffic is cut
		}
		if len(peers) == 0 {
			continue
		}
		if _, err := r.admin.AddFault(ctx, r.nodes[i].HTTP, client.FaultRequest{
			Peers: peers, Direction: dir, Action: action, Duration: safety,
		}); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", r.nodes[i].ID, err))
		}
	}
	sleepCtx(ctx, hold)
	r.clearFaults(context.WithoutCancel(ctx))
	if len(errs) > 0 {
		return fmt.Errorf("add faults: %s", strings.Join(errs, "; "))
	}
	return nil
}

// clearFaults removes every fault on every master that is up.
func (r *run) clearFaults(ctx context.Context) {
	for i, n := range r.nodes {
		if r.state(i) != masterUp {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		_, _ = r.admin.ClearFaults(cctx, n.HTTP)
		cancel()
	}
}

// transfer asks the leader to hand over; it returns the HTTP status.
func (r *run) transfer(ctx context.Context, leader int) (int, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodPost,
		"http://"+r.nodes[leader].HTTP+"/v1/cluster/transfer-leadership", bytes.NewReader([]byte("{}")))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("transfer-leadership: %s", resp.Status)
	}
	return resp.StatusCode, nil
}

// healAll undoes everything: faults cleared, masters resumed or restarted,
// workers restarted.
func (r *run) healAll(ctx context.Context) {
	for i := range r.nodes {
		if err := r.upMaster(i); err != nil {
			r.note("heal %s: %v", r.nodes[i].ID, err)
		}
	}
	r.clearFaults(ctx)
	r.workers.healAll()
}
