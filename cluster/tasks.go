package cluster

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/shepherd/shepherd/fsm"
)

// Submit creates tasks, all or nothing, in one log entry. existing[i] is
// true when an idempotency key returned an earlier task.
func (n *Node) Submit(ctx context.Context, specs []fsm.TaskSpec) ([]fsm.Task, []bool, error) {
	resp, err := n.leaderApply(ctx, fsm.Submit{Now: time.Now().UTC(), Tasks: specs})
	if err != nil {
		return nil, nil, err
	}
	return resp.Tasks, resp.Existing, nil
}

// Cancel cancels a task; a running one is stopped through its worker.
func (n *Node) Cancel(ctx context.Context, taskID int64) (fsm.Task, error) {
	return n.applyOneTask(ctx, fsm.Cancel{Now: time.Now().UTC(), TaskID: taskID})
}

// Complete ends a lease successfully; stale attempts are rejected.
func (n *Node) Complete(ctx context.Context, workerID string, c Completion) (fsm.Task, error) {
	return n.applyOneTask(ctx, fsm.Complete{Now: time.Now().UTC(), WorkerID: workerID,
		TaskID: c.TaskID, Attempt: c.Attempt, Result: c.Result})
}

// Fail ends a lease with an error; the task retries with backoff while
// attempts remain and the failure is retryable.
func (n *Node) Fail(ctx context.Context, workerID string, f Failure) (fsm.Task, error) {
	return n.applyOneTask(ctx, n.failCommand(time.Now().UTC(), workerID, f))
}

func (n *Node) failCommand(now time.Time, workerID string, f Failure) fsm.Fail {
	base, maxDelay := n.cfg.RetryBaseDelay, n.cfg.RetryMaxDelay
	if t, ok := n.fsm.Task(f.TaskID); ok {
		if t.RetryBase > 0 {
			base = t.RetryBase
		}
		if t.RetryMax > 0 {
			maxDelay = t.RetryMax
		}
	}
	return fsm.Fail{Now: now, WorkerID: workerID, TaskID: f.TaskID, Attempt: f.Attempt,
		Error: f.Error, Retry: f.Retry, RetryAt: now.Add(backoff(f.Attempt, base, maxDelay))}
}

// backoff is exponential in the attempt with "equal jitter": half fixed,
// half random, capped at maxDelay. Computed on the leader and carried in
// the command, so the FSM stays deterministic.
func backoff(attempt int, base, maxDelay time.Duration) time.Duration {
	d := base
	for i := 1; i < attempt && d < maxDelay; i++ {
		d *= 2
	}
	d = min(d, maxDelay)
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1)
}

// Retry puts a failed or canceled task back in its queue with attempts
// more attempts (0: the configured default).
func (n *Node) Retry(ctx context.Context, taskID int64, attempts int) (fsm.Task, error) {
	if attempts <= 0 {
		attempts = n.cfg.Semantics.RetryAttempts
	}
	return n.applyOneTask(ctx, fsm.Retry{Now: time.Now().UTC(), TaskID: taskID, Attempts: attempts})
}

func (n *Node) applyOneTask(ctx context.Context, cmd fsm.Command) (fsm.Task, error) {
	resp, err := n.leaderApply(ctx, cmd)
	if err != nil {
		return fsm.Task{}, err
	}
	if len(resp.Tasks) == 0 {
		return fsm.Task{}, fmt.Errorf("%s: no task in response", cmd.Type())
	}
	return resp.Tasks[0], nil
}

// leaderApply applies a command on the leader once it has taken over
// (barrier passed), returning business rejections as errors.
func (n *Node) leaderApply(ctx context.Context, cmd fsm.Command) (*fsm.Response, error) {
	if n.leader() == nil {
		return nil, fmt.Errorf("%s: %w", cmd.Type(), n.notLeaderErr())
	}
	return n.applyChecked(ctx, cmd)
}

// notLeaderErr is ErrNotLeader when some leader is known, else ErrNoLeader.
func (n *Node) notLeaderErr() error {
	if addr, _ := n.raft.LeaderWithID(); addr == "" || n.IsLeader() {
		return ErrNoLeader // none known, or we lead but have not taken over yet
	}
	return ErrNotLeader
}
