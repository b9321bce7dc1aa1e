package cluster

import (
	"context"
	"fmt"
	"sync"

	"github.com/shepherd/shepherd/fsm"
)

// Batching at the application level: concurrent single commands (submits,
// completions from many workers, cancels) are grouped into one Batch log
// entry. A few appliers drain the queue; under light load each command
// goes alone at once (no added latency), under heavy load every applier
// takes whatever queued up while its previous entry was committing.
const (
	batchAppliers = 4
	maxBatchSize  = 256
)

type batchRequest struct {
	cmd  fsm.Command
	done chan batchResult // buffered, receives once
}

type batchResult struct {
	resp *fsm.Response
	err  error
}

type batcher struct {
	n    *Node
	reqs chan *batchRequest
}

func newBatcher(n *Node) *batcher {
	return &batcher{n: n, reqs: make(chan *batchRequest, maxBatchSize*batchAppliers)}
}

// start runs the appliers until ctx ends, counted in wg.
func (b *batcher) start(ctx context.Context, wg *sync.WaitGroup) {
	for range batchAppliers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.run(ctx)
		}()
	}
}

// apply queues a command and waits for its own response.
func (b *batcher) apply(ctx context.Context, cmd fsm.Command) (*fsm.Response, error) {
	req := &batchRequest{cmd: cmd, done: make(chan batchResult, 1)}
	select {
	case b.reqs <- req:
	case <-ctx.Done():
		return nil, fmt.Errorf("apply %s: %w", cmd.Type(), ErrTimeout)
	case <-b.n.ctx.Done():
		return nil, fmt.Errorf("apply %s: %w", cmd.Type(), ErrShutdown)
	}
	select {
	case res := <-req.done:
		return res.resp, res.err
	case <-b.n.ctx.Done():
		// The appliers answer what they took; one queued after they
		// stopped would wait forever.
		return nil, fmt.Errorf("apply %s: %w", cmd.Type(), ErrShutdown)
	}
}

func (b *batcher) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			b.failQueued()
			return
		case first := <-b.reqs:
			b.applyGroup(ctx, b.collect(first))
		}
	}
}

// collect takes first and whatever else is already queued.
func (b *batcher) collect(first *batchRequest) []*batchRequest {
	group := []*batchRequest{first}
	for len(group) < maxBatchSize {
		select {
		case r := <-b.reqs:
			group = append(group, r)
		default:
			return group
		}
	}
	return group
}

func (b *batcher) applyGroup(ctx context.Context, group []*batchRequest) {
	if len(group) == 1 {
		resp, err := b.n.applyDirect(ctx, group[0].cmd)
		group[0].done <- batchResult{resp, err}
		return
	}
	cmds := make([]fsm.Command, len(group))
	for i, r := range group {
		cmds[i] = r.cmd
	}
	batch, err := fsm.NewBatch(cmds...)
	var resp *fsm.Response
	if err == nil {
		resp, err = b.n.applyDirect(ctx, batch)
	}
	for i, r := range group {
		if err != nil {
			r.done <- batchResult{nil, err}
			continue
		}
		inner := resp.Results[i]
		r.done <- batchResult{&inner, nil}
	}
}

func (b *batcher) failQueued() {
	for {
		select {
		case r := <-b.reqs:
			r.done <- batchResult{nil, fmt.Errorf("apply %s: %w", r.cmd.Type(), ErrShutdown)}
		default:
			return
		}
	}
}
