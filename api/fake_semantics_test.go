package api

import (
	"context"

	"github.com/shepherd/shepherd/fsm"
)

// The fake backend's task-semantics methods apply the real commands to the
// fake's FSM.

func (f *fakeBackend) Retry(_ context.Context, taskID int64, attempts int) (fsm.Task, error) {
	if attempts == 0 {
		attempts = 3
	}
	return f.one("Retry", fsm.Retry{Now: f.clock(), TaskID: taskID, Attempts: attempts})
}

func (f *fakeBackend) PutSchedule(_ context.Context, s fsm.Schedule) (fsm.Schedule, error) {
	if err := f.record("PutSchedule"); err != nil {
		return fsm.Schedule{}, err
	}
	resp, err := f.apply(fsm.PutSchedule{Now: f.clock(), Schedule: s})
	if err != nil {
		return fsm.Schedule{}, err
	}
	return resp.Schedules[0], nil
}

func (f *fakeBackend) PauseSchedule(_ context.Context, id string, paused bool) (fsm.Schedule, error) {
	if err := f.record("PauseSchedule"); err != nil {
		return fsm.Schedule{}, err
	}
	resp, err := f.apply(fsm.PauseSchedule{Now: f.clock(), ID: id, Paused: paused})
	if err != nil {
		return fsm.Schedule{}, err
	}
	return resp.Schedules[0], nil
}

func (f *fakeBackend) DeleteSchedule(_ context.Context, id string) (fsm.Schedule, error) {
	if err := f.record("DeleteSchedule"); err != nil {
		return fsm.Schedule{}, err
	}
	resp, err := f.apply(fsm.DeleteSchedule{Now: f.clock(), ID: id})
	if err != nil {
		return fsm.Schedule{}, err
	}
	return resp.Schedules[0], nil
}

func (f *fakeBackend) SetQueue(_ context.Context, queue string, paused *bool, maxRunning *int) (fsm.QueueSettings, error) {
	if err := f.record("SetQueue"); err != nil {
		return fsm.QueueSettings{}, err
	}
	if _, err := f.apply(fsm.SetQueue{Now: f.clock(), Queue: queue, Paused: paused, MaxRunning: maxRunning}); err != nil {
		return fsm.QueueSettings{}, err
	}
	return f.state.Queue(queue), nil
}

func (f *fakeBackend) RemoveWorker(_ context.Context, workerID string) error {
	if err := f.record("RemoveWorker"); err != nil {
		return err
	}
	_, err := f.apply(fsm.RemoveWorker{Now: f.clock(), WorkerID: workerID})
	return err
}
