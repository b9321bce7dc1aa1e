package main

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/shepherd/shepherd/api/client"
)

// taskStatuses are the columns of the counts, in lifecycle order.
var taskStatuses = []string{"scheduled", "pending", "running", "completed", "failed", "canceled"}

// clearScreen moves the cursor home and clears the terminal.
const clearScreen = "\x1b[H\x1b[2J"

// watchView is what `shepherd watch` shows: the state the event stream
// built, as of the last event. The stream goroutine applies events; the
// refresh loop renders. Safe for concurrent use.
type watchView struct {
	maxEvents int

	mu         sync.Mutex
	node       string // id of the master being read
	addr       string // its base URL
	connected  bool   // an event arrived since the last (re)connect
	reconnects int
	lastClose  int
	index      uint64 // last replicated index
	received   int    // replicated events received
	resets     int    // stream.reset: the master no longer held what we missed
	raft       client.EventRaft
	rates      client.EventRates
	counts     map[string]map[string]int
	workers    map[string]*client.Worker
	cluster    *client.ClusterStatus
	leader     string
	term       uint64
	recent     []string // newest first
}

func newWatchView(maxEvents int) *watchView {
	return &watchView{maxEvents: maxEvents, counts: map[string]map[string]int{}, workers: map[string]*client.Worker{}}
}

// connection records which master the stream reads and how often it
// had to reconnect.
func (v *watchView) connection(addr string, reconnects, lastClose int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if reconnects != v.reconnects {
		v.connected = false
	}
	v.addr, v.reconnects, v.lastClose = addr, reconnects, lastClose
}

// apply folds one event of the stream into the view.
func (v *watchView) apply(ev client.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.connected = true
	if ev.Node != "" {
		v.node = ev.Node
	}
	switch ev.Type {
	case "stream.reset":
		v.resets++
		v.note(fmt.Sprintf("%8s  stream.reset: events after %d are gone (oldest held %d)", "-", ev.Since, ev.Oldest))
	case "state.snapshot":
		v.index = ev.Index
		v.counts = ev.Counts
		v.workers = map[string]*client.Worker{}
		for i := range ev.Workers {
			w := ev.Workers[i]
			v.workers[w.ID] = &w
		}
		if ev.Cluster != nil {
			v.setCluster(*ev.Cluster)
		}
		v.note(fmt.Sprintf("%8d  state.snapshot from %s", ev.Index, ev.Node))
	case "node.metrics":
		if ev.Raft != nil {
			v.raft = *ev.Raft
			v.term = max(v.term, ev.Raft.Term)
			if ev.Raft.Leader != "" {
				v.leader = ev.Raft.Leader
			}
		}
		if ev.Rates != nil {
			v.rates = *ev.Rates
		}
		if ev.Queues != nil {
			v.counts = ev.Queues
		}
	case "node.leader_changed":
		v.leader, v.term = "", ev.Term
		if ev.Leader != nil {
			v.leader = ev.Leader.ID
		}
		v.note(fmt.Sprintf("%8s  leader is %s (term %d, seen by %s)", "-", orNone(v.leader), ev.Term, ev.Node))
	default:
		if ev.Replicated() {
			v.index = ev.Index
			v.received++
			v.applyReplicated(ev)
			v.note(fmt.Sprintf("%8d  %s", ev.Index, describeEvent(ev)))
		}
	}
}

func (v *watchView) applyReplicated(ev client.Event) {
	if ev.Worker != nil {
		w := *ev.Worker
		v.workers[w.ID] = &w
	}
	t := ev.Task
	if t == nil {
		return
	}
	if ev.Type == "task.leased" {
		if w := v.workers[t.WorkerID]; w != nil && !slices.Contains(w.Running, t.ID) {
			w.Running = append(w.Running, t.ID)
		}
		return
	}
	if t.Status != "running" {
		for _, w := range v.workers {
			w.Running = slices.DeleteFunc(w.Running, func(id int64) bool { return id == t.ID })
		}
	}
}

// setCluster takes a cluster status read from the master being watched.
func (v *watchView) setCluster(st client.ClusterStatus) {
	v.cluster = &st
	if st.Leader != nil {
		v.leader = st.Leader.ID
	}
	v.term = max(v.term, st.Term)
}

// SetCluster is setCluster for the refresh loop.
func (v *watchView) SetCluster(st client.ClusterStatus) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.setCluster(st)
}

// Addr is the base URL of the master being read.
func (v *watchView) Addr() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.addr
}

func (v *watchView) note(line string) {
	v.recent = append([]string{line}, v.recent...)
	if len(v.recent) > v.maxEvents {
		v.recent = v.recent[:v.maxEvents]
	}
}

func describeEvent(ev client.Event) string {
	switch {
	case ev.Task != nil:
		t := ev.Task
		s := fmt.Sprintf("%-16s #%d %s [%s]", ev.Type, t.ID, t.Name, t.Queue)
		if t.WorkerID != "" && t.Status == "running" {
			s += " on " + t.WorkerID
		}
		if ev.Reason != "" {
			s += " (" + ev.Reason + ")"
		}
		if t.Error != "" && (t.Status == "failed" || ev.Type == "task.retrying") {
			s += ": " + t.Error
		}
		return s
	case ev.Worker != nil:
		return fmt.Sprintf("%-16s %s (%s)", ev.Type, ev.Worker.ID, ev.Worker.Status)
	case ev.Server != nil:
		return fmt.Sprintf("%-16s %s %s", ev.Type, ev.Server.ID, ev.Reason)
	}
	return ev.Type
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// render writes one frame; with clear it first clears the terminal.
// The frame is written with one Write, so frames never interleave.
func (v *watchView) render(w io.Writer, now time.Time, clear bool) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	var b bytes.Buffer
	if clear {
		b.WriteString(clearScreen)
	}
	state := "connecting"
	if v.connected {
		state = "reading"
	}
	fmt.Fprintf(&b, "Shepherd watch  %s %s (%s)  index %d  lag %d  reconnects %d", state, orNone(v.node),
		strings.TrimPrefix(v.addr, "http://"), v.index, v.raft.Lag, v.reconnects)
	if v.reconnects > 0 {
		fmt.Fprintf(&b, " (last close %d)", v.lastClose)
	}
	fmt.Fprintf(&b, "  %s\n\n", now.Format("15:04:05"))
	v.renderCluster(&b)
	v.renderCounts(&b)
	v.renderWorkers(&b)
	fmt.Fprintf(&b, "Recent events  (%d received", v.received)
	if v.resets > 0 {
		fmt.Fprintf(&b, ", %d stream resets", v.resets)
	}
	b.WriteString(")\n")
	for _, l := range v.recent {
		b.WriteString("  " + l + "\n")
	}
	if !clear {
		b.WriteString("\n")
	}
	_, err := w.Write(b.Bytes())
	return err
}

func (v *watchView) renderCluster(b *bytes.Buffer) {
	fmt.Fprintf(b, "Cluster  term %d  leader %s\n", v.term, orNone(v.leader))
	if v.cluster == nil {
		b.WriteString("\n")
		return
	}
	tw := tabwriter.NewWriter(b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  MASTER\tHTTP\tROLE\tSUFFRAGE\t")
	for _, s := range v.cluster.Servers {
		id, note := s.ID, ""
		if s.ID == v.leader {
			id += " *"
		}
		if s.ID == v.node {
			note = "<- reading"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", id, s.HTTPAddr, s.State, s.Suffrage, note)
	}
	tw.Flush()
	b.WriteString("\n")
}

func (v *watchView) renderCounts(b *bytes.Buffer) {
	totals := map[string]int{}
	queues := make([]string, 0, len(v.counts))
	for q, by := range v.counts {
		queues = append(queues, q)
		for st, n := range by {
			totals[st] += n
		}
	}
	sort.Strings(queues)
	b.WriteString("Tasks   ")
	for _, st := range taskStatuses {
		fmt.Fprintf(b, " %s %d ", st, totals[st])
	}
	fmt.Fprintf(b, "   %.1f submitted/s  %.1f completed/s\n", v.rates.Submitted, v.rates.Completed)
	tw := tabwriter.NewWriter(b, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "  QUEUE\t%s\t\n", strings.ToUpper(strings.Join(taskStatuses, "\t")))
	for _, q := range queues {
		fmt.Fprintf(tw, "  %s\t", q)
		for _, st := range taskStatuses {
			fmt.Fprintf(tw, "%d\t", v.counts[q][st])
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	b.WriteString("\n")
}

func (v *watchView) renderWorkers(b *bytes.Buffer) {
	ids := make([]string, 0, len(v.workers))
	for id := range v.workers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	fmt.Fprintf(b, "Workers  %d\n", len(ids))
	tw := tabwriter.NewWriter(b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  WORKER\tSTATUS\tCPU\tMEMORY\tRUNNING\t")
	for _, id := range ids {
		w := v.workers[id]
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d/%d\t\n", w.ID, w.Status, percent(w.CPU), percent(w.Memory), len(w.Running), w.Capacity)
	}
	tw.Flush()
	b.WriteString("\n")
}

func percent(x float64) string { return fmt.Sprintf("%.0f%%", x*100) }
