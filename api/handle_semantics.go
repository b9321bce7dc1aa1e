package api

import (
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/labstack/echo/v4"

	"github.com/shepherd/shepherd/api/client"
	"github.com/shepherd/shepherd/api/wire"
	"github.com/shepherd/shepherd/cluster"
	"github.com/shepherd/shepherd/fsm"
)

// semanticsRoutes registers retries, schedules, queues and worker leave.
func (s *Server) semanticsRoutes(read, write []echoMiddleware) {
	e := s.e
	e.POST("/v1/tasks/:id/retry", s.handleRetry, write...)
	e.POST("/v1/schedules", s.handlePutSchedule, write...)
	e.GET("/v1/schedules", s.handleListSchedules, read...)
	e.GET("/v1/schedules/:id", s.handleGetSchedule, read...)
	e.DELETE("/v1/schedules/:id", s.handleDeleteSchedule, write...)
	e.POST("/v1/schedules/:id/pause", s.handlePauseSchedule(true), write...)
	e.POST("/v1/schedules/:id/resume", s.handlePauseSchedule(false), write...)
	e.GET("/v1/queues", s.handleListQueues, read...)
	e.PUT("/v1/queues/:name", s.handleUpdateQueue, write...)
	e.POST("/v1/queues/:name/pause", s.handlePauseQueue, write...)
	e.POST("/v1/queues/:name/resume", s.handleResumeQueue, write...)
	e.DELETE("/v1/workers/:id", s.handleLeave, write...)
}

// handleRetry is POST /v1/tasks/:id/retry: a failed or canceled task goes
// back to its queue.
func (s *Server) handleRetry(c echo.Context) error {
	id, err := taskID(c)
	if err != nil {
		return err
	}
	var req client.RetryRequest
	if err := s.decode(c, &req, bodyOptional); err != nil {
		return err
	}
	if req.Attempts < 0 || req.Attempts > maxMaxAttempts {
		return badRequest("attempts must be between 1 and %d, not %d", maxMaxAttempts, req.Attempts)
	}
	t, err := s.b.Retry(c.Request().Context(), id, req.Attempts)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, wire.Task(t))
}

// handlePutSchedule is POST /v1/schedules: 201 for a new schedule, 200 for
// a replaced one.
func (s *Server) handlePutSchedule(c echo.Context) error {
	var req client.ScheduleRequest
	if err := s.decode(c, &req, bodyRequired); err != nil {
		return err
	}
	sc, err := s.scheduleSpec(req)
	if err != nil {
		return err
	}
	_, existed := s.b.State().Schedule(sc.ID)
	out, err := s.b.PutSchedule(c.Request().Context(), sc)
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if existed && sc.ID != "" {
		status = http.StatusOK
	} else {
		c.Response().Header().Set(echo.HeaderLocation, "/v1/schedules/"+url.PathEscape(out.ID))
	}
	return c.JSON(status, toSchedule(out))
}

func (s *Server) scheduleSpec(r client.ScheduleRequest) (fsm.Schedule, error) {
	switch {
	case r.ID != "" && (len(r.ID) > maxIDLen || strings.ContainsFunc(r.ID, func(r rune) bool { return r == '/' || unicode.IsControl(r) })):
		return fsm.Schedule{}, badRequest("schedule id must be at most %d bytes without '/' or control characters", maxIDLen)
	case r.Task.RunAt != nil || r.Task.Delay != "" || r.Task.IdempotencyKey != "":
		return fsm.Schedule{}, badRequest("task: run_at, delay and idempotency_key are set by each tick")
	}
	if r.Overlap == "" {
		r.Overlap = fsm.OverlapAllow
	}
	if r.Misfire == "" {
		r.Misfire = fsm.MisfireSkip
	}
	if r.Overlap != fsm.OverlapAllow && r.Overlap != fsm.OverlapSkip {
		return fsm.Schedule{}, badRequest("overlap must be %q or %q, not %q", fsm.OverlapAllow, fsm.OverlapSkip, r.Overlap)
	}
	if r.Misfire != fsm.MisfireSkip && r.Misfire != fsm.MisfireRunOnce {
		return fsm.Schedule{}, badRequest("misfire must be %q or %q, not %q", fsm.MisfireSkip, fsm.MisfireRunOnce, r.Misfire)
	}
	if _, err := cluster.ParseCron(r.Cron, r.TimeZone); err != nil {
		return fsm.Schedule{}, badRequest("%s", strings.TrimPrefix(err.Error(), fsm.ErrInvalid.Error()+": "))
	}
	sp, err := s.taskSpec(r.Task, time.Time{})
	if err != nil {
		return fsm.Schedule{}, badRequest("task: %s", err.(*httpError).message)
	}
	sp.RunAt = time.Time{}
	return fsm.Schedule{ID: r.ID, Cron: r.Cron, TimeZone: r.TimeZone, Task: sp, Overlap: r.Overlap, Misfire: r.Misfire}, nil
}

// handleListSchedules is GET /v1/schedules.
func (s *Server) handleListSchedules(c echo.Context) error {
	list := s.b.State().Schedules()
	out := client.ScheduleList{Schedules: make([]client.Schedule, len(list))}
	for i, sc := range list {
		out.Schedules[i] = toSchedule(sc)
	}
	return c.JSON(http.StatusOK, out)
}

// handleGetSchedule is GET /v1/schedules/:id.
func (s *Server) handleGetSchedule(c echo.Context) error {
	id, err := url.PathUnescape(c.Param("id"))
	if err != nil {
		return badRequest("schedule id %q is not a valid path segment", c.Param("id"))
	}
	sc, ok := s.b.State().Schedule(id)
	if !ok {
		return notFound("schedule %q not found", id)
	}
	return c.JSON(http.StatusOK, toSchedule(sc))
}

// handleDeleteSchedule is DELETE /v1/schedules/:id; it answers the
// deleted schedule.
func (s *Server) handleDeleteSchedule(c echo.Context) error {
	id, err := url.PathUnescape(c.Param("id"))
	if err != nil {
		return badRequest("schedule id %q is not a valid path segment", c.Param("id"))
	}
	sc, err := s.b.DeleteSchedule(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toSchedule(sc))
}

// handlePauseSchedule is POST /v1/schedules/:id/pause and .../resume; it
// answers the schedule. A resumed schedule skips the ticks of its pause.
func (s *Server) handlePauseSchedule(paused bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := url.PathUnescape(c.Param("id"))
		if err != nil {
			return badRequest("schedule id %q is not a valid path segment", c.Param("id"))
		}
		var req struct{}
		if err := s.decode(c, &req, bodyOptional); err != nil {
			return err
		}
		sc, err := s.b.PauseSchedule(c.Request().Context(), id, paused)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, toSchedule(sc))
	}
}

// handleListQueues is GET /v1/queues.
func (s *Server) handleListQueues(c echo.Context) error {
	views := s.b.State().Queues()
	out := client.QueueList{Queues: make([]client.Queue, len(views))}
	for i, v := range views {
		out.Queues[i] = toQueue(v.QueueSettings, v.Counts)
	}
	return c.JSON(http.StatusOK, out)
}

func queueName(c echo.Context) (string, error) {
	name, err := url.PathUnescape(c.Param("name"))
	if err != nil || name == "" || len(name) > maxIDLen {
		return "", badRequest("queue name %q is not valid", c.Param("name"))
	}
	return name, nil
}

// handleUpdateQueue is PUT /v1/queues/:name {"max_running", "paused"}.
func (s *Server) handleUpdateQueue(c echo.Context) error {
	name, err := queueName(c)
	if err != nil {
		return err
	}
	var req client.QueueUpdate
	if err := s.decode(c, &req, bodyRequired); err != nil {
		return err
	}
	if req.MaxRunning != nil && *req.MaxRunning < 0 {
		return badRequest("max_running must not be negative (0 removes the limit), not %d", *req.MaxRunning)
	}
	return s.setQueue(c, name, req.Paused, req.MaxRunning)
}

func (s *Server) handlePauseQueue(c echo.Context) error  { return s.pauseQueue(c, true) }
func (s *Server) handleResumeQueue(c echo.Context) error { return s.pauseQueue(c, false) }

func (s *Server) pauseQueue(c echo.Context, paused bool) error {
	name, err := queueName(c)
	if err != nil {
		return err
	}
	var req struct{}
	if err := s.decode(c, &req, bodyOptional); err != nil {
		return err
	}
	return s.setQueue(c, name, &paused, nil)
}

func (s *Server) setQueue(c echo.Context, name string, paused *bool, maxRunning *int) error {
	q, err := s.b.SetQueue(c.Request().Context(), name, paused, maxRunning)
	if err != nil {
		return err
	}
	var counts map[fsm.TaskStatus]int
	for _, v := range s.b.State().Queues() {
		if v.Name == name {
			counts = v.Counts
		}
	}
	return c.JSON(http.StatusOK, toQueue(q, counts))
}

// handleLeave is DELETE /v1/workers/:id: a worker that runs nothing
// leaves the cluster (409 while it still has leases: drain it first).
func (s *Server) handleLeave(c echo.Context) error {
	id, err := workerID(c)
	if err != nil {
		return err
	}
	if err := s.b.RemoveWorker(c.Request().Context(), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func toSchedule(sc fsm.Schedule) client.Schedule {
	out := client.Schedule{
		ID: sc.ID, Cron: sc.Cron, TimeZone: sc.TimeZone, Task: toSubmitRequest(sc.Task),
		Overlap: sc.Overlap, Misfire: sc.Misfire, CreatedAt: sc.CreatedAt.UTC(), UpdatedAt: sc.UpdatedAt.UTC(),
		LastTick: wire.TimePtr(sc.LastTick), LastTaskID: sc.LastTaskID, Fired: sc.Fired, Skipped: sc.Skipped,
		Paused: sc.Paused,
	}
	if next, err := cluster.NextTick(sc); err == nil {
		out.NextTick = wire.TimePtr(next)
	}
	return out
}

func toSubmitRequest(sp fsm.TaskSpec) client.SubmitRequest {
	return client.SubmitRequest{
		Name: sp.Name, Queue: sp.Queue, Description: sp.Description, Payload: sp.Payload, Priority: sp.Priority,
		Labels: sp.Labels, MaxAttempts: sp.MaxAttempts, Timeout: wire.Duration(sp.Timeout),
		RetryBackoff: wire.Backoff(sp.RetryBase, sp.RetryMax), AffinityKey: sp.AffinityKey, Broadcast: sp.Broadcast,
	}
}

func toQueue(q fsm.QueueSettings, counts map[fsm.TaskStatus]int) client.Queue {
	out := client.Queue{Name: q.Name, Paused: q.Paused, MaxRunning: q.MaxRunning, Counts: map[string]int{}}
	for st, n := range counts {
		out.Counts[string(st)] = n
	}
	return out
}

// resolveSemantics validates the task-semantics fields of a submission.
func resolveSemantics(r client.SubmitRequest, sp *fsm.TaskSpec, maxTimeout time.Duration) error {
	if len(r.AffinityKey) > maxKeyLen {
		return badRequest("affinity_key is longer than %d bytes", maxKeyLen)
	}
	sp.AffinityKey, sp.Broadcast = r.AffinityKey, r.Broadcast
	if r.Broadcast && r.AffinityKey != "" {
		return badRequest("broadcast and affinity_key are mutually exclusive")
	}
	if r.RetryBackoff == nil {
		return nil
	}
	parse := func(field, v string) (time.Duration, error) {
		if v == "" {
			return 0, nil
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > maxTimeout {
			return 0, badRequest("retry_backoff.%s must be a positive duration of at most %s, not %q", field, maxTimeout, v)
		}
		return d, nil
	}
	var err error
	if sp.RetryBase, err = parse("base", r.RetryBackoff.Base); err != nil {
		return err
	}
	if sp.RetryMax, err = parse("max", r.RetryBackoff.Max); err != nil {
		return err
	}
	if sp.RetryBase > 0 && sp.RetryMax > 0 && sp.RetryMax < sp.RetryBase {
		return badRequest("retry_backoff.max must not be below retry_backoff.base")
	}
	return nil
}
