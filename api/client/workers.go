package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// defaultPollWait is assumed for a poll that names no wait, to size its
// HTTP timeout generously.
const defaultPollWait = 60 * time.Second

func workerPath(id, suffix string) string {
	return "/v1/workers/" + url.PathEscape(id) + suffix
}

// Register registers or re-registers a worker.
func (c *Client) Register(ctx context.Context, req RegisterRequest) (Worker, error) {
	var w Worker
	cl, err := newCall(http.MethodPost, "/v1/workers", req)
	if err != nil {
		return w, err
	}
	_, err = c.do(ctx, cl, &w)
	return w, err
}

// Heartbeat reports liveness and load; the answer names tasks to cancel.
// An error matching ErrNotFound means the cluster forgot the worker and it
// should register again.
func (c *Client) Heartbeat(ctx context.Context, workerID string, req HeartbeatRequest) (HeartbeatResponse, error) {
	var out HeartbeatResponse
	cl, err := newCall(http.MethodPost, workerPath(workerID, "/heartbeat"), req)
	if err != nil {
		return out, err
	}
	_, err = c.do(ctx, cl, &out)
	return out, err
}

// Poll long-polls for up to req.Wait for at most req.Max leases, carrying
// earlier results in req.Completed and req.Failed. The HTTP timeout of the
// exchange is the wait plus the client's timeout.
//
// When Poll fails, the carried results may or may not have been applied;
// sending them again is safe because they are fenced by attempt.
func (c *Client) Poll(ctx context.Context, workerID string, req PollRequest) (PollResponse, error) {
	var out PollResponse
	cl, err := newCall(http.MethodPost, workerPath(workerID, "/poll"), req)
	if err != nil {
		return out, err
	}
	wait := defaultPollWait
	if req.Wait != "" {
		if d, err := time.ParseDuration(req.Wait); err == nil {
			wait = d
		}
	}
	cl.timeout = wait + c.timeout
	_, err = c.do(ctx, cl, &out)
	return out, err
}

// ListWorkers returns every worker the answering master knows.
func (c *Client) ListWorkers(ctx context.Context) ([]Worker, error) {
	var out WorkerList
	_, err := c.do(ctx, call{method: http.MethodGet, path: "/v1/workers"}, &out)
	return out.Workers, err
}

// GetWorker returns one worker.
func (c *Client) GetWorker(ctx context.Context, id string) (Worker, error) {
	var w Worker
	_, err := c.do(ctx, call{method: http.MethodGet, path: workerPath(id, "")}, &w)
	return w, err
}

// Drain stops new leases to a worker; its running tasks finish.
func (c *Client) Drain(ctx context.Context, id string) (Worker, error) {
	var w Worker
	_, err := c.do(ctx, call{method: http.MethodPost, path: workerPath(id, "/drain")}, &w)
	return w, err
}
