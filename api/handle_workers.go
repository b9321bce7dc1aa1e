package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/shepherd/shepherd/api/client"
	"github.com/shepherd/shepherd/api/wire"
)

// maxCapacity bounds a worker's declared concurrency.
const maxCapacity = 10000

// handleRegisterWorker is POST /v1/workers: register or re-register.
func (s *Server) handleRegisterWorker(c echo.Context) error {
	var req client.RegisterRequest
	if err := s.decode(c, &req, bodyRequired); err != nil {
		return err
	}
	if err := requireBoundWorker(c, req.ID); err != nil {
		return err
	}
	if err := checkWorkerID(req.ID); err != nil {
		return err
	}
	if req.Capacity < 0 || req.Capacity > maxCapacity {
		return badRequest("capacity must be between 1 and %d, not %d", maxCapacity, req.Capacity)
	}
	if req.Capacity == 0 {
		req.Capacity = 1
	}
	if err := checkLabels("labels", req.Labels); err != nil {
		return err
	}
	w, err := s.b.RegisterWorker(c.Request().Context(), WorkerRegistration{
		ID: req.ID, Address: req.Address, Labels: req.Labels, Capacity: req.Capacity,
		ReportsRunning: req.Running != nil, Running: req.Running,
	})
	if err != nil {
		return err
	}
	_, running, _ := s.b.State().Worker(w.ID)
	return c.JSON(http.StatusOK, wire.Worker(w, running))
}

// handleListWorkers is GET /v1/workers.
func (s *Server) handleListWorkers(c echo.Context) error {
	return c.JSON(http.StatusOK, client.WorkerList{Workers: wire.Workers(s.b.State().Workers())})
}

// handleGetWorker is GET /v1/workers/:id.
func (s *Server) handleGetWorker(c echo.Context) error {
	id, err := workerID(c)
	if err != nil {
		return err
	}
	w, running, ok := s.b.State().Worker(id)
	if !ok {
		return notFound("worker %q not found", id)
	}
	return c.JSON(http.StatusOK, wire.Worker(w, running))
}

// handleHeartbeat is POST /v1/workers/:id/heartbeat.
func (s *Server) handleHeartbeat(c echo.Context) error {
	id, err := workerID(c)
	if err != nil {
		return err
	}
	var req client.HeartbeatRequest
	if err := s.decode(c, &req, bodyRequired); err != nil {
		return err
	}
	if req.CPU < 0 || req.Memory < 0 {
		return badRequest("cpu and memory must not be negative")
	}
	progress, err := progressMap(req.Progress)
	if err != nil {
		return err
	}
	messages, err := progressMessages(req.ProgressMessage)
	if err != nil {
		return err
	}
	ans, err := s.b.Heartbeat(c.Request().Context(), id, Heartbeat{
		CPU: req.CPU, Memory: req.Memory, Running: req.Running, Progress: progress,
		Messages: messages, Extend: req.Extend,
	})
	if err != nil {
		return err
	}
	interval := ans.Interval
	if interval <= 0 {
		interval = s.cfg.HeartbeatInterval
	}
	cancel := ans.Cancel
	if cancel == nil {
		cancel = []int64{}
	}
	return c.JSON(http.StatusOK, client.HeartbeatResponse{Cancel: cancel, HeartbeatInterval: wire.Duration(interval)})
}

// handlePoll is POST /v1/workers/:id/poll, a long-poll that also carries
// earlier results. Close ends a parked poll at once.
func (s *Server) handlePoll(c echo.Context) error {
	id, err := workerID(c)
	if err != nil {
		return err
	}
	var req client.PollRequest
	if err := s.decode(c, &req, bodyOptional); err != nil {
		return err
	}
	p, err := s.pollRequest(req)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(c.Request().Context())
	defer cancel()
	defer context.AfterFunc(s.stopping, cancel)()
	res, err := s.b.Poll(ctx, id, p)
	if err != nil {
		if s.stopping.Err() != nil && errors.Is(err, context.Canceled) {
			return errShuttingDown
		}
		return err
	}
	rejected := append(toRejections(res.Rejected), tooLargeResults(req)...)
	return c.JSON(http.StatusOK, client.PollResponse{Tasks: wire.Tasks(res.Tasks), Rejected: rejected})
}

// handleDrain is POST /v1/workers/:id/drain; its body is optional and empty.
func (s *Server) handleDrain(c echo.Context) error {
	id, err := workerID(c)
	if err != nil {
		return err
	}
	var req struct{}
	if err := s.decode(c, &req, bodyOptional); err != nil {
		return err
	}
	w, err := s.b.Drain(c.Request().Context(), id)
	if err != nil {
		return err
	}
	_, running, _ := s.b.State().Worker(w.ID)
	return c.JSON(http.StatusOK, wire.Worker(w, running))
}
