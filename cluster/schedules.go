package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/shepherd/shepherd/fsm"
)

// cronParser reads standard five-field expressions, an optional leading
// seconds field, and descriptors such as @hourly and @every 30s.
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// maxTicksPerPass bounds the ticks one scheduler pass walks through for
// one schedule (a per-second schedule after a day of downtime); the rest
// are decided on the next passes.
const maxTicksPerPass = 100000

// CronSchedule is a parsed cron expression in its time zone.
type CronSchedule struct {
	sched cron.Schedule
	loc   *time.Location
}

// ParseCron parses a cron expression evaluated in the named IANA time
// zone ("" is UTC). Errors wrap fsm.ErrInvalid.
func ParseCron(expr, timeZone string) (CronSchedule, error) {
	loc := time.UTC
	if timeZone != "" {
		l, err := time.LoadLocation(timeZone)
		if err != nil {
			return CronSchedule{}, fmt.Errorf("%w: unknown time zone %q", fsm.ErrInvalid, timeZone)
		}
		loc = l
	}
	s, err := cronParser.Parse(expr)
	if err != nil {
		return CronSchedule{}, fmt.Errorf("%w: cron expression %q: %v", fsm.ErrInvalid, expr, err)
	}
	return CronSchedule{sched: s, loc: loc}, nil
}

// Next is the first tick strictly after t, in UTC (zero if none).
func (c CronSchedule) Next(t time.Time) time.Time {
	return c.sched.Next(t.In(c.loc)).UTC()
}

// NextTick is the next tick a schedule will decide.
func NextTick(s fsm.Schedule) (time.Time, error) {
	c, err := ParseCron(s.Cron, s.TimeZone)
	if err != nil {
		return time.Time{}, err
	}
	return c.Next(s.LastTick), nil
}

// PutSchedule creates or replaces a schedule once its expression parses.
func (n *Node) PutSchedule(ctx context.Context, s fsm.Schedule) (fsm.Schedule, error) {
	if _, err := ParseCron(s.Cron, s.TimeZone); err != nil {
		return fsm.Schedule{}, err
	}
	resp, err := n.leaderApply(ctx, fsm.PutSchedule{Now: time.Now().UTC(), Schedule: s})
	if err != nil {
		return fsm.Schedule{}, err
	}
	return resp.Schedules[0], nil
}

// PauseSchedule stops or restarts a schedule's ticks; the ticks of a
// pause are skipped, not fired late.
func (n *Node) PauseSchedule(ctx context.Context, id string, paused bool) (fsm.Schedule, error) {
	resp, err := n.leaderApply(ctx, fsm.PauseSchedule{Now: time.Now().UTC(), ID: id, Paused: paused})
	if err != nil {
		return fsm.Schedule{}, err
	}
	return resp.Schedules[0], nil
}

// DeleteSchedule removes a schedule; the tasks it created stay.
func (n *Node) DeleteSchedule(ctx context.Context, id string) (fsm.Schedule, error) {
	resp, err := n.leaderApply(ctx, fsm.DeleteSchedule{Now: time.Now().UTC(), ID: id})
	if err != nil {
		return fsm.Schedule{}, err
	}
	return resp.Schedules[0], nil
}

// runScheduler fires due schedule ticks. Every decision is a FireSchedule
// command carrying the ticks and the time they were decided through; the
// FSM ignores ticks at or before the schedule's LastTick and keys each run
// by its tick, so a tick fires once whichever leader decides it, and a
// new leader resumes from the replicated LastTick.
func (n *Node) runScheduler(ctx context.Context, ls *leaderState) {
	every(ctx, n.cfg.Semantics.ScheduleInterval, func(now time.Time) {
		for _, s := range n.fsm.Schedules() {
			if s.Paused {
				continue
			}
			cmd, ok := n.dueTicks(s, now)
			if !ok {
				continue
			}
			if _, err := n.applyChecked(ctx, cmd); err != nil {
				n.logger.Warn("could not fire schedule", "schedule", s.ID, "error", err)
			}
		}
	})
}

// dueTicks decides a schedule's ticks up to now: those at most
// MisfireGrace late fire; older ones were missed (the cluster was down)
// and are dropped, or, with misfire run-once, the latest of them fires
// when no punctual tick does.
func (n *Node) dueTicks(s fsm.Schedule, now time.Time) (fsm.FireSchedule, bool) {
	c, err := ParseCron(s.Cron, s.TimeZone)
	if err != nil {
		return fsm.FireSchedule{}, false // refused at creation; cannot happen
	}
	cmd := fsm.FireSchedule{Now: now, ScheduleID: s.ID}
	var missed time.Time
	walked := 0
	t := c.Next(s.LastTick)
	for ; !t.IsZero() && !t.After(now) && walked < maxTicksPerPass; t = c.Next(t) {
		walked++
		cmd.Through = t
		if now.Sub(t) <= n.cfg.Semantics.MisfireGrace {
			cmd.Ticks = append(cmd.Ticks, t)
		} else {
			missed = t
		}
	}
	if walked == 0 {
		return cmd, false
	}
	// A long outage takes several passes; run-once decides in the last
	// one only, or it would fire once per pass.
	caughtUp := t.IsZero() || t.After(now)
	if !missed.IsZero() {
		n.logger.Warn("schedule missed ticks", "schedule", s.ID, "latest", missed, "policy", s.Misfire)
		if s.Misfire == fsm.MisfireRunOnce && len(cmd.Ticks) == 0 && caughtUp {
			cmd.Ticks = []time.Time{missed}
		}
	}
	return cmd, true
}
