package store

// What an executor needs to start an execution it claimed.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
)

// RunSpec is what an executor needs to start an execution it claimed.
type RunSpec struct {
	ProjectID     int64
	Project       string
	Version       int
	SHA256        string // of the project version's archive
	Flow          string
	Params        map[string]string
	FailureAction string
	Disabled      []string // job paths that end SKIPPED instead of running
	// RetryOf is the execution a retry retries (0 for none); Reused are the
	// jobs it does not run again, with their output properties.
	RetryOf int64
	Reused  map[string]map[string]string
	// SuccessEmails: someone is to be mailed when it succeeds.
	SuccessEmails bool
}

// ExecutionRunSpec returns what it takes to run execution id, in one query.
func (s *Store) ExecutionRunSpec(ctx context.Context, id int64) (*RunSpec, error) {
	var r RunSpec
	var params string
	var disabled, reused sql.NullString
	var retryOf sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT e.project_id, e.project, e.version, v.sha256, e.flow, e.params, e.failure_action, e.disabled, e.retry_of, e.reused, e.success_emails <> ''
FROM executions e JOIN project_versions v ON v.project_id = e.project_id AND v.version = e.version WHERE e.id = ?`, id).
		Scan(&r.ProjectID, &r.Project, &r.Version, &r.SHA256, &r.Flow, &params, &r.FailureAction, &disabled, &retryOf, &reused, &r.SuccessEmails)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("execution %d or its project version: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load execution %d: %w", id, err)
	}
	r.Params = map[string]string{}
	if err := json.Unmarshal([]byte(params), &r.Params); err != nil {
		return nil, fmt.Errorf("execution %d has unreadable parameters: %w", id, err)
	}
	if disabled.Valid {
		if err := json.Unmarshal([]byte(disabled.String), &r.Disabled); err != nil {
			return nil, fmt.Errorf("execution %d has an unreadable list of disabled jobs: %w", id, err)
		}
	}
	r.RetryOf = retryOf.Int64
	if reused.Valid {
		if err := json.Unmarshal([]byte(reused.String), &r.Reused); err != nil {
			return nil, fmt.Errorf("execution %d has an unreadable list of reused jobs: %w", id, err)
		}
	}
	return &r, nil
}
