package worker

import (
	"context"
	"math"
	"strconv"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/mem"

	"github.com/shepherd/shepherd/api/client"
)

// heartbeatTimeout bounds one heartbeat, retries across masters included.
const heartbeatTimeout = 5 * time.Second

// heartbeatLoop beats until ctx ends, at the interval the cluster asks for.
func (w *Worker) heartbeatLoop(ctx context.Context) {
	t := time.NewTimer(w.heartbeatInterval())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		w.beat(ctx)
		t.Reset(w.heartbeatInterval())
	}
}

func (w *Worker) heartbeatInterval() time.Duration {
	return time.Duration(w.interval.Load())
}

// beat sends one heartbeat and acts on the answer: cancel the named tasks,
// adopt the interval, register again if the cluster forgot the worker.
func (w *Worker) beat(ctx context.Context) {
	req := w.heartbeatRequest(ctx)
	hctx, cancel := context.WithTimeout(ctx, heartbeatTimeout)
	resp, err := w.client.Heartbeat(hctx, w.cfg.ID, req)
	cancel()
	switch {
	case client.IsNotFound(err):
		w.log.Warn("cluster forgot this worker, registering again")
		_ = w.register(ctx)
		return
	case err != nil:
		if ctx.Err() == nil {
			w.log.Warn("heartbeat failed", "error", err)
		}
		return
	}
	w.cancelTasks(resp.Cancel)
	if d, err := time.ParseDuration(resp.HeartbeatInterval); err == nil && d > 0 {
		if old := w.heartbeatInterval(); old != d {
			w.log.Debug("adopting heartbeat interval", "interval", d)
			w.interval.Store(int64(d))
		}
	}
}

func (w *Worker) heartbeatRequest(ctx context.Context) client.HeartbeatRequest {
	req := client.HeartbeatRequest{Running: []int64{}}
	w.mu.Lock()
	for id, r := range w.running {
		req.Running = append(req.Running, id)
		if p := math.Float64frombits(r.progress.Load()); p > 0 {
			if req.Progress == nil {
				req.Progress = make(map[string]float64)
			}
			req.Progress[strconv.FormatInt(id, 10)] = p
		}
		if m := r.message.Load(); m != nil {
			if req.ProgressMessage == nil {
				req.ProgressMessage = make(map[string]string)
			}
			req.ProgressMessage[strconv.FormatInt(id, 10)] = *m
		}
		if r.extend.CompareAndSwap(true, false) {
			req.Extend = append(req.Extend, id)
		}
	}
	w.mu.Unlock()
	req.CPU, req.Memory = sampleLoad(ctx)
	return req
}

// cancelTasks cancels the contexts of the named running tasks.
func (w *Worker) cancelTasks(ids []int64) {
	if len(ids) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, id := range ids {
		if r, ok := w.running[id]; ok {
			w.log.Info("canceling task", "task-id", id, "attempt", r.task.Attempt)
			r.cancel(errCanceled)
		}
	}
}

// sampleLoad returns CPU and memory use as fractions in [0,1]. The CPU
// figure is the average since the previous call (gopsutil keeps the last
// sample), so it never blocks; zero when the platform cannot tell.
func sampleLoad(ctx context.Context) (cpuFrac, memFrac float64) {
	if p, err := cpu.PercentWithContext(ctx, 0, false); err == nil && len(p) > 0 {
		cpuFrac = clamp01(p[0] / 100)
	}
	if vm, err := mem.VirtualMemoryWithContext(ctx); err == nil {
		memFrac = clamp01(vm.UsedPercent / 100)
	}
	return cpuFrac, memFrac
}

func clamp01(f float64) float64 {
	if math.IsNaN(f) {
		return 0
	}
	return math.Max(0, math.Min(1, f))
}
