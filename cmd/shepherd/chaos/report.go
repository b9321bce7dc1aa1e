package chaos

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/shepherd/shepherd/api/client"
)

// Report is the outcome of a run: counts, check verdicts and measurements.
type Report struct {
	OK            bool       `json:"ok"`
	RunID         string     `json:"run_id"`
	Queue         string     `json:"queue"`
	Seed          int64      `json:"seed"`
	Masters       []string   `json:"masters"`
	Duration      string     `json:"duration"`
	Nemeses       []string   `json:"nemeses"`
	Counts        Counts     `json:"counts"`
	Checks        []Check    `json:"checks"`
	Recovery      Recovery   `json:"recovery"`
	Throughput    Throughput `json:"throughput"`
	Events        []Event    `json:"events"`
	Notes         []string   `json:"notes,omitempty"`
	Visualization string     `json:"visualization,omitempty"`

	hist *History
}

// Counts summarises the history.
type Counts struct {
	Submits          map[string]int `json:"submits"`   // by outcome
	Completes        map[string]int `json:"completes"` // by outcome or error code
	Leases           int            `json:"leases"`
	Tasks            int            `json:"tasks"`
	Completed        int            `json:"completed"`
	Redeliveries     int            `json:"redeliveries"`
	RedeliveredTasks int            `json:"redelivered_tasks"`
}

// Recovery is the time from each leadership loss to the next dispatch.
type Recovery struct {
	Count int           `json:"count"`
	P50   time.Duration `json:"-"`
	Max   time.Duration `json:"-"`
	P50Ms int64         `json:"p50_ms"`
	MaxMs int64         `json:"max_ms"`
}

// Throughput is completions per second, fault-free and per fault kind.
type Throughput struct {
	FaultFree Rate            `json:"fault_free"`
	ByFault   map[string]Rate `json:"by_fault"`
}

// Rate is a completion rate over some seconds; Ratio is relative to the
// fault-free rate.
type Rate struct {
	PerSecond float64 `json:"per_second"`
	Seconds   float64 `json:"seconds"`
	Ratio     float64 `json:"ratio,omitempty"`
}

func (rep *Report) count(ops []Op, final map[int64]client.Task) {
	rep.Counts.Submits = map[string]int{}
	rep.Counts.Completes = map[string]int{}
	for _, op := range ops {
		switch op.Kind {
		case opSubmit:
			rep.Counts.Submits[op.Outcome]++
		case opComplete:
			k := op.Outcome
			if op.Code != "" && op.Outcome == outcomeFailed {
				k = op.Code
			}
			rep.Counts.Completes[k]++
		case opLease:
			rep.Counts.Leases++
		}
	}
	rep.Counts.Tasks = len(final)
	for _, t := range final {
		if t.Status == "completed" {
			rep.Counts.Completed++
		}
	}
}

// Print writes the report as text.
func (rep *Report) Print(w io.Writer) {
	verdict := "PASS"
	if !rep.OK {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "chaos run %s: %s (seed %d, %s, nemeses %s)\n", rep.RunID, verdict, rep.Seed, rep.Duration,
		strings.Join(rep.Nemeses, ","))
	c := rep.Counts
	fmt.Fprintf(w, "  submits %v, leases %d, completes %v\n", mapString(c.Submits), c.Leases, mapString(c.Completes))
	fmt.Fprintf(w, "  tasks %d, completed %d, redelivered %d tasks (%d extra leases)\n",
		c.Tasks, c.Completed, c.RedeliveredTasks, c.Redeliveries)
	fmt.Fprintln(w, "checks:")
	for _, ch := range rep.Checks {
		v := "ok  "
		switch {
		case ch.Skipped:
			v = "skip"
		case !ch.Pass:
			v = "FAIL"
		}
		fmt.Fprintf(w, "  %s %-16s %d", v, ch.Name, ch.Value)
		if ch.Detail != "" {
			fmt.Fprintf(w, "  %s", ch.Detail)
		}
		fmt.Fprintln(w)
	}
	if rep.Recovery.Count > 0 {
		fmt.Fprintf(w, "recovery after %d leadership losses (fault to first dispatch): p50 %s, max %s\n",
			rep.Recovery.Count, rep.Recovery.P50.Round(time.Millisecond), rep.Recovery.Max.Round(time.Millisecond))
	}
	if rep.Throughput.FaultFree.Seconds > 0 {
		fmt.Fprintf(w, "throughput: fault-free %.1f completions/s over %.0fs\n",
			rep.Throughput.FaultFree.PerSecond, rep.Throughput.FaultFree.Seconds)
	} else {
		fmt.Fprintln(w, "throughput: no fault-free stretch to compare with (interval too short)")
	}
	kinds := make([]string, 0, len(rep.Throughput.ByFault))
	for k := range rep.Throughput.ByFault {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		r := rep.Throughput.ByFault[k]
		fmt.Fprintf(w, "  during %-26s %.1f/s over %.0fs", k, r.PerSecond, r.Seconds)
		if r.Ratio > 0 {
			fmt.Fprintf(w, " (%.0f%% of fault-free)", 100*r.Ratio)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "faults (%d):\n", len(rep.Events))
	for _, ev := range rep.Events {
		line := fmt.Sprintf("  %s %-11s %-15s %v", ev.Start.Format("15:04:05.000"), ev.Kind, ev.Detail, ev.Targets)
		if ev.LeaderLoss {
			line += " leader-loss"
			if ev.Recovery != "" {
				line += " recovered in " + ev.Recovery
			}
		}
		if ev.Error != "" {
			line += " error: " + ev.Error
		}
		fmt.Fprintln(w, line)
	}
	for _, n := range rep.Notes {
		fmt.Fprintln(w, "note:", n)
	}
}

func mapString(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// WriteFiles writes report.json and the history (history.json) to dir.
func (rep *Report) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	write := func(name string, v any) error {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, name), append(b, '\n'), 0o644)
	}
	if err := write("report.json", rep); err != nil {
		return err
	}
	if rep.hist != nil {
		return write("history.json", rep.hist.Ops())
	}
	return nil
}
