package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// ListOptions filters GET /v1/tasks. Zero fields are not sent.
type ListOptions struct {
	Status   string
	Queue    string
	Name     string
	WorkerID string
	Limit    int
	After    int64
	// Consistent asks the leader for a linearizable answer.
	Consistent bool
}

func (o ListOptions) query() string {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("status", o.Status)
	set("queue", o.Queue)
	set("name", o.Name)
	set("worker_id", o.WorkerID)
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.After > 0 {
		q.Set("after", strconv.FormatInt(o.After, 10))
	}
	if o.Consistent {
		q.Set("consistent", "true")
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

func taskPath(id int64, suffix string) string {
	return "/v1/tasks/" + strconv.FormatInt(id, 10) + suffix
}

// Submit creates a task. created is false when the idempotency key matched
// an earlier submission, whose task is returned instead.
func (c *Client) Submit(ctx context.Context, req SubmitRequest) (Task, bool, error) {
	var t Task
	cl, err := newCall(http.MethodPost, "/v1/tasks", req)
	if err != nil {
		return t, false, err
	}
	status, err := c.do(ctx, cl, &t)
	return t, status == http.StatusCreated, err
}

// SubmitBatch creates all tasks or none, in one replicated command.
func (c *Client) SubmitBatch(ctx context.Context, reqs []SubmitRequest) ([]Task, error) {
	var out TaskList
	cl, err := newCall(http.MethodPost, "/v1/tasks/batch", BatchSubmitRequest{Tasks: reqs})
	if err != nil {
		return nil, err
	}
	_, err = c.do(ctx, cl, &out)
	return out.Tasks, err
}

// GetTask reads one task from the answering master's replica.
func (c *Client) GetTask(ctx context.Context, id int64) (Task, error) {
	var t Task
	_, err := c.do(ctx, call{method: http.MethodGet, path: taskPath(id, "")}, &t)
	return t, err
}

// ListTasks returns one page of tasks in id order; pass Next as After for
// the following page.
func (c *Client) ListTasks(ctx context.Context, opts ListOptions) (TaskList, error) {
	var out TaskList
	_, err := c.do(ctx, call{method: http.MethodGet, path: "/v1/tasks" + opts.query()}, &out)
	return out, err
}

// CancelTask cancels a task; a running one is stopped through its worker's
// next heartbeat. It returns the task as the leader answered it.
func (c *Client) CancelTask(ctx context.Context, id int64) (Task, error) {
	var t Task
	_, err := c.do(ctx, call{method: http.MethodPost, path: taskPath(id, "/cancel")}, &t)
	return t, err
}

// Complete reports a successful attempt. A stale attempt gets an error
// matching ErrStaleLease.
func (c *Client) Complete(ctx context.Context, taskID int64, req CompleteRequest) error {
	cl, err := newCall(http.MethodPost, taskPath(taskID, "/complete"), req)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, cl, nil)
	return err
}

// Fail reports a failed attempt; with Retry the task is retried while
// attempts remain.
func (c *Client) Fail(ctx context.Context, taskID int64, req FailRequest) error {
	cl, err := newCall(http.MethodPost, taskPath(taskID, "/fail"), req)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, cl, nil)
	return err
}
