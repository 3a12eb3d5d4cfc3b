package store

// Retrying an ended execution as a new one (crawlctl exec retry).

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
)

// RetrySubmission returns the submission that retries execution id, which
// must have ended FAILED or KILLED (ErrConflict otherwise): the same
// project version, flow, parameters and options, RetryOf set. With
// failedOnly, Reused holds the jobs that succeeded in it (or that it had
// reused itself), with their output properties: the retry does not run them
// again. The caller submits it; the original is not changed.
func (s *Store) RetrySubmission(ctx context.Context, id int64, failedOnly bool, user string) (NewExecution, error) {
	ex, err := s.ExecutionHead(ctx, id)
	if err != nil {
		return NewExecution{}, err
	}
	if ex.Status != ExecFailed && ex.Status != ExecKilled {
		why := "it has not ended yet"
		if ex.Status == ExecSucceeded {
			why = "it succeeded"
		}
		return NewExecution{}, fmt.Errorf("execution %d is %s: only a FAILED or KILLED execution can be retried (%s): %w", id, ex.Status, why, ErrConflict)
	}
	ne := NewExecution{
		ProjectID: ex.ProjectID, Project: ex.Project, Version: ex.Version, Flow: ex.Flow, Params: ex.Params,
		Priority: ex.Priority, Concurrent: ex.Concurrent, FailureAction: ex.FailureAction, FlowRetries: ex.FlowRetries,
		SubmitUser: user, Disabled: ex.Disabled, Alerts: ex.Alerts, RetryOf: ex.ID,
	}
	if ex.PinnedExecutorID != nil {
		ne.PinnedExecutorID = *ex.PinnedExecutorID
	}
	if !failedOnly {
		return ne, nil
	}
	ne.Reused = map[string]map[string]string{}
	var reused sql.NullString
	if err := s.db.QueryRowContext(ctx, "SELECT reused FROM executions WHERE id = ?", id).Scan(&reused); err != nil {
		return NewExecution{}, fmt.Errorf("read execution %d: %w", id, err)
	}
	if reused.Valid {
		if err := json.Unmarshal([]byte(reused.String), &ne.Reused); err != nil {
			return NewExecution{}, fmt.Errorf("execution %d has an unreadable list of reused jobs: %w", id, err)
		}
	}
	rows, err := s.db.QueryContext(ctx, "SELECT job, outputs FROM execution_jobs WHERE execution_id = ? AND exec_attempt = ? AND status = 'SUCCEEDED'", id, ex.Attempt)
	if err != nil {
		return NewExecution{}, fmt.Errorf("read jobs of execution %d: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var job string
		var outputs sql.NullString
		if err := rows.Scan(&job, &outputs); err != nil {
			return NewExecution{}, err
		}
		props := map[string]string{}
		if outputs.Valid {
			if err := json.Unmarshal([]byte(outputs.String), &props); err != nil {
				return NewExecution{}, fmt.Errorf("execution %d: unreadable output properties of job %s: %w", id, job, err)
			}
		}
		ne.Reused[job] = props
	}
	if err := rows.Err(); err != nil {
		return NewExecution{}, err
	}
	if n := len(jsonString(ne.Reused)); n > maxReused {
		return NewExecution{}, fmt.Errorf("execution %d: the output properties of its succeeded jobs take %d bytes, more than a retry can carry (%d); retry it without --failed-only: %w",
			id, n, maxReused, ErrConflict)
	}
	return ne, nil
}

// maxReused bounds what a failed-only retry carries over (the reused column,
// as JSON), well below MySQL's max_allowed_packet.
const maxReused = 8 << 20
