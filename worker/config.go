package worker

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/shepherd/shepherd/api/client"
)

// Defaults for the zero values of Config.
const (
	DefaultCapacity          = 4
	DefaultQueue             = "default"
	DefaultPollWait          = 20 * time.Second
	DefaultHeartbeatInterval = time.Second
	DefaultShutdownTimeout   = 10 * time.Second
	DefaultRequestTimeout    = 3 * time.Second
	// DefaultTaskTimeout applies to a task that names no timeout.
	DefaultTaskTimeout = 5 * time.Minute
)

// Config configures a Worker. Zero values take the defaults above.
type Config struct {
	// ID names the worker; default "<hostname>-<random>".
	ID string
	// Masters are the masters' HTTP addresses ("host:port" or URLs).
	Masters []string
	// Address is what the worker tells the cluster about itself; default
	// the hostname.
	Address string
	// Capacity is how many tasks run at once.
	Capacity int
	// Labels are matched against task labels by the dispatcher.
	Labels map[string]string
	// Queues to poll; default ["default"].
	Queues []string
	// EnableShell lets the built-in shell executor run commands.
	EnableShell bool
	// ShellAllow, when not empty, lists the only commands the shell
	// executor runs: a task's command[0] must equal one entry exactly
	// ("/usr/bin/rsync" or "rsync").
	ShellAllow []string
	// ShellDir is the working directory of shell commands (default: the
	// worker's). A task's "dir" may only name a directory inside it.
	ShellDir string
	// ShellEnv is the whole environment of shell commands, "K=V" entries;
	// nil means only the worker's PATH. The worker's own environment
	// (which may hold its token) is never passed on.
	ShellEnv []string
	// PollWait is the long-poll wait.
	PollWait time.Duration
	// HeartbeatInterval is used until the cluster answers with its own.
	HeartbeatInterval time.Duration
	// ShutdownTimeout bounds how long Run waits for running tasks once its
	// context ends; then they are canceled and reported as failed (retry).
	ShutdownTimeout time.Duration
	// RequestTimeout bounds one exchange with one master before the client
	// moves on to the next (a poll gets its wait on top). Default 3 s.
	RequestTimeout time.Duration
	// LeaveOnShutdown removes the worker from the cluster when Run ends
	// after all its results were delivered (drain, then leave).
	LeaveOnShutdown bool
	// Logger defaults to a null logger.
	Logger hclog.Logger
	// Client overrides the API client built from Masters (tests, custom
	// transports).
	Client *client.Client
}

func (c *Config) setDefaults() {
	if c.ID == "" {
		c.ID = defaultID()
	}
	if c.Address == "" {
		c.Address, _ = os.Hostname()
	}
	if c.Capacity == 0 {
		c.Capacity = DefaultCapacity
	}
	if len(c.Queues) == 0 {
		c.Queues = []string{DefaultQueue}
	}
	if c.PollWait == 0 {
		c.PollWait = DefaultPollWait
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
}

func (c *Config) validate() error {
	switch {
	case len(c.Masters) == 0 && c.Client == nil:
		return errors.New("worker config: no masters")
	case c.Capacity < 0:
		return fmt.Errorf("worker config: capacity %d is negative", c.Capacity)
	case c.PollWait < 0 || c.HeartbeatInterval < 0 || c.ShutdownTimeout < 0:
		return errors.New("worker config: durations must not be negative")
	}
	return nil
}

func defaultID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "worker"
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return host + "-" + hex.EncodeToString(b)
}
