package fsm

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// gen writes a random but seeded command log the way a leader would: it
// reads an oracle FSM (the one the log is applied to as it grows) to pick
// plausible ids and attempts, and now and then gets them wrong on purpose.
type gen struct {
	r      *rand.Rand
	oracle *FSM
	now    time.Time
}

var (
	genQueues  = []string{"default", "mail", "video"}
	genWorkers = []string{"w1", "w2", "w3", "w4"}
	genLabels  = []map[string]string{nil, {"gpu": "yes"}, {"zone": "a"}, {"gpu": "yes", "zone": "a"}}
)

func newGen(seed uint64, oracle *FSM) *gen {
	return &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), oracle: oracle, now: base}
}

func (g *gen) pick(n int) int { return g.r.IntN(n) }

// next returns one command; time moves forward by up to 3 s.
func (g *gen) next() Command {
	g.now = g.now.Add(time.Duration(g.r.IntN(3000)) * time.Millisecond)
	switch n := g.pick(112); {
	case n < 20:
		return g.submit()
	case n < 38:
		return g.lease()
	case n < 50:
		return g.complete()
	case n < 60:
		return g.fail()
	case n < 66:
		return g.requeue()
	case n < 71:
		if t, ok := g.running(); ok && g.pick(2) == 0 {
			return Cancel{Now: g.now, TaskID: t.ID}
		}
		return Cancel{Now: g.now, TaskID: g.anyTask()}
	case n < 77:
		return Promote{Now: g.now}
	case n < 82:
		w := genWorkers[g.pick(len(genWorkers))]
		reg := RegisterWorker{Now: g.now, ID: w, Labels: genLabels[g.pick(len(genLabels))], Capacity: 1 + g.pick(4)}
		if g.pick(2) == 0 {
			reg.ReportsRunning = true
			for _, t := range g.oracle.Leases(w) {
				if g.pick(3) > 0 {
					reg.Running = append(reg.Running, t.ID)
				}
			}
		}
		return reg
	case n < 84:
		return WorkerDown{Now: g.now, WorkerID: genWorkers[g.pick(len(genWorkers))], Reason: "ttl"}
	case n < 86:
		return DrainWorker{Now: g.now, WorkerID: genWorkers[g.pick(len(genWorkers))]}
	case n < 91:
		return g.stats()
	case n < 93:
		id := fmt.Sprintf("m%d", g.pick(3))
		if g.pick(3) == 0 {
			return RemoveServer{ID: id}
		}
		return RegisterServer{Server: Server{ID: id, RaftAddr: id + ":7000", HTTPAddr: id + ":8080"}}
	case n < 100:
		return g.batch()
	default:
		return g.ext()
	}
}

func (g *gen) submit() Submit {
	c := Submit{Now: g.now}
	for range 1 + g.pick(3) {
		sp := TaskSpec{
			Name:        fmt.Sprintf("job-%d", g.pick(5)),
			Queue:       genQueues[g.pick(len(genQueues))],
			Priority:    g.pick(4) - 1,
			Labels:      genLabels[g.pick(len(genLabels))],
			MaxAttempts: 1 + g.pick(3),
			Timeout:     time.Duration(1+g.pick(20)) * time.Second,
		}
		if g.pick(4) == 0 {
			sp.RunAt = g.now.Add(time.Duration(g.pick(20)-5) * time.Second)
		}
		if g.pick(3) == 0 {
			sp.IdempotencyKey = fmt.Sprintf("key-%d", g.pick(30))
		}
		if g.pick(25) == 0 {
			sp.MaxAttempts = 0 // invalid: the whole submit is refused
		}
		if g.pick(12) == 0 {
			sp.Broadcast = true
		}
		if g.pick(4) == 0 {
			sp.AffinityKey = fmt.Sprintf("a%d", g.pick(3))
			sp.RetryBase, sp.RetryMax = time.Second, time.Minute
		}
		c.Tasks = append(c.Tasks, sp)
	}
	return c
}

func (g *gen) lease() Lease {
	w := genWorkers[g.pick(len(genWorkers))]
	view, _, _ := g.oracle.Worker(w)
	ids := g.oracle.Candidates(genQueues[:1+g.pick(len(genQueues))], view.Labels, 1+g.pick(3), nil)
	if g.pick(5) == 0 {
		ids = append(ids, g.anyTask()) // maybe taken, maybe not eligible
	}
	return Lease{Now: g.now, WorkerID: w, TaskIDs: ids}
}

// running picks a running task, or any task when none runs.
func (g *gen) running() (Task, bool) {
	list, _ := g.oracle.ListTasks(TaskFilter{Status: StatusRunning}, 0, 50)
	if len(list) == 0 {
		t, ok := g.oracle.Task(g.anyTask())
		return t, ok
	}
	return list[g.pick(len(list))], true
}

// report returns worker and attempt for a report on t, mostly right.
func (g *gen) report(t Task) (string, int) {
	w, a := t.WorkerID, t.Attempt
	switch g.pick(8) {
	case 0:
		a--
	case 1:
		w = genWorkers[g.pick(len(genWorkers))]
	}
	if w == "" {
		w = genWorkers[0]
	}
	return w, a
}

func (g *gen) complete() Complete {
	t, _ := g.running()
	w, a := g.report(t)
	return Complete{Now: g.now, WorkerID: w, TaskID: t.ID, Attempt: a, Result: []byte(fmt.Sprintf(`{"n":%d}`, g.pick(100)))}
}

func (g *gen) fail() Fail {
	t, _ := g.running()
	w, a := g.report(t)
	return Fail{Now: g.now, WorkerID: w, TaskID: t.ID, Attempt: a, Error: "boom", Retry: g.pick(3) > 0,
		RetryAt: g.now.Add(time.Duration(g.pick(10)-2) * time.Second)}
}

func (g *gen) requeue() Requeue {
	leases := g.oracle.ExpiredLeases(g.now)
	if len(leases) > 3 {
		leases = leases[:3]
	}
	if t, ok := g.running(); ok && g.pick(3) == 0 {
		leases = append(leases, TaskAttempt{TaskID: t.ID, Attempt: t.Attempt - g.pick(2)})
	}
	return Requeue{Now: g.now, Leases: leases, Reason: "lease expired"}
}

func (g *gen) stats() WorkerStats {
	c := WorkerStats{Now: g.now}
	for _, w := range genWorkers[:1+g.pick(len(genWorkers))] {
		st := WorkerStat{WorkerID: w, CPU: float64(g.pick(100)) / 100, Memory: float64(g.pick(100)) / 100, SeenAt: g.now}
		for _, t := range g.oracle.Leases(w) {
			if st.Progress == nil {
				st.Progress = map[int64]float64{}
			}
			st.Progress[t.ID] = float64(g.pick(11)) / 10
			if g.pick(3) == 0 {
				if st.Messages == nil {
					st.Messages = map[int64]string{}
				}
				st.Messages[t.ID] = fmt.Sprintf("step %d", g.pick(5))
			}
		}
		c.Stats = append(c.Stats, st)
	}
	return c
}

// batch groups a few commands, as a poll or a burst of completions would.
// The oracle does not see the earlier ones, so later ones are often stale.
func (g *gen) batch() Batch {
	var cmds []Command
	for range 1 + g.pick(4) {
		var c Command
		for c = g.next(); c.Type() == CmdBatch; c = g.next() {
		}
		cmds = append(cmds, c)
	}
	b, err := NewBatch(cmds...)
	if err != nil {
		panic(err)
	}
	return b
}

// ext returns one of the task-semantics commands.
func (g *gen) ext() Command {
	sched := fmt.Sprintf("s%d", 1+g.pick(3))
	switch g.pick(9) {
	case 0:
		t, _ := g.oracle.Task(g.anyTask())
		return Retry{Now: g.now, TaskID: t.ID, Attempts: g.pick(3)}
	case 1:
		sc := Schedule{ID: sched, Cron: "@every 1s", Overlap: []string{OverlapAllow, OverlapSkip}[g.pick(2)],
			Misfire: []string{MisfireSkip, MisfireRunOnce}[g.pick(2)], Task: g.submit().Tasks[0]}
		if g.pick(4) == 0 {
			sc.ID = "" // the FSM names it
		}
		return PutSchedule{Now: g.now, Schedule: sc}
	case 2:
		switch g.pick(3) {
		case 0:
			return DeleteSchedule{Now: g.now, ID: sched}
		case 1:
			return PauseSchedule{Now: g.now, ID: sched, Paused: g.pick(2) == 0}
		}
		fallthrough
	case 3:
		s, _ := g.oracle.Schedule(sched)
		c := FireSchedule{Now: g.now, ScheduleID: sched, Through: g.now.Add(-time.Duration(g.pick(3)) * time.Second)}
		for tick := s.LastTick.Add(time.Second); !tick.After(c.Through) && len(c.Ticks) < 3; tick = tick.Add(time.Second) {
			c.Ticks = append(c.Ticks, tick)
		}
		return c
	case 4:
		c := SetQueue{Now: g.now, Queue: genQueues[g.pick(len(genQueues))]}
		if g.pick(2) == 0 {
			p := g.pick(3) == 0
			c.Paused = &p
		} else {
			m := g.pick(4) - 1 // -1 is refused
			c.MaxRunning = &m
		}
		return c
	case 5:
		before := g.now.Add(-time.Duration(g.pick(30)) * time.Second)
		ids := g.oracle.FinishedBefore(before, 1+g.pick(4))
		return Purge{Now: g.now, Before: before, TaskIDs: append(ids, g.anyTask())}
	case 6, 7:
		t, _ := g.running()
		w, a := g.report(t)
		return ExtendLeases{Now: g.now, WorkerID: w, Leases: []TaskAttempt{{TaskID: t.ID, Attempt: a}}}
	default:
		return RemoveWorker{Now: g.now, WorkerID: genWorkers[g.pick(len(genWorkers))]}
	}
}

func (g *gen) anyTask() int64 {
	g.oracle.mu.RLock()
	n := g.oracle.s.nextID
	g.oracle.mu.RUnlock()
	return int64(g.pick(int(n) + 1)) // 0 and nextID do not exist
}

// genLog applies n generated commands to a fresh FSM at indexes 1..n and
// returns the log (encoded), the FSM and the events it emitted.
func genLog(t testing.TB, seed uint64, n int) ([][]byte, *FSM, []eventKey) {
	t.Helper()
	f := New(nil)
	g := newGen(seed, f)
	log := make([][]byte, 0, n)
	var events []eventKey
	for i := range n {
		buf, err := Encode(g.next())
		if err != nil {
			t.Fatal(err)
		}
		log = append(log, buf)
		_, ev := f.ApplyCommand(uint64(i+1), buf)
		events = append(events, eventKeys(ev)...)
	}
	return log, f, events
}
