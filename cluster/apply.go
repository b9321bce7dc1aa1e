package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/shepherd/shepherd/fsm"
)

// defaultApplyTimeout bounds how long Apply waits to enqueue a command
// when the context carries no deadline.
const defaultApplyTimeout = 10 * time.Second

// Apply proposes a command and waits until it is committed and applied on
// this (leader) node. The error is ErrNotLeader, ErrLeadershipLost (the
// outcome is unknown), ErrTimeout or ErrShutdown; a business rejection is
// in the response's Err. Concurrent commands share log entries (see
// batcher.go); a Batch goes as it is.
func (n *Node) Apply(ctx context.Context, cmd fsm.Command) (*fsm.Response, error) {
	if _, isBatch := cmd.(fsm.Batch); isBatch || n.batcher == nil {
		return n.applyDirect(ctx, cmd)
	}
	return n.batcher.apply(ctx, cmd)
}

// applyDirect writes one command as one log entry.
func (n *Node) applyDirect(ctx context.Context, cmd fsm.Command) (*fsm.Response, error) {
	buf, err := fsm.Encode(cmd)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("apply %s: %w", cmd.Type(), ErrTimeout)
	}
	timeout := defaultApplyTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	start := time.Now()
	f := n.raft.Apply(buf, timeout)
	if err := f.Error(); err != nil {
		return nil, translate("apply "+cmd.Type().String(), err)
	}
	if n.cfg.ApplyObserver != nil {
		n.cfg.ApplyObserver(time.Since(start))
	}
	resp, ok := f.Response().(*fsm.Response)
	if !ok {
		return nil, fmt.Errorf("apply %s: unexpected response %T", cmd.Type(), f.Response())
	}
	return resp, nil
}

// applyChecked is Apply that also returns the response's business error.
func (n *Node) applyChecked(ctx context.Context, cmd fsm.Command) (*fsm.Response, error) {
	resp, err := n.Apply(ctx, cmd)
	if err != nil {
		return nil, err
	}
	return resp, resp.Err
}
