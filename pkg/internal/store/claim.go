package store

// An executor finding its work and claiming it.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrInactive is returned by ClaimExecution when the executor's row is not
// active and the execution is not pinned to it: the database, not the
// executor's memory, decides whether it may take work.
var ErrInactive = errors.New("executor is inactive")

// WorkItem is an execution assigned to an executor that needs its attention.
type WorkItem struct {
	ID      int64
	Attempt int
	Status  string
	// FlowRetries is how many more runs the flow allows after a lost one.
	FlowRetries int
	Excluded    []int64 // executors excluded by earlier dispatch failures
	Paused      bool    // no job may start (Azkaban's pauseFlow)
}

// ExecutorWork lists this executor's DISPATCHING (to claim), RUNNING and
// KILLING (to run or kill) executions.
func (s *Store) ExecutorWork(ctx context.Context, executorID int64) ([]WorkItem, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT id, attempt, status, flow_retries, excluded, paused FROM executions WHERE executor_id = ? AND status IN "+activeStatuses+" ORDER BY priority DESC, id", executorID)
	if err != nil {
		return nil, fmt.Errorf("poll work of executor %d: %w", executorID, err)
	}
	defer rows.Close()
	var out []WorkItem
	for rows.Next() {
		var w WorkItem
		var excluded string
		if err := rows.Scan(&w.ID, &w.Attempt, &w.Status, &w.FlowRetries, &excluded, &w.Paused); err != nil {
			return nil, err
		}
		_ = json.Unmarshal([]byte(excluded), &w.Excluded)
		out = append(out, w)
	}
	return out, rows.Err()
}

// ClaimExecution moves DISPATCHING to RUNNING if the execution is still
// assigned to executorID under attempt and the executor may take it: its row
// is active, or the execution is pinned to it. It counts the run. It
// returns ErrInactive when only the activation stood in the way, and false
// when the execution is no longer waiting for this attempt.
func (s *Store) ClaimExecution(ctx context.Context, id, executorID int64, attempt int) (bool, error) {
	res, err := s.db.ExecContext(ctx, "UPDATE executions SET status = 'RUNNING', runs = runs + 1, start_time = "+s.d.now+", updated_at = "+s.d.now+
		" WHERE id = ? AND executor_id = ? AND attempt = ? AND status = 'DISPATCHING'"+
		" AND (pinned_executor_id = ? OR EXISTS (SELECT 1 FROM executors x WHERE x.id = ? AND x.active <> 0))",
		id, executorID, attempt, executorID, executorID)
	if err != nil {
		return false, fmt.Errorf("claim execution %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return true, nil
	}
	// Say why: only the failure path pays for this read.
	var waiting int
	err = s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM executions WHERE id = ? AND executor_id = ? AND attempt = ? AND status = 'DISPATCHING'",
		id, executorID, attempt).Scan(&waiting)
	if err != nil {
		return false, fmt.Errorf("claim execution %d: %w", id, err)
	}
	if waiting == 1 {
		return false, fmt.Errorf("claim execution %d: %w", id, ErrInactive)
	}
	return false, nil
}
