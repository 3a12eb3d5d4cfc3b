package store

// Submitting an execution: the QUEUED row (see queue.go for assigning it).

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/crawlctl/crawlctl/pkg/internal/labels"
)

// submitTx inserts a QUEUED execution inside tx, honouring concurrent=skip.
func (s *Store) submitTx(ctx context.Context, tx *sql.Tx, ne NewExecution) (int64, error) {
	if err := s.skipCheck(ctx, tx, ne); err != nil {
		return 0, err
	}
	return s.insertExecution(ctx, tx, ne, nil, "")
}

// skipCheck returns an *AlreadyRunningError when ne is --concurrent skip and
// its flow is queued or running.
func (s *Store) skipCheck(ctx context.Context, tx *sql.Tx, ne NewExecution) error {
	if ne.Concurrent != "skip" {
		return nil
	}
	// Lock the project row so two skip-submissions of one flow serialize.
	var pid int64
	if err := tx.QueryRowContext(ctx, "SELECT id FROM projects WHERE id = ?"+s.d.forUpdate, ne.ProjectID).Scan(&pid); err != nil {
		return fmt.Errorf("lock project: %w", err)
	}
	var other int64
	var status string
	err := tx.QueryRowContext(ctx, "SELECT id, status FROM executions WHERE project = ? AND flow = ? AND status IN ('QUEUED', 'DISPATCHING', 'RUNNING', 'KILLING') ORDER BY id LIMIT 1",
		ne.Project, ne.Flow).Scan(&other, &status)
	if err == nil {
		return &AlreadyRunningError{ID: other, Status: status}
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	return nil
}

// insertExecution inserts ne, QUEUED (with the reason it waits, if known) or,
// when executor is set, DISPATCHING to it as attempt 1.
func (s *Store) insertExecution(ctx context.Context, tx *sql.Tx, ne NewExecution, executor *Executor, waitReason string) (int64, error) {
	status, executorID, attempt, dispatched := ExecQueued, any(nil), 0, "NULL"
	if executor != nil {
		status, executorID, attempt, dispatched, waitReason = ExecDispatching, executor.ID, 1, s.d.now, ""
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO executions (project_id, project, version, flow, status, executor_id, pinned_executor_id, attempt, excluded, flow_retries, params,
  priority, concurrent, failure_action, submit_user, submit_time, dispatched_time, wait_reason, error, kill_reason, updated_at, schedule_id, scheduled_time,
  disabled, success_emails, failure_emails, notify_failure_first, notify_failure_last, retry_of, reused, selector)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, '[]', ?, ?, ?, ?, ?, ?, `+s.d.now+`, `+dispatched+`, ?, '', '', `+s.d.now+`, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ne.ProjectID, ne.Project, ne.Version, ne.Flow, status, executorID, nullID(ne.PinnedExecutorID), attempt, ne.FlowRetries, jsonString(ne.Params),
		ne.Priority, ne.Concurrent, ne.FailureAction, ne.SubmitUser, waitReason, nullID(ne.ScheduleID), dbTimeArg(ne.ScheduledTime),
		disabledArg(ne.Disabled), strings.Join(ne.Alerts.SuccessEmails, ","), strings.Join(ne.Alerts.FailureEmails, ","), ne.Alerts.NotifyFailureFirst, ne.Alerts.NotifyFailureLast,
		nullID(ne.RetryOf), reusedArg(ne.Reused), labels.String(ne.Selector))
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// reusedArg is the reused column of a retry (NULL for none).
func reusedArg(m map[string]map[string]string) any {
	if len(m) == 0 {
		return nil
	}
	return jsonString(m)
}
