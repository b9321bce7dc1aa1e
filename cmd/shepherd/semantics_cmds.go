package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shepherd/shepherd/api/client"
)

// submitExtras holds submit flags that need parsing after flag.Parse.
type submitExtras struct {
	retryBase, retryMax, runAt string
}

// addSemanticsFlags adds the task-semantics flags of submit and
// schedules create.
func addSemanticsFlags(fs *flag.FlagSet, req *client.SubmitRequest) *submitExtras {
	x := &submitExtras{}
	fs.StringVar(&x.retryBase, "retry-base", "", "first retry backoff, e.g. 1s (default: cluster's)")
	fs.StringVar(&x.retryMax, "retry-max", "", "longest retry backoff, e.g. 5m (default: cluster's)")
	fs.StringVar(&x.runAt, "run-at", "", "run at this RFC 3339 time")
	fs.StringVar(&req.AffinityKey, "affinity-key", "", "tasks with the same key go to the same worker (--dispatch affinity)")
	fs.BoolVar(&req.Broadcast, "broadcast", false, "run once on every eligible worker")
	return x
}

// finish sets the fields of req that the flags name as strings.
func (x *submitExtras) finish(req *client.SubmitRequest) error {
	if x.retryBase != "" || x.retryMax != "" {
		req.RetryBackoff = &client.RetryBackoff{Base: x.retryBase, Max: x.retryMax}
	}
	if x.runAt != "" {
		t, err := time.Parse(time.RFC3339, x.runAt)
		if err != nil {
			return fmt.Errorf("--run-at: %w", err)
		}
		req.RunAt = &t
	}
	return nil
}

func runTaskAction(ctx context.Context, action string, args []string, stdout, stderr io.Writer) error {
	fs, masters := clientFlags("tasks "+action, stderr)
	attempts := 0
	if action == "retry" {
		fs.IntVar(&attempts, "attempts", 0, "attempts the task gets (default 3)")
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: shepherd tasks %s [--masters ...] ID", action)
	}
	id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
	if err != nil {
		return fmt.Errorf("task id %q is not a number", fs.Arg(0))
	}
	c := client.New(splitList(*masters))
	var task client.Task
	if action == "retry" {
		task, err = c.RetryTask(ctx, id, attempts)
	} else {
		task, err = c.CancelTask(ctx, id)
	}
	if err != nil {
		return err
	}
	return printJSON(stdout, task)
}

func runSchedules(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: shepherd schedules list|get|create|delete|pause|resume")
	}
	fs, masters := clientFlags("schedules "+args[0], stderr)
	c := func() *client.Client { return client.New(splitList(*masters)) }
	switch args[0] {
	case "list":
		asJSON := fs.Bool("json", false, "print JSON")
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		list, err := c().ListSchedules(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(stdout, list)
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tCRON\tTZ\tTASK\tOVERLAP\tMISFIRE\tFIRED\tSKIPPED\tNEXT")
		for _, s := range list {
			next := "-"
			if s.NextTick != nil {
				next = s.NextTick.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", s.ID, s.Cron, s.TimeZone, s.Task.Name,
				s.Overlap, s.Misfire, s.Fired, s.Skipped, next)
		}
		return tw.Flush()
	case "pause", "resume":
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return fmt.Errorf("usage: shepherd schedules %s [--masters ...] ID", args[0])
		}
		pause := c().PauseSchedule
		if args[0] == "resume" {
			pause = c().ResumeSchedule
		}
		s, err := pause(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		return printJSON(stdout, s)
	case "get", "delete":
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return fmt.Errorf("usage: shepherd schedules %s [--masters ...] ID", args[0])
		}
		if args[0] == "delete" {
			return c().DeleteSchedule(ctx, fs.Arg(0))
		}
		s, err := c().GetSchedule(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		return printJSON(stdout, s)
	case "create":
		var req client.ScheduleRequest
		fs.StringVar(&req.ID, "id", "", "schedule id (default: assigned)")
		fs.StringVar(&req.Cron, "cron", "", `cron expression, e.g. "*/10 * * * * *" or "0 3 * * *" (required)`)
		fs.StringVar(&req.TimeZone, "timezone", "", "IANA time zone of the expression (default UTC)")
		fs.StringVar(&req.Overlap, "overlap", "allow", "allow, or skip a tick while the previous run is active")
		fs.StringVar(&req.Misfire, "misfire", "skip", "skip, or run-once: missed ticks after downtime")
		fs.StringVar(&req.Task.Name, "name", "", "task name (required)")
		fs.StringVar(&req.Task.Queue, "queue", "", "queue (default: default)")
		payload := fs.String("payload", "", "JSON payload")
		fs.IntVar(&req.Task.Priority, "priority", 0, "higher runs first")
		labels := fs.String("labels", "", "required worker labels k=v,...")
		fs.IntVar(&req.Task.MaxAttempts, "max-attempts", 0, "attempts per run (default 3)")
		fs.StringVar(&req.Task.Timeout, "timeout", "", "lease length per run (default 5m)")
		extras := addSemanticsFlags(fs, &req.Task)
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		if err := extras.finish(&req.Task); err != nil {
			return err
		}
		if *payload != "" {
			if !json.Valid([]byte(*payload)) {
				return errors.New("--payload is not valid JSON")
			}
			req.Task.Payload = json.RawMessage(*payload)
		}
		var err error
		if req.Task.Labels, err = parseLabels(*labels); err != nil {
			return err
		}
		s, err := c().PutSchedule(ctx, req)
		if err != nil {
			return err
		}
		return printJSON(stdout, s)
	}
	return fmt.Errorf("unknown schedules command %q (want list, get, create, delete, pause or resume)", args[0])
}

func runQueues(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: shepherd queues list | pause NAME | resume NAME | limit NAME N")
	}
	fs, masters := clientFlags("queues "+args[0], stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	c := client.New(splitList(*masters))
	var q client.Queue
	var err error
	switch {
	case args[0] == "list":
		list, err := c.ListQueues(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(stdout, list)
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "QUEUE\tPAUSED\tMAX RUNNING\tCOUNTS")
		for _, q := range list {
			limit := "-"
			if q.MaxRunning > 0 {
				limit = strconv.Itoa(q.MaxRunning)
			}
			fmt.Fprintf(tw, "%s\t%v\t%s\t%s\n", q.Name, q.Paused, limit, formatCounts(q.Counts))
		}
		return tw.Flush()
	case (args[0] == "pause" || args[0] == "resume") && fs.NArg() == 1:
		if args[0] == "pause" {
			q, err = c.PauseQueue(ctx, fs.Arg(0))
		} else {
			q, err = c.ResumeQueue(ctx, fs.Arg(0))
		}
	case args[0] == "limit" && fs.NArg() == 2:
		n, perr := strconv.Atoi(fs.Arg(1))
		if perr != nil || n < 0 {
			return fmt.Errorf("limit %q is not a non-negative number (0 removes it)", fs.Arg(1))
		}
		q, err = c.UpdateQueue(ctx, fs.Arg(0), client.QueueUpdate{MaxRunning: &n})
	default:
		return errors.New("usage: shepherd queues list | pause NAME | resume NAME | limit NAME N")
	}
	if err != nil {
		return err
	}
	return printJSON(stdout, q)
}

func formatCounts(counts map[string]int) string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, counts[k])
	}
	return strings.Join(parts, " ")
}
