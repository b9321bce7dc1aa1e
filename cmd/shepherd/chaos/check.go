package chaos

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/shepherd/shepherd/api/client"
)

// Check is one verdict of the report.
type Check struct {
	Name    string `json:"name"`
	Pass    bool   `json:"pass"`
	Skipped bool   `json:"skipped,omitempty"`
	Value   int    `json:"value"`
	Detail  string `json:"detail,omitempty"`
}

// maxExamples bounds the task ids listed in a check's detail.
const maxExamples = 10

func examples[T any](xs []T) string {
	s := fmt.Sprint(xs[:min(len(xs), maxExamples)])
	if len(xs) > maxExamples {
		s += fmt.Sprintf(" and %d more", len(xs)-maxExamples)
	}
	return s
}

// check analyses the history and the final state.
func (r *run) check(began, nemesisEnd time.Time, final map[int64]client.Task, drained bool, events eventCheck) *Report {
	ops := r.hist.Ops()
	r.mu.Lock()
	evs := slices.Clone(r.events)
	notes := slices.Clone(r.notes)
	r.mu.Unlock()
	rep := &Report{
		RunID: r.cfg.RunID, Queue: r.queue, Seed: r.cfg.Seed, Masters: r.cfg.Masters,
		Duration: r.cfg.Duration.String(), Nemeses: r.cfg.Nemeses, Events: evs, Notes: notes, hist: r.hist,
	}
	rep.count(ops, final)
	ix := indexHistory(ops, final)
	dups, redeliveries, redelivered := checkDuplicated(ops, events.duplicates)
	rep.Counts.Redeliveries += redeliveries
	rep.Counts.RedeliveredTasks += redelivered
	rep.Checks = append(rep.Checks,
		checkLost(ix.acked, final, drained),
		dups,
		checkPhantom(ops, final, ix.submitted),
		checkIdempotency(ix.idsOfKey),
		r.checkLinearizable(ops, ix.keyOf, rep),
		events.check)

	rep.Recovery = recovery(evs, ops)
	for i := range rep.Events {
		if d := rep.Events[i].recovery; d > 0 {
			rep.Events[i].Recovery = d.Round(time.Millisecond).String()
		}
	}
	rep.Throughput = throughput(ops, evs, began, nemesisEnd)

	rep.OK = true
	for _, c := range rep.Checks {
		rep.OK = rep.OK && (c.Pass || c.Skipped)
	}
	return rep
}

// historyIndex relates keys and task ids as the history and the final
// state show them.
type historyIndex struct {
	submitted map[string]bool           // every key sent, whatever the outcome
	acked     map[string]int64          // key -> task id of an acknowledged submit
	keyOf     map[int64]string          // task id -> key
	idsOfKey  map[string]map[int64]bool // key -> every task id seen for it
}

func indexHistory(ops []Op, final map[int64]client.Task) historyIndex {
	ix := historyIndex{submitted: map[string]bool{}, acked: map[string]int64{},
		keyOf: map[int64]string{}, idsOfKey: map[string]map[int64]bool{}}
	addID := func(key string, id int64) {
		if ix.idsOfKey[key] == nil {
			ix.idsOfKey[key] = map[int64]bool{}
		}
		ix.idsOfKey[key][id] = true
	}
	for _, op := range ops {
		if op.Kind == opSubmit {
			ix.submitted[op.Key] = true
			if op.Outcome == outcomeOK {
				ix.acked[op.Key] = op.TaskID
				addID(op.Key, op.TaskID)
			}
		}
		if op.TaskID != 0 && op.Key != "" {
			ix.keyOf[op.TaskID] = op.Key
		}
	}
	for _, t := range final {
		ix.keyOf[t.ID] = t.IdempotencyKey
		addID(t.IdempotencyKey, t.ID)
	}
	return ix
}

// checkLost: an acknowledged submission never completed after healing;
// an unacknowledged task that exists but did not finish fails it too.
func checkLost(acked map[string]int64, final map[int64]client.Task, drained bool) Check {
	var lost []int64
	for _, id := range acked {
		if t, ok := final[id]; !ok || t.Status != "completed" {
			lost = append(lost, id)
		}
	}
	var unfinished []int64
	for id, t := range final {
		if t.Status != "completed" && !slices.Contains(lost, id) {
			unfinished = append(unfinished, id)
		}
	}
	sortIDs(lost, unfinished)
	c := Check{Name: "lost", Pass: len(lost) == 0, Value: len(lost)}
	if len(lost) > 0 {
		c.Detail = "acknowledged but not completed after healing: " + examples(lost)
	}
	if len(unfinished) > 0 {
		c.Detail = joinDetail(c.Detail, fmt.Sprintf("%d unacknowledged (unknown-outcome) tasks not completed: %s",
			len(unfinished), examples(unfinished)))
		c.Pass = false
	}
	if !drained {
		c.Detail = joinDetail(c.Detail, "the queue did not drain within the heal timeout")
	}
	return c
}

// checkDuplicated: two accepted completions with different attempts, or a
// lease after an accepted completion. Redeliveries are only counted.
func checkDuplicated(ops []Op, streamDups []int64) (c Check, redeliveries, redelivered int) {
	okAttempts := map[int64][]int{}
	firstDone := map[int64]time.Time{}
	for _, op := range ops {
		if op.Kind != opComplete || op.Outcome != outcomeOK {
			continue
		}
		if !slices.Contains(okAttempts[op.TaskID], op.Attempt) {
			okAttempts[op.TaskID] = append(okAttempts[op.TaskID], op.Attempt)
		}
		if t, ok := firstDone[op.TaskID]; !ok || op.End.Before(t) {
			firstDone[op.TaskID] = op.End
		}
	}
	dups := slices.Clone(streamDups)
	for id, as := range okAttempts {
		if len(as) > 1 {
			dups = append(dups, id)
		}
	}
	leases := map[int64]int{}
	var afterDone []int64
	for _, op := range ops {
		if op.Kind != opLease {
			continue
		}
		leases[op.TaskID]++
		if t, ok := firstDone[op.TaskID]; ok && op.Start.After(t) && !slices.Contains(afterDone, op.TaskID) {
			afterDone = append(afterDone, op.TaskID)
		}
	}
	for _, n := range leases {
		if n > 1 {
			redeliveries += n - 1
			redelivered++
		}
	}
	slices.Sort(dups)
	dups = slices.Compact(dups)
	sortIDs(afterDone)
	c = Check{Name: "duplicated", Pass: len(dups)+len(afterDone) == 0, Value: len(dups) + len(afterDone)}
	if len(dups) > 0 {
		c.Detail = "tasks completed twice: " + examples(dups)
	}
	if len(afterDone) > 0 {
		c.Detail = joinDetail(c.Detail, "leased again after completing: "+examples(afterDone))
	}
	return c, redeliveries, redelivered
}

// checkPhantom: tasks or leases of keys nobody submitted.
func checkPhantom(ops []Op, final map[int64]client.Task, submitted map[string]bool) Check {
	var phantom []int64
	for id, t := range final {
		if !submitted[t.IdempotencyKey] {
			phantom = append(phantom, id)
		}
	}
	for _, op := range ops {
		if op.Kind == opLease && !submitted[op.Key] && !slices.Contains(phantom, op.TaskID) {
			phantom = append(phantom, op.TaskID)
		}
	}
	sortIDs(phantom)
	c := Check{Name: "phantom", Pass: len(phantom) == 0, Value: len(phantom)}
	if len(phantom) > 0 {
		c.Detail = "tasks nobody submitted: " + examples(phantom)
	}
	return c
}

// checkIdempotency: one task per key.
func checkIdempotency(idsOfKey map[string]map[int64]bool) Check {
	var split []string
	for key, ids := range idsOfKey {
		if len(ids) > 1 {
			split = append(split, key)
		}
	}
	sort.Strings(split)
	c := Check{Name: "idempotency", Pass: len(split) == 0, Value: len(split)}
	if len(split) > 0 {
		c.Detail = "keys with more than one task: " + examples(split)
	}
	return c
}

// joinDetail appends more to a check's detail with "; ".
func joinDetail(detail, more string) string {
	if detail == "" {
		return more
	}
	return detail + "; " + more
}

func sortIDs(xs ...[]int64) {
	for _, x := range xs {
		slices.Sort(x)
	}
}

func (r *run) checkLinearizable(ops []Op, keyOf map[int64]string, rep *Report) Check {
	hist, model := toPorcupine(ops, keyOf)
	res, info := porcupine.CheckOperationsVerbose(model, hist, r.cfg.CheckTimeout)
	c := Check{Name: "linearizability", Value: len(hist)}
	switch res {
	case porcupine.Ok:
		c.Pass = true
		c.Detail = fmt.Sprintf("%d operations on %d tasks", len(hist), countKeys(ops, keyOf))
	case porcupine.Unknown:
		c.Skipped = true
		c.Detail = fmt.Sprintf("search timed out after %s (%d operations)", r.cfg.CheckTimeout, len(hist))
	default:
		c.Detail = "the per-task lifecycle history is not linearizable"
		if r.cfg.OutDir != "" {
			path := filepath.Join(r.cfg.OutDir, "linearizability.html")
			if err := porcupine.VisualizePath(model, info, path); err != nil {
				c.Detail += fmt.Sprintf(" (visualisation failed: %v)", err)
			} else {
				c.Detail += "; see " + path
				rep.Visualization = path
			}
		}
	}
	return c
}

func countKeys(ops []Op, keyOf map[int64]string) int {
	keys := map[string]bool{}
	for _, op := range ops {
		if k := op.Key; k != "" {
			keys[k] = true
		} else if k := keyOf[op.TaskID]; k != "" {
			keys[k] = true
		}
	}
	return len(keys)
}

// recovery measures, for every leadership loss, the time from the fault
// to the first lease granted after it (the leader stamps the grant).
func recovery(evs []Event, ops []Op) Recovery {
	var leases []Op
	for _, op := range ops {
		if op.Kind == opLease {
			leases = append(leases, op)
		}
	}
	sort.Slice(leases, func(i, j int) bool { return leases[i].End.Before(leases[j].End) })
	var ds []time.Duration
	for i := range evs {
		ev := &evs[i]
		if !ev.LeaderLoss || ev.Error != "" {
			continue
		}
		for _, l := range leases {
			granted := l.Grant
			if granted.IsZero() {
				granted = l.Start
			}
			if granted.After(ev.Start) && l.End.After(ev.Start) {
				ev.recovery = l.End.Sub(ev.Start)
				ds = append(ds, ev.recovery)
				break
			}
		}
	}
	rec := Recovery{Count: len(ds)}
	if len(ds) == 0 {
		return rec
	}
	slices.Sort(ds)
	rec.P50, rec.Max = ds[(len(ds)-1)/2], ds[len(ds)-1]
	rec.P50Ms, rec.MaxMs = rec.P50.Milliseconds(), rec.Max.Milliseconds()
	return rec
}

// throughput compares completions per second while each kind of fault is
// active with the fault-free stretches (3 s after each heal excluded).
func throughput(ops []Op, evs []Event, began, end time.Time) Throughput {
	var done []time.Time
	seen := map[int64]bool{}
	for _, op := range ops {
		if op.Kind == opComplete && op.Outcome == outcomeOK && !seen[op.TaskID] {
			seen[op.TaskID] = true
			done = append(done, op.End)
		}
	}
	rate := func(spans [][2]time.Time) (float64, time.Duration) {
		var n int
		var total time.Duration
		for _, s := range spans {
			if !s[1].After(s[0]) {
				continue
			}
			total += s[1].Sub(s[0])
			for _, t := range done {
				if !t.Before(s[0]) && t.Before(s[1]) {
					n++
				}
			}
		}
		if total <= 0 {
			return 0, 0
		}
		return float64(n) / total.Seconds(), total
	}
	const settle = 3 * time.Second
	var free [][2]time.Time
	cur := began.Add(settle)
	byKind := map[string][][2]time.Time{}
	for _, ev := range evs {
		if ev.Start.After(cur) {
			free = append(free, [2]time.Time{cur, ev.Start})
		}
		if t := ev.Healed.Add(settle); t.After(cur) {
			cur = t
		}
		k := ev.Kind
		if ev.Detail != "" {
			k += ":" + ev.Detail
		}
		byKind[k] = append(byKind[k], [2]time.Time{ev.Start, ev.Healed})
	}
	if end.After(cur) {
		free = append(free, [2]time.Time{cur, end})
	}
	tp := Throughput{ByFault: map[string]Rate{}}
	r, d := rate(free)
	tp.FaultFree = Rate{PerSecond: round1(r), Seconds: round1(d.Seconds())}
	for k, spans := range byKind {
		r, d := rate(spans)
		rt := Rate{PerSecond: round1(r), Seconds: round1(d.Seconds())}
		if tp.FaultFree.PerSecond > 0 {
			rt.Ratio = round1(100*r/tp.FaultFree.PerSecond) / 100
		}
		tp.ByFault[k] = rt
	}
	return tp
}

func round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }
