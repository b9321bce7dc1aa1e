package api

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/shepherd/shepherd/api/client"
	"github.com/shepherd/shepherd/api/wire"
	"github.com/shepherd/shepherd/fsm"
)

// taskList is the answer of GET /v1/tasks. Unlike client.TaskList it always
// carries "next" (0 on the last page), as API.md shows it.
type taskList struct {
	Tasks []client.Task `json:"tasks"`
	Next  int64         `json:"next"`
}

// handleSubmit is POST /v1/tasks: 201 with a new task, 200 with the task an
// idempotency key found.
func (s *Server) handleSubmit(c echo.Context) error {
	var req client.SubmitRequest
	if err := s.decode(c, &req, bodyRequired); err != nil {
		return err
	}
	spec, err := s.taskSpec(req, s.now())
	if err != nil {
		return err
	}
	tasks, existing, err := s.b.Submit(c.Request().Context(), []fsm.TaskSpec{spec})
	if err != nil {
		return err
	}
	if len(tasks) != 1 {
		return errUnexpected("submit", 1, len(tasks))
	}
	if len(existing) > 0 && existing[0] {
		return c.JSON(http.StatusOK, wire.Task(tasks[0]))
	}
	c.Response().Header().Set(echo.HeaderLocation, "/v1/tasks/"+strconv.FormatInt(tasks[0].ID, 10))
	return c.JSON(http.StatusCreated, wire.Task(tasks[0]))
}

// handleSubmitBatch is POST /v1/tasks/batch: all tasks or none.
func (s *Server) handleSubmitBatch(c echo.Context) error {
	var req client.BatchSubmitRequest
	if err := s.decode(c, &req, bodyRequired); err != nil {
		return err
	}
	specs, err := s.batchSpecs(req.Tasks, s.now())
	if err != nil {
		return err
	}
	tasks, _, err := s.b.Submit(c.Request().Context(), specs)
	if err != nil {
		return err
	}
	if len(tasks) != len(specs) {
		return errUnexpected("batch submit", len(specs), len(tasks))
	}
	return c.JSON(http.StatusCreated, client.TaskList{Tasks: wire.Tasks(tasks)})
}

// handleGetTask is GET /v1/tasks/:id.
func (s *Server) handleGetTask(c echo.Context) error {
	id, err := taskID(c)
	if err != nil {
		return err
	}
	t, ok := s.b.State().Task(id)
	if !ok {
		return notFound("task %d not found", id)
	}
	return c.JSON(http.StatusOK, wire.Task(t))
}

// handleListTasks is GET /v1/tasks: one page in id order.
func (s *Server) handleListTasks(c echo.Context) error {
	flt := fsm.TaskFilter{
		Status:   fsm.TaskStatus(c.QueryParam("status")),
		Queue:    c.QueryParam("queue"),
		Name:     c.QueryParam("name"),
		WorkerID: c.QueryParam("worker_id"),
	}
	if flt.Status != "" && !validStatus(flt.Status) {
		return badRequest("status must be one of %v, not %q", fsm.AllTaskStatuses, flt.Status)
	}
	limit, err := intQuery(c, "limit", defaultLimit)
	if err != nil {
		return err
	}
	if limit < 1 {
		return badRequest("limit must be positive, not %d", limit)
	}
	after, err := intQuery(c, "after", 0)
	if err != nil {
		return err
	}
	if after < 0 {
		return badRequest("after must not be negative, not %d", after)
	}
	tasks, next := s.b.State().ListTasks(flt, after, int(min(limit, maxListLimit)))
	return c.JSON(http.StatusOK, taskList{Tasks: wire.Tasks(tasks), Next: next})
}

func validStatus(st fsm.TaskStatus) bool {
	for _, s := range fsm.AllTaskStatuses {
		if s == st {
			return true
		}
	}
	return false
}

// handleCancel is POST /v1/tasks/:id/cancel; its body is optional and empty.
func (s *Server) handleCancel(c echo.Context) error {
	id, err := taskID(c)
	if err != nil {
		return err
	}
	var req struct{}
	if err := s.decode(c, &req, bodyOptional); err != nil {
		return err
	}
	t, err := s.b.Cancel(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, wire.Task(t))
}

// handleComplete is POST /v1/tasks/:id/complete, fenced by attempt.
func (s *Server) handleComplete(c echo.Context) error {
	id, err := taskID(c)
	if err != nil {
		return err
	}
	var req client.CompleteRequest
	if err := s.decode(c, &req, bodyRequired); err != nil {
		return err
	}
	if err := checkReportRequest(c, "complete", id, req.WorkerID, req.Attempt, "result", len(req.Result)); err != nil {
		return err
	}
	t, err := s.b.Complete(c.Request().Context(), req.WorkerID,
		Completion{TaskID: id, Attempt: req.Attempt, Result: req.Result})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, wire.Task(t))
}

// checkReportRequest checks a complete or fail request before anything is
// applied: the token may act as this worker, the lease is named, and the
// reported field fits.
func checkReportRequest(c echo.Context, kind string, id int64, workerID string, attempt int, field string, size int) error {
	if err := requireBoundWorker(c, workerID); err != nil {
		return err
	}
	if err := checkWorkerReport(workerID, attempt); err != nil {
		return err
	}
	return checkReport(kind, id, attempt, field, size)
}

// handleFail is POST /v1/tasks/:id/fail, fenced by attempt.
func (s *Server) handleFail(c echo.Context) error {
	id, err := taskID(c)
	if err != nil {
		return err
	}
	var req client.FailRequest
	if err := s.decode(c, &req, bodyRequired); err != nil {
		return err
	}
	if err := checkReportRequest(c, "fail", id, req.WorkerID, req.Attempt, "error", len(req.Error)); err != nil {
		return err
	}
	t, err := s.b.Fail(c.Request().Context(), req.WorkerID,
		Failure{TaskID: id, Attempt: req.Attempt, Error: req.Error, Retry: req.Retry})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, wire.Task(t))
}

func checkWorkerReport(workerID string, attempt int) error {
	if workerID == "" {
		return badRequest("worker_id is required")
	}
	if attempt <= 0 {
		return badRequest("attempt must be positive, not %d", attempt)
	}
	return nil
}
