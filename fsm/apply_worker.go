package fsm

import (
	"fmt"
	"time"
)

func (f *FSM) applyRegisterWorker(index uint64, c RegisterWorker) Response {
	if c.ID == "" || c.Capacity < 1 {
		return Response{Err: fmt.Errorf("%w: worker needs an id and a capacity of at least 1", ErrInvalid)}
	}
	w := &Worker{ID: c.ID, RegisteredAt: c.Now}
	if old, ok := f.s.workers[c.ID]; ok {
		w = old.clone()
	}
	w.Address, w.Labels, w.Capacity = c.Address, c.Labels, c.Capacity
	w.Status, w.LastSeenAt = WorkerStatusReady, c.Now
	f.s.workers[c.ID] = w
	f.emit(index, "worker.registered", c.Now, nil, w)
	if c.ReportsRunning {
		f.keepOwnLeases(index, c)
	}
	return Response{}
}

func (f *FSM) applyWorkerDown(index uint64, c WorkerDown) Response {
	old, ok := f.s.workers[c.WorkerID]
	if !ok {
		return Response{Err: fmt.Errorf("%w: worker %q", ErrNotFound, c.WorkerID)}
	}
	w := old.clone()
	w.Status = WorkerStatusDown
	f.s.workers[c.WorkerID] = w
	f.emit(index, "worker.down", c.Now, nil, w)
	resp := Response{}
	for _, id := range f.s.runningOf(c.WorkerID) {
		lease := TaskAttempt{TaskID: id, Attempt: f.s.tasks[id].Attempt}
		if t := f.requeueLease(index, lease, "worker "+c.WorkerID+" down: "+c.Reason, c.Now); t != nil {
			resp.Tasks = append(resp.Tasks, *t)
		}
	}
	f.failPinned(index, c.WorkerID, "worker "+c.WorkerID+" down: "+c.Reason, c.Now)
	return resp
}

func (f *FSM) applyDrainWorker(index uint64, c DrainWorker) Response {
	old, ok := f.s.workers[c.WorkerID]
	if !ok {
		return Response{Err: fmt.Errorf("%w: worker %q", ErrNotFound, c.WorkerID)}
	}
	if old.Status == WorkerStatusDown {
		return Response{Err: fmt.Errorf("%w: worker %q is down", ErrConflict, c.WorkerID)}
	}
	w := old.clone()
	w.Status = WorkerStatusDraining
	f.s.workers[c.WorkerID] = w
	f.emit(index, "worker.draining", c.Now, nil, w)
	return Response{}
}

func (f *FSM) applyWorkerStats(index uint64, c WorkerStats) Response {
	for _, st := range c.Stats {
		old, ok := f.s.workers[st.WorkerID]
		if !ok {
			continue
		}
		w := old.clone()
		w.CPU, w.Memory, w.LastSeenAt = st.CPU, st.Memory, st.SeenAt
		f.s.workers[st.WorkerID] = w
		f.emit(index, "worker.stats", c.Now, nil, w)
		f.applyProgress(index, st, c.Now)
	}
	return Response{}
}

// applyProgress records reported progress on the worker's current leases.
func (f *FSM) applyProgress(index uint64, st WorkerStat, now time.Time) {
	for _, id := range progressIDs(st) {
		old, ok := f.s.tasks[id]
		if !ok {
			continue
		}
		p, hasP := st.Progress[id]
		if !hasP {
			p = old.Progress
		}
		msg, hasMsg := st.Messages[id]
		if !hasMsg || len(msg) > MaxProgressMessage {
			msg = old.ProgressMessage
		}
		if old.Status != StatusRunning || old.WorkerID != st.WorkerID || p < 0 || p > 1 ||
			(p == old.Progress && msg == old.ProgressMessage) {
			continue
		}
		t := old.clone()
		t.Progress, t.ProgressMessage = p, msg
		f.s.putTask(t)
		f.emit(index, "task.progress", now, t, nil)
	}
}

// progressIDs lists the tasks a stat reports progress or a message for,
// in id order.
func progressIDs(st WorkerStat) []int64 {
	ids := make([]int64, 0, len(st.Progress)+len(st.Messages))
	for id := range st.Progress {
		ids = append(ids, id)
	}
	for id := range st.Messages {
		if _, dup := st.Progress[id]; !dup {
			ids = append(ids, id)
		}
	}
	sortIDs(ids)
	return ids
}

func (f *FSM) applyRegisterServer(index uint64, c RegisterServer) Response {
	if c.Server.ID == "" {
		return Response{Err: fmt.Errorf("%w: server needs an id", ErrInvalid)}
	}
	f.s.servers[c.Server.ID] = c.Server
	srv := c.Server
	f.events = append(f.events, Event{Index: index, Type: "cluster.membership", Server: &srv, Reason: "registered"})
	return Response{}
}

func (f *FSM) applyRemoveServer(index uint64, c RemoveServer) Response {
	srv, ok := f.s.servers[c.ID]
	if !ok {
		return Response{}
	}
	delete(f.s.servers, c.ID)
	f.events = append(f.events, Event{Index: index, Type: "cluster.membership", Server: &srv, Reason: "removed"})
	return Response{}
}
