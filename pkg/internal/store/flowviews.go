package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// CreateProject stores an empty project (no version yet) with a
// description, as Azkaban's "create project" does before the first upload.
// ErrConflict when a project of that name exists; the unique key decides.
func (s *Store) CreateProject(ctx context.Context, name, description string) (*Project, error) {
	if _, err := s.db.ExecContext(ctx, "INSERT INTO projects (name, description, latest_version, created_at, updated_at) VALUES (?, ?, 0, "+s.d.now+", "+s.d.now+")", name, description); err != nil {
		if isDuplicate(err) {
			return nil, fmt.Errorf("project %q already exists: %w", name, ErrConflict)
		}
		return nil, fmt.Errorf("create project %q: %w", name, err)
	}
	return s.GetProject(ctx, name)
}

// FlowExecutions returns the executions of a flow of a project, newest
// first, skipping offset of them, and how many there are in all.
func (s *Store) FlowExecutions(ctx context.Context, project, flow string, offset, limit int) ([]*Execution, int, error) {
	var total int
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM executions WHERE project = ? AND flow = ?", project, flow).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count executions of %s/%s: %w", project, flow, err)
	}
	rows, err := s.db.QueryContext(ctx, "SELECT "+execColumns+execFrom+" WHERE e.project = ? AND e.flow = ? ORDER BY e.id DESC LIMIT ? OFFSET ?", project, flow, max(limit, 0), max(offset, 0))
	if err != nil {
		return nil, 0, fmt.Errorf("list executions of %s/%s: %w", project, flow, err)
	}
	defer rows.Close()
	out := []*Execution{}
	for rows.Next() {
		e, err := scanExecution(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("list executions of %s/%s: %w", project, flow, err)
		}
		out = append(out, e)
	}
	return out, total, rows.Err()
}

// UnfinishedExecutionIDs lists the executions of a flow that have not ended
// (queued, dispatching, running or being killed), oldest first.
func (s *Store) UnfinishedExecutionIDs(ctx context.Context, project, flow string) ([]int64, error) {
	ids, err := s.queryIDs(ctx, "SELECT id FROM executions WHERE project = ? AND flow = ? AND status IN "+liveStatuses+" ORDER BY id", project, flow)
	if err != nil {
		return nil, fmt.Errorf("list running executions of %s/%s: %w", project, flow, err)
	}
	return ids, nil
}

// FlowSchedule returns the first (lowest id) schedule of a flow, or
// ErrNotFound.
func (s *Store) FlowSchedule(ctx context.Context, project, flow string) (*Schedule, error) {
	sc, err := scanSchedule(s.db.QueryRowContext(ctx, "SELECT "+scheduleColumns+" FROM schedules WHERE project = ? AND flow = ? ORDER BY id LIMIT 1", project, flow))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("schedule of %s/%s: %w", project, flow, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get schedule of %s/%s: %w", project, flow, err)
	}
	return sc, nil
}

// SetFlowSchedule gives a flow the schedule ns, as Azkaban's scheduleCronFlow
// does: the flow's first schedule is replaced (it keeps its id, and is
// resumed), or a new one is added when the flow has none. One transaction,
// serialized per project by a lock on its row; it returns the schedule and
// whether it replaced one.
func (s *Store) SetFlowSchedule(ctx context.Context, ns NewSchedule) (*Schedule, bool, error) {
	var id int64
	replaced := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		replaced = false
		var pid int64
		if err := tx.QueryRowContext(ctx, "SELECT id FROM projects WHERE name = ?"+s.d.forUpdate, ns.Project).Scan(&pid); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("project %q: %w", ns.Project, ErrNotFound)
			}
			return err
		}
		err := tx.QueryRowContext(ctx, "SELECT id FROM schedules WHERE project = ? AND flow = ? ORDER BY id LIMIT 1", ns.Project, ns.Flow).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			res, err := tx.ExecContext(ctx, s.insertSchedule(), ns.Project, ns.Flow, ns.Cron, ns.TimeZone, jsonString(ns.Params), ns.Concurrent, ns.Misfire, false, dbTimeArg(ns.NextFire), ns.Owner, ns.Options.arg())
			if err != nil {
				return err
			}
			id, err = res.LastInsertId()
			return err
		}
		if err != nil {
			return err
		}
		replaced = true
		_, err = tx.ExecContext(ctx, "UPDATE schedules SET cron = ?, time_zone = ?, params = ?, concurrent = ?, misfire = ?, paused = ?, next_fire = ?, owner = ?, options = ? WHERE id = ?",
			ns.Cron, ns.TimeZone, jsonString(ns.Params), ns.Concurrent, ns.Misfire, false, dbTimeArg(ns.NextFire), ns.Owner, ns.Options.arg(), id)
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("schedule %s/%s: %w", ns.Project, ns.Flow, err)
	}
	sc, err := s.GetSchedule(ctx, id)
	return sc, replaced, err
}

// ProjectByID returns a project by id, or ErrNotFound.
func (s *Store) ProjectByID(ctx context.Context, id int64) (*Project, error) {
	var name string
	err := s.db.QueryRowContext(ctx, "SELECT name FROM projects WHERE id = ?", id).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("project %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get project %d: %w", id, err)
	}
	return s.GetProject(ctx, name)
}

// SetExecutionPaused pauses (no job starts until it is resumed) or resumes
// a RUNNING execution; its executor sees the change on its next poll. It
// returns ErrNotFound for no such execution and ErrConflict for one that
// is not RUNNING (queued, being killed or ended).
func (s *Store) SetExecutionPaused(ctx context.Context, id int64, paused bool) error {
	res, err := s.db.ExecContext(ctx, "UPDATE executions SET paused = ?, updated_at = "+s.d.now+" WHERE id = ? AND status = 'RUNNING' AND paused = ?", paused, id, !paused)
	if err != nil {
		return fmt.Errorf("pause execution %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return nil
	}
	ex, err := s.ExecutionHead(ctx, id)
	if err != nil {
		return err
	}
	if ex.Status != ExecRunning {
		return fmt.Errorf("execution %d is %s, not running: %w", id, ex.Status, ErrConflict)
	}
	return nil // already as asked
}
