package client

import (
	"context"
	"net/http"
	"net/url"
)

// RetryTask puts a failed or canceled task back in its queue with
// attempts more attempts (0: the cluster's default).
func (c *Client) RetryTask(ctx context.Context, id int64, attempts int) (Task, error) {
	var t Task
	cl, err := newCall(http.MethodPost, taskPath(id, "/retry"), RetryRequest{Attempts: attempts})
	if err != nil {
		return t, err
	}
	_, err = c.do(ctx, cl, &t)
	return t, err
}

func schedulePath(id string) string { return "/v1/schedules/" + url.PathEscape(id) }

// PutSchedule creates a schedule, or replaces the one with the same id.
func (c *Client) PutSchedule(ctx context.Context, req ScheduleRequest) (Schedule, error) {
	var s Schedule
	cl, err := newCall(http.MethodPost, "/v1/schedules", req)
	if err != nil {
		return s, err
	}
	_, err = c.do(ctx, cl, &s)
	return s, err
}

// ListSchedules returns every schedule.
func (c *Client) ListSchedules(ctx context.Context) ([]Schedule, error) {
	var out ScheduleList
	_, err := c.do(ctx, call{method: http.MethodGet, path: "/v1/schedules"}, &out)
	return out.Schedules, err
}

// GetSchedule returns one schedule.
func (c *Client) GetSchedule(ctx context.Context, id string) (Schedule, error) {
	var s Schedule
	_, err := c.do(ctx, call{method: http.MethodGet, path: schedulePath(id)}, &s)
	return s, err
}

// PauseSchedule stops a schedule's ticks until ResumeSchedule.
func (c *Client) PauseSchedule(ctx context.Context, id string) (Schedule, error) {
	var s Schedule
	_, err := c.do(ctx, call{method: http.MethodPost, path: schedulePath(id) + "/pause"}, &s)
	return s, err
}

// ResumeSchedule restarts a paused schedule; the ticks of the pause are
// skipped, not fired late.
func (c *Client) ResumeSchedule(ctx context.Context, id string) (Schedule, error) {
	var s Schedule
	_, err := c.do(ctx, call{method: http.MethodPost, path: schedulePath(id) + "/resume"}, &s)
	return s, err
}

// DeleteSchedule removes a schedule; tasks it created stay.
func (c *Client) DeleteSchedule(ctx context.Context, id string) error {
	_, err := c.do(ctx, call{method: http.MethodDelete, path: schedulePath(id)}, nil)
	return err
}

func queuePath(name, suffix string) string { return "/v1/queues/" + url.PathEscape(name) + suffix }

// ListQueues returns every queue with its settings and task counts.
func (c *Client) ListQueues(ctx context.Context) ([]Queue, error) {
	var out QueueList
	_, err := c.do(ctx, call{method: http.MethodGet, path: "/v1/queues"}, &out)
	return out.Queues, err
}

// PauseQueue stops dispatch from a queue; running tasks go on.
func (c *Client) PauseQueue(ctx context.Context, name string) (Queue, error) {
	var q Queue
	_, err := c.do(ctx, call{method: http.MethodPost, path: queuePath(name, "/pause")}, &q)
	return q, err
}

// ResumeQueue restarts dispatch from a queue.
func (c *Client) ResumeQueue(ctx context.Context, name string) (Queue, error) {
	var q Queue
	_, err := c.do(ctx, call{method: http.MethodPost, path: queuePath(name, "/resume")}, &q)
	return q, err
}

// UpdateQueue changes a queue's settings (concurrency limit, pause).
func (c *Client) UpdateQueue(ctx context.Context, name string, upd QueueUpdate) (Queue, error) {
	var q Queue
	cl, err := newCall(http.MethodPut, queuePath(name, ""), upd)
	if err != nil {
		return q, err
	}
	_, err = c.do(ctx, cl, &q)
	return q, err
}

// Leave removes a worker that runs nothing (drained) from the cluster.
func (c *Client) Leave(ctx context.Context, workerID string) error {
	_, err := c.do(ctx, call{method: http.MethodDelete, path: workerPath(workerID, "")}, nil)
	return err
}
