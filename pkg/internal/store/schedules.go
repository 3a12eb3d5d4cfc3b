package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Schedule is one row of schedules.
type Schedule struct {
	ID              int64
	Project         string
	Flow            string
	Cron            string
	TimeZone        string
	Params          map[string]string
	Concurrent      string
	Misfire         string
	Paused          bool
	NextFire        *time.Time
	LastFire        *time.Time
	LastExecutionID *int64
	LastStatus      string
	FiredCount      int64
	SkippedCount    int64
	Owner           string
	CreatedAt       time.Time
	// LastExecutionStatus is the status of LastExecutionID (ListSchedules
	// and GetSchedule fill it in).
	LastExecutionStatus string
	Options             ScheduleOptions
}

// ScheduleOptions are the execution options, beyond parameters and the
// concurrency option, that a schedule gives each run it submits.
type ScheduleOptions struct {
	FailureAction string   `json:"failureAction,omitempty"`
	Disabled      []string `json:"disabled,omitempty"`
	Alerts        Alerts   `json:"alerts,omitempty"`
	// Selector is the executor labels every run requires.
	Selector map[string]string `json:"selector,omitempty"`
}

// optionsArg is the options column (NULL when there are none).
func (o ScheduleOptions) arg() any {
	if o.FailureAction == "" && len(o.Disabled) == 0 && len(o.Alerts.SuccessEmails) == 0 && len(o.Alerts.FailureEmails) == 0 &&
		!o.Alerts.NotifyFailureFirst && !o.Alerts.NotifyFailureLast && len(o.Selector) == 0 && !o.Alerts.SuccessOverride && !o.Alerts.FailureOverride {
		return nil
	}
	return jsonString(o)
}

// NewSchedule is a schedule to add.
type NewSchedule struct {
	Project, Flow, Cron, TimeZone string
	Params                        map[string]string
	Concurrent, Misfire, Owner    string
	NextFire                      time.Time
	Options                       ScheduleOptions
}

const scheduleColumns = `id, project, flow, cron, time_zone, params, concurrent, misfire, paused, next_fire, last_fire,
  last_execution_id, last_status, fired_count, skipped_count, owner, created_at, options`

func scanSchedule(r scanner) (*Schedule, error) {
	var (
		sc               Schedule
		params           string
		next, last, made nullTime
		lastExec         sql.NullInt64
		options          sql.NullString
	)
	if err := r.Scan(&sc.ID, &sc.Project, &sc.Flow, &sc.Cron, &sc.TimeZone, &params, &sc.Concurrent, &sc.Misfire, &sc.Paused,
		&next, &last, &lastExec, &sc.LastStatus, &sc.FiredCount, &sc.SkippedCount, &sc.Owner, &made, &options); err != nil {
		return nil, err
	}
	sc.Params = map[string]string{}
	_ = json.Unmarshal([]byte(params), &sc.Params)
	sc.NextFire, sc.LastFire, sc.CreatedAt = next.ptr(), last.ptr(), made.t
	if lastExec.Valid {
		sc.LastExecutionID = &lastExec.Int64
	}
	if options.Valid {
		_ = json.Unmarshal([]byte(options.String), &sc.Options)
	}
	return &sc, nil
}

// insertSchedule inserts a schedule: project, flow, cron, time zone,
// params, concurrent, misfire, paused, next fire, owner and options.
func (s *Store) insertSchedule() string {
	return "INSERT INTO schedules (project, flow, cron, time_zone, params, concurrent, misfire, paused, next_fire, last_status, owner, created_at, options) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, " + s.d.now + ", ?)"
}

// AddSchedule stores a schedule and returns it.
func (s *Store) AddSchedule(ctx context.Context, ns NewSchedule) (*Schedule, error) {
	res, err := s.db.ExecContext(ctx, s.insertSchedule(), ns.Project, ns.Flow, ns.Cron, ns.TimeZone, jsonString(ns.Params), ns.Concurrent, ns.Misfire, false, dbTimeArg(ns.NextFire), ns.Owner, ns.Options.arg())
	if err != nil {
		return nil, fmt.Errorf("add schedule: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return nil, err
	}
	return s.GetSchedule(ctx, id)
}

// GetSchedule returns one schedule, with the status of its last execution,
// or ErrNotFound.
func (s *Store) GetSchedule(ctx context.Context, id int64) (*Schedule, error) {
	sc, err := scanSchedule(s.db.QueryRowContext(ctx, "SELECT "+scheduleColumns+" FROM schedules WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("schedule %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get schedule %d: %w", id, err)
	}
	return sc, s.lastExecutionStatus(ctx, []*Schedule{sc})
}

// ListSchedules returns schedules by id, each with the status of its last
// execution (LastExecutionStatus), in two queries whatever their number.
func (s *Store) ListSchedules(ctx context.Context, p Page) ([]*Schedule, error) {
	after, err := p.idAfter()
	if err != nil {
		return nil, err
	}
	list, err := s.querySchedules(ctx, "SELECT "+scheduleColumns+" FROM schedules WHERE id > ? ORDER BY id"+p.limitSQL(), after)
	if err != nil {
		return nil, err
	}
	return list, s.lastExecutionStatus(ctx, list)
}

// lastExecutionStatus fills in the status of each schedule's last
// execution, with one query.
func (s *Store) lastExecutionStatus(ctx context.Context, list []*Schedule) error {
	var ids []any
	bySchedule := map[int64][]*Schedule{}
	for _, sc := range list {
		if sc.LastExecutionID != nil {
			if len(bySchedule[*sc.LastExecutionID]) == 0 {
				ids = append(ids, *sc.LastExecutionID)
			}
			bySchedule[*sc.LastExecutionID] = append(bySchedule[*sc.LastExecutionID], sc)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	rows, err := s.db.QueryContext(ctx, "SELECT id, status FROM executions WHERE id IN (?"+strings.Repeat(", ?", len(ids)-1)+")", ids...)
	if err != nil {
		return fmt.Errorf("list schedules: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var status string
		if err := rows.Scan(&id, &status); err != nil {
			return err
		}
		for _, sc := range bySchedule[id] {
			sc.LastExecutionStatus = status
		}
	}
	return rows.Err()
}

// DueSchedules returns the unpaused schedules whose next fire time has come
// by the database clock.
func (s *Store) DueSchedules(ctx context.Context, limit int) ([]*Schedule, error) {
	return s.querySchedules(ctx, "SELECT "+scheduleColumns+" FROM schedules WHERE paused = ? AND next_fire <= "+s.d.now+" ORDER BY next_fire LIMIT ?", false, limit)
}

func (s *Store) querySchedules(ctx context.Context, q string, args ...any) ([]*Schedule, error) {
	return queryAll(ctx, s, "list schedules", scanSchedule, q, args...)
}

// SetSchedulePaused pauses or resumes a schedule; resuming sets the next fire
// time (fire times passed while paused are not caught up).
func (s *Store) SetSchedulePaused(ctx context.Context, id int64, paused bool, next time.Time) error {
	res, err := s.db.ExecContext(ctx, "UPDATE schedules SET paused = ?, next_fire = ? WHERE id = ?", paused, dbTimeArg(next), id)
	if err != nil {
		return fmt.Errorf("update schedule %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := s.GetSchedule(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// DeleteSchedule removes a schedule.
func (s *Store) DeleteSchedule(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, "DELETE FROM schedules WHERE id = ?", id)
	if err != nil {
		return fmt.Errorf("delete schedule %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("schedule %d: %w", id, ErrNotFound)
	}
	return nil
}

// Fire outcomes.
const (
	FireSubmitted = "submitted"
	FireSkipped   = "skipped"
	FireMissed    = "missed"
	FireLost      = "lost" // another web server fired it, or it was paused or removed
)

// FireSchedule handles fire time `due` of a schedule in one transaction: it
// moves next_fire from due to next only if it is still due (so among any
// number of web servers exactly one proceeds), then submits ne — unless ne
// is nil (a misfire skipped by policy) or concurrent=skip finds the flow
// still running. The outcome and the execution id (if any) are returned.
func (s *Store) FireSchedule(ctx context.Context, id int64, due, next time.Time, ne *NewExecution, note string) (outcome string, execID int64, err error) {
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE schedules SET next_fire = ?, last_fire = ? WHERE id = ? AND next_fire = ? AND paused = ?",
			dbTimeArg(next), dbTimeArg(due), id, dbTimeArg(due), false)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			outcome = FireLost
			return nil
		}
		if ne == nil {
			outcome = FireMissed
			_, err = tx.ExecContext(ctx, "UPDATE schedules SET last_status = ?, skipped_count = skipped_count + 1 WHERE id = ?", note, id)
			return err
		}
		execID, err = s.submitTx(ctx, tx, *ne)
		var are *AlreadyRunningError
		if errors.As(err, &are) {
			outcome = FireSkipped
			_, err = tx.ExecContext(ctx, "UPDATE schedules SET last_status = ?, skipped_count = skipped_count + 1 WHERE id = ?",
				fmt.Sprintf("skipped %s: execution %d still %s", due.UTC().Format(time.RFC3339), are.ID, are.Status), id)
			return err
		}
		if err != nil {
			return err
		}
		outcome = FireSubmitted
		_, err = tx.ExecContext(ctx, "UPDATE schedules SET last_execution_id = ?, last_status = ?, fired_count = fired_count + 1 WHERE id = ?", execID, note, id)
		return err
	})
	if err != nil {
		return "", 0, fmt.Errorf("fire schedule %d: %w", id, err)
	}
	return outcome, execID, nil
}

// RecordScheduleError notes why a due schedule could not fire and moves it on.
func (s *Store) RecordScheduleError(ctx context.Context, id int64, due, next time.Time, msg string) error {
	_, err := s.db.ExecContext(ctx, "UPDATE schedules SET next_fire = ?, last_fire = ?, last_status = ? WHERE id = ? AND next_fire = ?",
		dbTimeArg(next), dbTimeArg(due), "error: "+msg, id, dbTimeArg(due))
	return err
}
