package worker

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/shepherd/shepherd/api/client"
)

// report is a result as the fake master received it.
type report struct {
	ID      int64
	Attempt int
	Result  json.RawMessage
	Error   string
	Retry   bool
	Via     string // "poll" or "endpoint"
}

// fakeMaster implements just enough of the API for a worker: register,
// heartbeat, long-poll with piggybacked results, complete and fail, with
// lease fencing by attempt.
type fakeMaster struct {
	t   *testing.T
	srv *httptest.Server

	mu         sync.Mutex
	known      map[string]bool
	registers  int
	heartbeats []client.HeartbeatRequest
	queue      []client.Task
	leased     map[int64]client.Task // running tasks by id
	completed  map[int64]report
	failed     []report
	cancel     map[int64]bool
	interval   string
	// dropPolls makes that many polls carrying results die with a
	// connection error before anything is applied.
	dropPolls int
	// hang makes heartbeats hang until the client gives up (a paused master).
	hang    bool
	dropped []int64
	arrived chan struct{} // closed and replaced when tasks are queued
}

func newFakeMaster(t *testing.T) *fakeMaster {
	f := &fakeMaster{
		t:         t,
		known:     make(map[string]bool),
		leased:    make(map[int64]client.Task),
		completed: make(map[int64]report),
		cancel:    make(map[int64]bool),
		interval:  "20ms",
		arrived:   make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/workers", f.register)
	mux.HandleFunc("POST /v1/workers/{id}/heartbeat", f.heartbeat)
	mux.HandleFunc("POST /v1/workers/{id}/poll", f.poll)
	mux.HandleFunc("POST /v1/tasks/{id}/complete", f.complete)
	mux.HandleFunc("POST /v1/tasks/{id}/fail", f.fail)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// enqueue adds tasks; attempt is the attempt their next lease gets minus one.
func (f *fakeMaster) enqueue(tasks ...client.Task) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queue = append(f.queue, tasks...)
	close(f.arrived)
	f.arrived = make(chan struct{})
}

func (f *fakeMaster) register(w http.ResponseWriter, r *http.Request) {
	var req client.RegisterRequest
	if !decode(w, r, &req) {
		return
	}
	f.mu.Lock()
	f.known[req.ID] = true
	f.registers++
	f.mu.Unlock()
	reply(w, http.StatusOK, client.Worker{ID: req.ID, Capacity: req.Capacity, Status: "ready"})
}

func (f *fakeMaster) heartbeat(w http.ResponseWriter, r *http.Request) {
	var req client.HeartbeatRequest
	if !decode(w, r, &req) {
		return
	}
	f.mu.Lock()
	if f.hang {
		f.mu.Unlock()
		<-r.Context().Done()
		return
	}
	defer f.mu.Unlock()
	if !f.known[r.PathValue("id")] {
		replyError(w, http.StatusNotFound, "not_found", "unknown worker")
		return
	}
	f.heartbeats = append(f.heartbeats, req)
	resp := client.HeartbeatResponse{Cancel: []int64{}, HeartbeatInterval: f.interval}
	for id := range f.cancel {
		if _, ok := f.leased[id]; ok {
			resp.Cancel = append(resp.Cancel, id)
		}
	}
	reply(w, http.StatusOK, resp)
}

func (f *fakeMaster) poll(w http.ResponseWriter, r *http.Request) {
	var req client.PollRequest
	if !decode(w, r, &req) {
		return
	}
	if req.Max < 1 {
		replyError(w, http.StatusBadRequest, "invalid_argument", "max must be at least 1")
		return
	}
	f.mu.Lock()
	if !f.known[r.PathValue("id")] {
		f.mu.Unlock()
		replyError(w, http.StatusNotFound, "not_found", "unknown worker")
		return
	}
	if f.dropPolls > 0 && len(req.Completed)+len(req.Failed) > 0 {
		f.dropPolls--
		for _, c := range req.Completed {
			f.dropped = append(f.dropped, c.ID)
		}
		for _, fl := range req.Failed {
			f.dropped = append(f.dropped, fl.ID)
		}
		f.mu.Unlock()
		panic(http.ErrAbortHandler) // the connection dies, nothing applied
	}
	var resp client.PollResponse
	for _, c := range req.Completed {
		if code := f.applyLocked(report{ID: c.ID, Attempt: c.Attempt, Result: c.Result, Via: "poll"}, true); code != "" {
			resp.Rejected = append(resp.Rejected, client.Rejection{ID: c.ID, Code: code})
		}
	}
	for _, fl := range req.Failed {
		if code := f.applyLocked(report{ID: fl.ID, Attempt: fl.Attempt, Error: fl.Error, Retry: fl.Retry, Via: "poll"}, false); code != "" {
			resp.Rejected = append(resp.Rejected, client.Rejection{ID: fl.ID, Code: code})
		}
	}
	f.mu.Unlock()

	wait, _ := time.ParseDuration(req.Wait)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		f.mu.Lock()
		resp.Tasks = f.leaseLocked(r.PathValue("id"), req.Max)
		arrived := f.arrived
		f.mu.Unlock()
		if len(resp.Tasks) > 0 {
			break
		}
		select {
		case <-arrived:
			continue
		case <-timer.C:
		case <-r.Context().Done():
			return
		}
		break
	}
	reply(w, http.StatusOK, resp)
}

func (f *fakeMaster) leaseLocked(worker string, n int) []client.Task {
	out := []client.Task{}
	for len(f.queue) > 0 && len(out) < n {
		t := f.queue[0]
		f.queue = f.queue[1:]
		t.Attempt++
		t.Status = "running"
		t.WorkerID = worker
		f.leased[t.ID] = t
		out = append(out, t)
	}
	return out
}

// applyLocked applies a result fenced by attempt; it returns the error code
// of a refusal, or "".
func (f *fakeMaster) applyLocked(rep report, ok bool) string {
	t, leased := f.leased[rep.ID]
	if !leased || t.Attempt != rep.Attempt {
		if done, dup := f.completed[rep.ID]; ok && dup && done.Attempt == rep.Attempt {
			return "" // completing a completed task again is idempotent
		}
		return "stale_lease"
	}
	delete(f.leased, rep.ID)
	if ok {
		f.completed[rep.ID] = rep
	} else {
		f.failed = append(f.failed, rep)
	}
	return ""
}

func (f *fakeMaster) complete(w http.ResponseWriter, r *http.Request) {
	var req client.CompleteRequest
	if !decode(w, r, &req) {
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	f.endpointResult(w, report{ID: id, Attempt: req.Attempt, Result: req.Result, Via: "endpoint"}, true)
}

func (f *fakeMaster) fail(w http.ResponseWriter, r *http.Request) {
	var req client.FailRequest
	if !decode(w, r, &req) {
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	f.endpointResult(w, report{ID: id, Attempt: req.Attempt, Error: req.Error, Retry: req.Retry, Via: "endpoint"}, false)
}

func (f *fakeMaster) endpointResult(w http.ResponseWriter, rep report, ok bool) {
	f.mu.Lock()
	code := f.applyLocked(rep, ok)
	f.mu.Unlock()
	if code != "" {
		replyError(w, http.StatusConflict, code, "attempt is not the current lease")
		return
	}
	reply(w, http.StatusOK, map[string]any{})
}

// snapshot helpers, safe to call from tests.

func (f *fakeMaster) completedCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.completed)
}

func (f *fakeMaster) completion(id int64) (report, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.completed[id]
	return r, ok
}

func (f *fakeMaster) failures() []report {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]report(nil), f.failed...)
}

func (f *fakeMaster) leasedCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.leased)
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		replyError(w, http.StatusBadRequest, "invalid_argument", err.Error())
		return false
	}
	return true
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func replyError(w http.ResponseWriter, status int, code, msg string) {
	reply(w, status, client.ErrorBody{Error: client.ErrorDetail{Code: code, Message: msg}})
}
