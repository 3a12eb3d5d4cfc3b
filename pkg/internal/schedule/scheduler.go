package schedule

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/submission"
)

// Misfire policies: what a schedule does about fire times that passed while
// no web server was running (or all were too busy to fire them in time).
const (
	MisfireFireOnce = "fire-once" // one catch-up run for all the missed fire times
	MisfireSkip     = "skip"      // no run for missed fire times
)

// Scheduler fires due schedules. Every web server runs one; the store's
// conditional update of next_fire makes each fire time submit exactly once
// however many run.
type Scheduler struct {
	store *store.Store
	log   zerolog.Logger
	// Wake is called after a submission (the dispatcher's Wake).
	Wake func()
	// MisfireThreshold: a fire time handled later than this is a misfire.
	MisfireThreshold time.Duration
	// Tick is how often due schedules are looked for.
	Tick time.Duration
	// OnFire, if set, is told the outcome of each fire time handled here.
	OnFire func(outcome string)
}

// NewScheduler returns a scheduler with default timings.
func NewScheduler(st *store.Store, log zerolog.Logger) *Scheduler {
	return &Scheduler{store: st, log: log, Wake: func() {}, MisfireThreshold: 5 * time.Second, Tick: 200 * time.Millisecond}
}

// Run fires schedules until ctx ends.
func (s *Scheduler) Run(ctx context.Context) {
	t := time.NewTicker(s.Tick)
	defer t.Stop()
	for {
		if _, err := s.RunOnce(ctx); err != nil && ctx.Err() == nil {
			s.log.Error().Err(err).Msg("scheduler pass failed")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunOnce handles every due schedule once and returns how many executions
// it submitted.
func (s *Scheduler) RunOnce(ctx context.Context) (int, error) {
	due, err := s.store.DueSchedules(ctx, 100)
	if err != nil || len(due) == 0 {
		return 0, err
	}
	now, err := s.store.Now(ctx)
	if err != nil {
		return 0, err
	}
	submitted := 0
	for _, sc := range due {
		ok, err := s.fire(ctx, sc, now)
		if err != nil {
			return submitted, err
		}
		if ok {
			submitted++
		}
	}
	if submitted > 0 {
		s.Wake()
	}
	return submitted, nil
}

func (s *Scheduler) fire(ctx context.Context, sc *store.Schedule, now time.Time) (bool, error) {
	dueAt := *sc.NextFire
	log := s.log.With().Int64("schedule", sc.ID).Time("fire_time", dueAt).Logger()
	cron, err := ParseCron(sc.Cron)
	if err != nil {
		return false, s.store.RecordScheduleError(ctx, sc.ID, dueAt, time.Time{}, err.Error())
	}
	loc, err := time.LoadLocation(sc.TimeZone)
	if err != nil {
		return false, s.store.RecordScheduleError(ctx, sc.ID, dueAt, time.Time{}, "time zone: "+err.Error())
	}
	next := cron.Next(dueAt, loc)
	note := "submitted for " + dueAt.In(loc).Format(time.RFC3339)
	var ne *store.NewExecution
	if late := now.Sub(dueAt); late > s.MisfireThreshold {
		// Fallen behind: collapse every passed fire time into at most one run.
		missed := 0
		for t := dueAt; !t.IsZero() && !t.After(now); t = cron.Next(t, loc) {
			missed++
		}
		next = cron.Next(now, loc)
		if sc.Misfire == MisfireSkip {
			note = fmt.Sprintf("missed %d fire time(s) from %s (misfire policy skip)", missed, dueAt.In(loc).Format(time.RFC3339))
			outcome, _, err := s.store.FireSchedule(ctx, sc.ID, dueAt, next, nil, note)
			s.observe(outcome)
			if err == nil && outcome == store.FireMissed {
				log.Warn().Int("missed", missed).Msg("misfired; skipped by policy")
			}
			return false, err
		}
		note = fmt.Sprintf("catch-up run for %d missed fire time(s) from %s (misfire policy fire-once)", missed, dueAt.In(loc).Format(time.RFC3339))
	}
	prepared, err := submission.Prepare(ctx, s.store, submission.Request{
		Project: sc.Project, Flow: sc.Flow, Params: sc.Params, Concurrent: sc.Concurrent, User: "schedule " + fmt.Sprint(sc.ID),
		FailureAction: sc.Options.FailureAction, Disabled: sc.Options.Disabled, Alerts: sc.Options.Alerts, Selector: sc.Options.Selector,
	})
	var ie *submission.InputError
	if errors.As(err, &ie) {
		// The project or flow went away: note it and keep the schedule going.
		log.Warn().Str("reason", ie.Msg).Msg("schedule cannot fire")
		return false, s.store.RecordScheduleError(ctx, sc.ID, dueAt, next, ie.Msg)
	}
	if err != nil {
		return false, err
	}
	prepared.ScheduleID, prepared.ScheduledTime = sc.ID, dueAt
	ne = &prepared
	outcome, id, err := s.store.FireSchedule(ctx, sc.ID, dueAt, next, ne, note)
	if err != nil {
		return false, err
	}
	s.observe(outcome)
	switch outcome {
	case store.FireSubmitted:
		log.Info().Int64("execution", id).Str("note", note).Msg("schedule fired")
		return true, nil
	case store.FireSkipped:
		log.Info().Msg("schedule skipped: the flow is still running (concurrent skip)")
	}
	return false, nil
}

func (s *Scheduler) observe(outcome string) {
	if s.OnFire != nil && outcome != "" {
		s.OnFire(outcome)
	}
}

// DefaultZone is the IANA name of this host's time zone, "UTC" if unknown.
func DefaultZone() string {
	if tz := os.Getenv("TZ"); tz != "" {
		if _, err := time.LoadLocation(tz); err == nil {
			return tz
		}
	}
	if name := time.Local.String(); name != "Local" && name != "" {
		return name
	}
	if target, err := filepath.EvalSymlinks("/etc/localtime"); err == nil {
		if i := strings.Index(target, "zoneinfo/"); i >= 0 {
			name := target[i+len("zoneinfo/"):]
			if _, err := time.LoadLocation(name); err == nil {
				return name
			}
		}
	}
	if b, err := os.ReadFile("/etc/timezone"); err == nil {
		if name := strings.TrimSpace(string(b)); name != "" {
			if _, err := time.LoadLocation(name); err == nil {
				return name
			}
		}
	}
	return "UTC"
}
