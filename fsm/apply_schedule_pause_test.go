package fsm

import (
	"errors"
	"testing"
	"time"
)

// A paused schedule keeps its definition; resuming skips the ticks of the
// pause (LastTick moves to the resume time) instead of firing them late.
func TestPauseAndResumeSchedule(t *testing.T) {
	f := New(nil)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sp := TaskSpec{Name: "tick", Queue: "default", MaxAttempts: 1, Timeout: time.Minute}
	apply := func(i uint64, c Command) *Response {
		buf, err := Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		resp, _ := f.ApplyCommand(i, buf)
		return resp
	}
	apply(1, PutSchedule{Now: base, Schedule: Schedule{ID: "s", Cron: "@every 1s", Overlap: OverlapAllow, Misfire: MisfireSkip, Task: sp}})
	if r := apply(2, PauseSchedule{Now: base.Add(time.Second), ID: "s", Paused: true}); r.Err != nil || !r.Schedules[0].Paused {
		t.Fatalf("pause: %+v", r)
	}
	replaced := apply(3, PutSchedule{Now: base.Add(2 * time.Second), Schedule: Schedule{ID: "s", Cron: "@every 2s", Overlap: OverlapAllow, Misfire: MisfireSkip, Task: sp}})
	if !replaced.Schedules[0].Paused {
		t.Fatal("replacing the definition resumed the schedule")
	}
	resume := base.Add(time.Hour)
	r := apply(4, PauseSchedule{Now: resume, ID: "s", Paused: false})
	if r.Err != nil || r.Schedules[0].Paused || !r.Schedules[0].LastTick.Equal(resume) {
		t.Fatalf("resume: %+v", r)
	}
	if r := apply(5, PauseSchedule{Now: resume, ID: "nope", Paused: true}); !errors.Is(r.Err, ErrNotFound) {
		t.Fatalf("pause of an unknown schedule: %v", r.Err)
	}
}
