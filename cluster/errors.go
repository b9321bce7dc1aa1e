package cluster

import (
	"errors"
	"fmt"

	"github.com/hashicorp/raft"
)

// Errors returned at the package boundary; Raft's own never leak.
var (
	// ErrNotLeader: the call needs the leader and this node is not it.
	ErrNotLeader = errors.New("not the leader")
	// ErrNoLeader: no leader is known; retry later.
	ErrNoLeader = errors.New("no leader")
	// ErrLeadershipLost: leadership was lost while the write was in flight;
	// its outcome is unknown. Retry with the same idempotency key.
	ErrLeadershipLost = errors.New("leadership lost, outcome unknown")
	// ErrTimeout: the write was not accepted in time; outcome unknown.
	ErrTimeout = errors.New("timed out")
	// ErrShutdown: the node is shutting down.
	ErrShutdown = errors.New("node is shutting down")
)

// translate maps a Raft error to this package's errors.
func translate(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return fmt.Errorf("%s: %w", op, ErrNotLeader)
	case errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrAbortedByRestore):
		return fmt.Errorf("%s: %w", op, ErrLeadershipLost)
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("%s: %w", op, ErrTimeout)
	case errors.Is(err, raft.ErrRaftShutdown):
		return fmt.Errorf("%s: %w", op, ErrShutdown)
	}
	return fmt.Errorf("%s: %w", op, err)
}
