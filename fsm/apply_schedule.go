package fsm

import (
	"fmt"
	"strconv"
	"time"
)

func validateSchedule(s Schedule) error {
	switch {
	case s.Cron == "":
		return fmt.Errorf("%w: schedule needs a cron expression", ErrInvalid)
	case s.Overlap != OverlapAllow && s.Overlap != OverlapSkip:
		return fmt.Errorf("%w: overlap must be %q or %q", ErrInvalid, OverlapAllow, OverlapSkip)
	case s.Misfire != MisfireSkip && s.Misfire != MisfireRunOnce:
		return fmt.Errorf("%w: misfire must be %q or %q", ErrInvalid, MisfireSkip, MisfireRunOnce)
	}
	return validateSpec(s.Task)
}

func (f *FSM) applyPutSchedule(index uint64, c PutSchedule) Response {
	in := c.Schedule
	if err := validateSchedule(in); err != nil {
		return Response{Err: err}
	}
	s := &in
	if old, ok := f.s.schedules[in.ID]; ok && in.ID != "" {
		s.CreatedAt, s.LastTick, s.LastTaskID = old.CreatedAt, old.LastTick, old.LastTaskID
		s.Fired, s.Skipped, s.Paused = old.Fired, old.Skipped, old.Paused
	} else {
		if s.ID == "" {
			f.s.nextSchedule++
			s.ID = "s" + strconv.FormatInt(f.s.nextSchedule, 10)
			if _, taken := f.s.schedules[s.ID]; taken {
				return Response{Err: fmt.Errorf("%w: schedule id %s is taken; name the schedule", ErrConflict, s.ID)}
			}
		}
		s.CreatedAt, s.LastTick, s.LastTaskID, s.Fired, s.Skipped = c.Now, c.Now, 0, 0, 0
	}
	s.UpdatedAt = c.Now
	s.Task.RunAt, s.Task.IdempotencyKey, s.Task.ScheduleID, s.Task.ScheduleTick = time.Time{}, "", "", time.Time{}
	f.s.schedules[s.ID] = s
	f.events = append(f.events, Event{Index: index, Type: "schedule.updated", Time: c.Now, Schedule: s})
	return Response{Schedules: []Schedule{*s}}
}

func (f *FSM) applyDeleteSchedule(index uint64, c DeleteSchedule) Response {
	s, ok := f.s.schedules[c.ID]
	if !ok {
		return Response{Err: fmt.Errorf("%w: schedule %q", ErrNotFound, c.ID)}
	}
	delete(f.s.schedules, c.ID)
	f.events = append(f.events, Event{Index: index, Type: "schedule.deleted", Time: c.Now, Schedule: s})
	return Response{Schedules: []Schedule{*s}}
}

func (f *FSM) applyFireSchedule(index uint64, c FireSchedule) Response {
	old, ok := f.s.schedules[c.ScheduleID]
	if !ok {
		return Response{Err: fmt.Errorf("%w: schedule %q", ErrNotFound, c.ScheduleID)}
	}
	if !c.Through.After(old.LastTick) {
		return Response{} // decided already, by this or an earlier leader
	}
	s := old.clone()
	resp := Response{}
	for _, tick := range c.Ticks {
		if !tick.After(s.LastTick) || tick.After(c.Through) {
			continue
		}
		s.LastTick = tick
		key := ScheduleKey(s.ID, tick)
		if _, dup := f.s.keys[key]; dup {
			continue
		}
		if prev, ok := f.s.tasks[s.LastTaskID]; ok && s.Overlap == OverlapSkip && !prev.Status.Terminal() {
			s.Skipped++
			f.events = append(f.events, Event{Index: index, Type: "schedule.skipped", Time: c.Now, Schedule: s,
				Reason: fmt.Sprintf("tick %s: task %d still %s", tick.UTC().Format(time.RFC3339), prev.ID, prev.Status)})
			continue
		}
		sp := s.Task
		sp.RunAt, sp.IdempotencyKey, sp.ScheduleID, sp.ScheduleTick = c.Now, key, s.ID, tick
		if err := validateSpec(sp); err != nil {
			s.Skipped++
			continue
		}
		t := f.createTask(index, sp, c.Now)
		s.LastTaskID = t.ID
		s.Fired++
		resp.Tasks = append(resp.Tasks, *t)
	}
	s.LastTick, s.UpdatedAt = c.Through, c.Now
	f.s.schedules[s.ID] = s
	return resp
}

func (f *FSM) applyPauseSchedule(index uint64, c PauseSchedule) Response {
	old, ok := f.s.schedules[c.ID]
	if !ok {
		return Response{Err: fmt.Errorf("%w: schedule %q", ErrNotFound, c.ID)}
	}
	s := old.clone()
	s.Paused, s.UpdatedAt = c.Paused, c.Now
	typ := "schedule.paused"
	if !c.Paused {
		typ = "schedule.resumed"
		if c.Now.After(s.LastTick) {
			s.LastTick = c.Now // the ticks of the pause are skipped
		}
	}
	f.s.schedules[s.ID] = s
	f.events = append(f.events, Event{Index: index, Type: typ, Time: c.Now, Schedule: s})
	return Response{Schedules: []Schedule{*s}}
}
