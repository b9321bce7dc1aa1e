package main

import (
	"context"
	"io"

	"github.com/hashicorp/go-hclog"

	"github.com/shepherd/shepherd/worker"
)

func runWorker(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flagSet("worker", stderr)
	masters := fs.String("masters", defaultMasters(), "comma-separated master HTTP addresses")
	id := fs.String("id", "", "worker id (default: hostname-random)")
	capacity := fs.Int("capacity", worker.DefaultCapacity, "tasks run at once")
	labels := fs.String("labels", "", "labels k=v,k2=v2 matched against task labels")
	queues := fs.String("queues", worker.DefaultQueue, "comma-separated queues to poll")
	shell := fs.Bool("enable-shell", false, "allow the shell executor to run commands")
	shellAllow := fs.String("shell-allow", "", "comma-separated commands the shell executor may run (default: any)")
	shellDir := fs.String("shell-dir", "", "working directory of shell tasks; a task's dir must lie inside it")
	shellEnv := fs.String("shell-env", "", "comma-separated K=V environment of shell tasks (default: PATH only)")
	addClientSecurityFlags(fs) // --token, --tls-ca
	leave := fs.Bool("leave", true, "leave the cluster on shutdown once every task finished")
	level := fs.String("log-level", "info", "trace, debug, info, warn or error")
	if err := parse(fs, args); err != nil {
		return err
	}
	lbls, err := parseLabels(*labels)
	if err != nil {
		return err
	}
	logger := hclog.New(&hclog.LoggerOptions{Name: "worker", Level: hclog.LevelFromString(*level), Output: stderr})
	w, err := worker.New(worker.Config{ID: *id, Masters: splitList(*masters), Capacity: *capacity,
		Labels: lbls, Queues: splitList(*queues), EnableShell: *shell, Logger: logger,
		ShellAllow: splitList(*shellAllow), ShellDir: *shellDir, ShellEnv: splitList(*shellEnv), LeaveOnShutdown: *leave})
	if err != nil {
		return err
	}
	logger.Info("worker starting", "id", w.ID(), "masters", *masters, "capacity", *capacity)
	return w.Run(ctx)
}
