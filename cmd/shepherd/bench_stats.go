package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// percentile returns the p-th percentile (0 < p <= 100) of sorted by the
// nearest-rank method: the smallest value with at least p% of the values at
// or below it. It returns 0 for an empty slice.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if p <= 0 {
		return sorted[0]
	}
	// Nearest rank is ceil(p/100*n), computed in integers where possible
	// so that p=50, n=10 gives rank 5, not 6 from a rounding error.
	rank := int(p * float64(n) / 100)
	if float64(rank)*100 < p*float64(n) {
		rank++
	}
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// latencySummary is the distribution of submit-to-start latencies.
type latencySummary struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
	Mean  float64 `json:"mean_ms"`
}

func summarize(ds []time.Duration) latencySummary {
	if len(ds) == 0 {
		return latencySummary{}
	}
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	var sum time.Duration
	for _, d := range sorted {
		sum += d
	}
	return latencySummary{
		Count: len(sorted),
		P50:   ms(percentile(sorted, 50)),
		P90:   ms(percentile(sorted, 90)),
		P99:   ms(percentile(sorted, 99)),
		Max:   ms(sorted[len(sorted)-1]),
		Mean:  ms(sum / time.Duration(len(sorted))),
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// rate is n per d in 1/s, 0 for an empty interval.
func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// benchSettings echoes the parameters of a run in its report.
type benchSettings struct {
	Target         string  `json:"target"` // "local" or "remote"
	Masters        int     `json:"masters"`
	RaftProfile    string  `json:"raft_profile,omitempty"`
	Workers        int     `json:"workers"`
	Capacity       int     `json:"capacity"`
	PollWait       string  `json:"poll_wait"`
	Tasks          int     `json:"tasks"`
	Duration       string  `json:"duration,omitempty"`
	Rate           float64 `json:"rate,omitempty"`
	Batch          int     `json:"batch"`
	Submitters     int     `json:"submitters"`
	Queue          string  `json:"queue"`
	Name           string  `json:"name"`
	GOMAXPROCS     int     `json:"gomaxprocs"`
	CPUs           int     `json:"cpus"`
	MasterLogLevel string  `json:"master_log_level,omitempty"`
}

// cpuUse is the CPU time one process spent during the measured interval.
type cpuUse struct {
	Name    string  `json:"name"`
	Role    string  `json:"role,omitempty"` // leader or follower for masters
	Seconds float64 `json:"seconds"`
}

// benchReport is what a run measured; --json prints it as is.
type benchReport struct {
	Settings benchSettings `json:"settings"`

	Tasks         int            `json:"tasks"`
	Completed     int            `json:"completed_verified"`
	Failed        int            `json:"failed"`
	ElapsedSec    float64        `json:"elapsed_s"`
	Throughput    float64        `json:"tasks_per_s"`
	SubmitSec     float64        `json:"submit_s"`
	SubmitRate    float64        `json:"submit_per_s"`
	SubmitCalls   int            `json:"submit_requests"`
	TailSec       float64        `json:"tail_s"` // last submit answered -> last completion
	Latency       latencySummary `json:"submit_to_start"`
	Invocations   int            `json:"handler_invocations"`
	Redeliveries  int            `json:"redeliveries"`
	Entries       uint64         `json:"raft_entries"`
	EntriesPerTsk float64        `json:"raft_entries_per_task"`
	EntriesPerSec float64        `json:"raft_entries_per_s"`

	Traffic trafficStats `json:"worker_traffic"`

	CPU          []cpuUse `json:"cpu,omitempty"`
	CPUTotal     float64  `json:"cpu_total_s,omitempty"`
	CPUUtilCores float64  `json:"cpu_busy_cores,omitempty"`
	// HostBusyCores is what the whole machine used meanwhile; the gap to
	// CPUUtilCores is other processes' share.
	HostBusyCores float64 `json:"host_busy_cores,omitempty"`
	LoadAvg1      float64 `json:"load_avg_1m_before"`
}

func (r *benchReport) print(w io.Writer) {
	s := r.Settings
	target := fmt.Sprintf("%d local masters (raft profile %s)", s.Masters, s.RaftProfile)
	if s.Target == "remote" {
		target = fmt.Sprintf("%d existing masters", s.Masters)
	}
	amount := fmt.Sprintf("%d tasks", s.Tasks)
	if s.Duration != "" {
		amount = fmt.Sprintf("for %s (at most %d tasks)", s.Duration, s.Tasks)
	}
	mode := fmt.Sprintf("batches of %d", s.Batch)
	if s.Batch == 1 {
		mode = "single submits"
	}
	fmt.Fprintf(w, "shepherd bench: %s; %d workers x %d slots, poll wait %s; %d CPUs\n",
		target, s.Workers, s.Capacity, s.PollWait, s.CPUs)
	if s.Rate > 0 {
		amount += fmt.Sprintf(" at %.0f/s", s.Rate)
	}
	fmt.Fprintf(w, "  submit %s in %s by %d submitters, task %q in queue %q\n", amount, mode, s.Submitters, s.Name, s.Queue)
	fmt.Fprintf(w, "  tasks            %d submitted, %d verified completed, %d failed\n", r.Tasks, r.Completed, r.Failed)
	fmt.Fprintf(w, "  elapsed          %.3fs (first submit -> last completion; tail after last submit %.3fs)\n", r.ElapsedSec, r.TailSec)
	fmt.Fprintf(w, "  throughput       %.0f tasks/s end to end\n", r.Throughput)
	fmt.Fprintf(w, "  submit rate      %.0f tasks/s (%d requests in %.3fs)\n", r.SubmitRate, r.SubmitCalls, r.SubmitSec)
	l := r.Latency
	fmt.Fprintf(w, "  submit->start    p50 %s  p90 %s  p99 %s  max %s  mean %s\n",
		fmtMs(l.P50), fmtMs(l.P90), fmtMs(l.P99), fmtMs(l.Max), fmtMs(l.Mean))
	fmt.Fprintf(w, "  redeliveries     %d (handler invocations %d)\n", r.Redeliveries, r.Invocations)
	fmt.Fprintf(w, "  raft entries     %d committed, %.3f per task, %.0f per second\n", r.Entries, r.EntriesPerTsk, r.EntriesPerSec)
	t := r.Traffic
	fmt.Fprintf(w, "  worker traffic   %d polls (mean %.1fms, asked for %.1f tasks, %.1f tasks/poll), results: %d on polls, %d sent alone; %d heartbeats, %d redirects\n",
		t.Polls, t.PollMeanMs, t.PollMeanMax, float64(r.Invocations)/float64(max(t.Polls, 1)), t.ResultsOnPolls, t.ResultsOnTheirs, t.Heartbeats, t.Redirects)
	if len(r.CPU) > 0 {
		var parts []string
		for _, c := range r.CPU {
			name := c.Name
			if c.Role != "" {
				name += " (" + c.Role + ")"
			}
			parts = append(parts, fmt.Sprintf("%s %.2fs", name, c.Seconds))
		}
		fmt.Fprintf(w, "  cpu              %s; total %.2fs = %.2f of %d cores busy\n",
			strings.Join(parts, ", "), r.CPUTotal, r.CPUUtilCores, s.CPUs)
		fmt.Fprintf(w, "  host             %.2f cores busy meanwhile (%.2f by other processes); load average before %.2f\n",
			r.HostBusyCores, max(r.HostBusyCores-r.CPUUtilCores, 0), r.LoadAvg1)
	}
}

func fmtMs(v float64) string {
	switch {
	case v >= 1000:
		return strconv.FormatFloat(v/1000, 'f', 2, 64) + "s"
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 0, 64) + "ms"
	default:
		return strconv.FormatFloat(v, 'f', 1, 64) + "ms"
	}
}

func (r *benchReport) printJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// hostCPU returns the busy (non-idle, non-iowait) CPU time of the whole
// machine from /proc/stat, to tell the bench's own load from other
// processes' on a shared machine.
func hostCPU() (time.Duration, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, false
	}
	var busy uint64
	for i, v := range f[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		if i >= 7 { // guest time is already counted in user
			break
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, false
		}
		busy += n
	}
	return time.Duration(busy) * time.Second / clockTicks, true
}

// loadAvg returns the 1-minute load average, or -1.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

// clockTicks is USER_HZ, which is 100 on every Linux platform Go supports.
const clockTicks = 100

// procCPU returns the user+system CPU time of a process from
// /proc/<pid>/stat; ok is false where that is not available.
func procCPU(pid string) (time.Duration, bool) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, false
	}
	return parseProcStatCPU(string(b))
}

// parseProcStatCPU extracts utime+stime (fields 14 and 15) from the text
// of /proc/<pid>/stat. The command name (field 2) may hold spaces and
// parentheses, so fields are counted from the last ')'.
func parseProcStatCPU(stat string) (time.Duration, bool) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(ut+st) * time.Second / clockTicks, true
}
