package api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/shepherd/shepherd/api/client"
	"github.com/shepherd/shepherd/fsm"
)

// taskSpec validates a submission and resolves it into the spec the
// leader proposes: defaults applied and the run time made absolute with
// this (the leader's) clock.
func (s *Server) taskSpec(r client.SubmitRequest, now time.Time) (fsm.TaskSpec, error) {
	sp := fsm.TaskSpec{
		Name: r.Name, Queue: r.Queue, Description: r.Description, Payload: r.Payload,
		Priority: r.Priority, Labels: r.Labels, MaxAttempts: r.MaxAttempts,
		Timeout: s.cfg.DefaultTimeout, IdempotencyKey: r.IdempotencyKey,
	}
	switch {
	case r.Name == "":
		return sp, badRequest("name is required")
	case len(r.Name) > fsm.MaxNameLen:
		return sp, badRequest("name is longer than %d bytes", fsm.MaxNameLen)
	case len(r.Queue) > maxIDLen:
		return sp, badRequest("queue is longer than %d bytes", maxIDLen)
	case len(r.IdempotencyKey) > maxKeyLen:
		return sp, badRequest("idempotency_key is longer than %d bytes", maxKeyLen)
	case r.MaxAttempts < 0 || r.MaxAttempts > maxMaxAttempts:
		return sp, badRequest("max_attempts must be between 1 and %d, not %d", maxMaxAttempts, r.MaxAttempts)
	case r.RunAt != nil && r.Delay != "":
		return sp, badRequest("run_at and delay are mutually exclusive")
	}
	if sp.Queue == "" {
		sp.Queue = s.cfg.DefaultQueue
	}
	if sp.MaxAttempts == 0 {
		sp.MaxAttempts = s.cfg.DefaultMaxAttempts
	}
	if err := checkLabels("labels", r.Labels); err != nil {
		return sp, err
	}
	if err := resolveSemantics(r, &sp, s.cfg.MaxTimeout); err != nil {
		return sp, err
	}
	if r.Timeout != "" {
		d, err := time.ParseDuration(r.Timeout)
		if err != nil || d <= 0 || d > s.cfg.MaxTimeout {
			return sp, badRequest("timeout must be a positive duration of at most %s, not %q", s.cfg.MaxTimeout, r.Timeout)
		}
		sp.Timeout = d
	}
	switch {
	case r.RunAt != nil:
		sp.RunAt = r.RunAt.UTC()
	case r.Delay != "":
		d, err := time.ParseDuration(r.Delay)
		if err != nil || d < 0 {
			return sp, badRequest("delay must be a non-negative duration, not %q", r.Delay)
		}
		sp.RunAt = now.Add(d).UTC()
	default:
		sp.RunAt = now.UTC()
	}
	return sp, nil
}

// batchSpecs validates a whole batch before any of it is submitted.
func (s *Server) batchSpecs(reqs []client.SubmitRequest, now time.Time) ([]fsm.TaskSpec, error) {
	if len(reqs) == 0 || len(reqs) > maxBatch {
		return nil, badRequest("tasks must hold between 1 and %d tasks, not %d", maxBatch, len(reqs))
	}
	specs := make([]fsm.TaskSpec, len(reqs))
	for i, r := range reqs {
		sp, err := s.taskSpec(r, now)
		if err != nil {
			return nil, badRequest("tasks[%d]: %s", i, err.(*httpError).message)
		}
		specs[i] = sp
	}
	return specs, nil
}

func checkLabels(field string, labels map[string]string) error {
	for k := range labels {
		if k == "" {
			return badRequest("%s keys must not be empty", field)
		}
	}
	return nil
}

// checkWorkerID keeps worker ids usable as one path segment and in logs.
func checkWorkerID(id string) error {
	switch {
	case id == "":
		return badRequest("worker id is required")
	case len(id) > maxIDLen:
		return badRequest("worker id is longer than %d bytes", maxIDLen)
	case strings.ContainsFunc(id, func(r rune) bool { return r == '/' || unicode.IsControl(r) }):
		return badRequest("worker id %q must not contain '/' or control characters", id)
	}
	return nil
}

// checkReport validates a completion or failure reported by a worker.
// field names the reported text (result or error) whose size is checked.
func checkReport(what string, id int64, attempt int, field string, size int) error {
	switch {
	case id <= 0:
		return badRequest("%s: id must be a positive task id", what)
	case attempt <= 0:
		return badRequest("%s: attempt must be positive", what)
	case size > fsm.MaxResultSize:
		return &httpError{http.StatusRequestEntityTooLarge, codeTooLarge,
			fmt.Sprintf("%s: %s of %d bytes exceeds the %d-byte limit", what, field, size, fsm.MaxResultSize)}
	}
	return nil
}

// progressMap parses heartbeat progress keyed by decimal task ids.
func progressMap(in map[string]float64) (map[int64]float64, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := make(map[int64]float64, len(in))
	for k, v := range in {
		id, err := strconv.ParseInt(k, 10, 64)
		if err != nil || id <= 0 {
			return nil, badRequest("progress keys must be decimal task ids, not %q", k)
		}
		if v < 0 || v > 1 {
			return nil, badRequest("progress of task %d must be between 0 and 1, not %v", id, v)
		}
		out[id] = v
	}
	return out, nil
}

// progressMessages parses heartbeat progress messages keyed by task id.
func progressMessages(in map[string]string) (map[int64]string, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := make(map[int64]string, len(in))
	for k, v := range in {
		id, err := strconv.ParseInt(k, 10, 64)
		if err != nil || id <= 0 {
			return nil, badRequest("progress_message keys must be decimal task ids, not %q", k)
		}
		if len(v) > fsm.MaxProgressMessage {
			return nil, badRequest("progress_message of task %d is longer than %d bytes", id, fsm.MaxProgressMessage)
		}
		out[id] = v
	}
	return out, nil
}

// pollRequest validates a poll and applies its defaults.
func (s *Server) pollRequest(r client.PollRequest) (PollRequest, error) {
	p := PollRequest{Max: r.Max, Wait: s.cfg.DefaultPollWait, Queues: r.Queues}
	if p.Max == 0 {
		p.Max = 1
	}
	if p.Max < 1 || p.Max > maxPollMax {
		return p, badRequest("max must be between 1 and %d, not %d", maxPollMax, r.Max)
	}
	if r.Wait != "" {
		d, err := time.ParseDuration(r.Wait)
		if err != nil || d < 0 || d > s.cfg.MaxPollWait {
			return p, badRequest("wait must be a duration between 0s and %s, not %q", s.cfg.MaxPollWait, r.Wait)
		}
		p.Wait = d
	}
	if len(p.Queues) == 0 {
		p.Queues = []string{s.cfg.DefaultQueue}
	}
	for i, q := range p.Queues {
		if q == "" {
			return p, badRequest("queues[%d] must not be empty", i)
		}
	}
	for i, cr := range r.Completed {
		if err := checkReport(fmt.Sprintf("completed[%d]", i), cr.ID, cr.Attempt, "result", 0); err != nil {
			return p, err
		}
		if len(cr.Result) > fsm.MaxResultSize {
			continue // refused on its own (tooLargeResults), the rest of the poll goes on
		}
		p.Completed = append(p.Completed, Completion{TaskID: cr.ID, Attempt: cr.Attempt, Result: cr.Result})
	}
	for i, fr := range r.Failed {
		if err := checkReport(fmt.Sprintf("failed[%d]", i), fr.ID, fr.Attempt, "error", len(fr.Error)); err != nil {
			return p, err
		}
		p.Failed = append(p.Failed, Failure{TaskID: fr.ID, Attempt: fr.Attempt, Error: fr.Error, Retry: fr.Retry})
	}
	return p, nil
}

// tooLargeResults lists the poll's completions whose result exceeds the
// cap: pollRequest leaves them out, and the answer refuses each with
// payload_too_large, like a stale lease.
func tooLargeResults(r client.PollRequest) []client.Rejection {
	var out []client.Rejection
	for _, cr := range r.Completed {
		if len(cr.Result) > fsm.MaxResultSize {
			out = append(out, client.Rejection{ID: cr.ID, Code: codeTooLarge})
		}
	}
	return out
}
