package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/shepherd/shepherd/api/client"
)

func clientFlags(name string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flagSet(name, stderr)
	addClientSecurityFlags(fs)
	return fs, fs.String("masters", defaultMasters(), "comma-separated master HTTP addresses")
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func runSubmit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, masters := clientFlags("submit", stderr)
	var req client.SubmitRequest
	fs.StringVar(&req.Name, "name", "", "task name, e.g. echo, sleep, http, shell (required)")
	fs.StringVar(&req.Queue, "queue", "", "queue (default: default)")
	payload := fs.String("payload", "", "JSON payload")
	fs.IntVar(&req.Priority, "priority", 0, "higher runs first")
	labels := fs.String("labels", "", "required worker labels k=v,...")
	fs.IntVar(&req.MaxAttempts, "max-attempts", 0, "attempts before the task fails (default 3)")
	fs.StringVar(&req.Timeout, "timeout", "", "lease length, e.g. 30s (default 5m)")
	fs.StringVar(&req.Delay, "delay", "", "run after this duration")
	fs.StringVar(&req.IdempotencyKey, "idempotency-key", "", "a key that makes resubmission safe")
	extras := addSemanticsFlags(fs, &req)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := extras.finish(&req); err != nil {
		return err
	}
	if *payload != "" {
		if !json.Valid([]byte(*payload)) {
			return errors.New("--payload is not valid JSON")
		}
		req.Payload = json.RawMessage(*payload)
	}
	var err error
	if req.Labels, err = parseLabels(*labels); err != nil {
		return err
	}
	c := cliClient(*masters)
	task, _, err := c.Submit(ctx, req)
	if err != nil {
		return err
	}
	return printJSON(stdout, task)
}

func runTasks(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: shepherd tasks list|get|retry|cancel")
	}
	switch args[0] {
	case "list":
		return runTasksList(ctx, args[1:], stdout, stderr)
	case "get":
		return runTasksGet(ctx, args[1:], stdout, stderr)
	case "retry", "cancel":
		return runTaskAction(ctx, args[0], args[1:], stdout, stderr)
	}
	return fmt.Errorf("unknown tasks command %q (want list, get, retry or cancel)", args[0])
}

func runTasksList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, masters := clientFlags("tasks list", stderr)
	var opts client.ListOptions
	fs.StringVar(&opts.Status, "status", "", "filter by status")
	fs.StringVar(&opts.Queue, "queue", "", "filter by queue")
	fs.StringVar(&opts.Name, "name", "", "filter by task name")
	fs.StringVar(&opts.WorkerID, "worker", "", "filter by worker id")
	fs.IntVar(&opts.Limit, "limit", 50, "page size")
	fs.Int64Var(&opts.After, "after", 0, "list ids above this one")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	list, err := cliClient(*masters).ListTasks(ctx, opts)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, list)
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tQUEUE\tSTATUS\tATTEMPT\tWORKER\tUPDATED")
	for _, t := range list.Tasks {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d/%d\t%s\t%s\n", t.ID, t.Name, t.Queue, t.Status,
			t.Attempt, t.MaxAttempts, t.WorkerID, t.UpdatedAt.Format(time.RFC3339))
	}
	if list.Next != 0 {
		fmt.Fprintf(tw, "(more: --after %d)\n", list.Next)
	}
	return tw.Flush()
}

func runTasksGet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, masters := clientFlags("tasks get", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: shepherd tasks get [--masters ...] ID")
	}
	id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
	if err != nil {
		return fmt.Errorf("task id %q is not a number", fs.Arg(0))
	}
	task, err := cliClient(*masters).GetTask(ctx, id)
	if err != nil {
		return err
	}
	return printJSON(stdout, task)
}
