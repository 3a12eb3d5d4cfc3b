package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/labels"
)

// Execution statuses.
const (
	ExecQueued      = "QUEUED"
	ExecDispatching = "DISPATCHING"
	ExecRunning     = "RUNNING"
	ExecKilling     = "KILLING"
	ExecSucceeded   = "SUCCEEDED"
	ExecFailed      = "FAILED"
	ExecKilled      = "KILLED"
)

// activeStatuses are the statuses of an execution that holds an executor slot.
const activeStatuses = "('DISPATCHING', 'RUNNING', 'KILLING')"

// endedStatuses are the final statuses of an execution; liveStatuses all
// the others (waiting or running). Each status is in exactly one.
const (
	endedStatuses = "('SUCCEEDED', 'FAILED', 'KILLED')"
	liveStatuses  = "('QUEUED', 'DISPATCHING', 'RUNNING', 'KILLING')"
)

// ErrFenced is returned to an executor writing about an execution it no
// longer owns (its attempt is stale).
var ErrFenced = errors.New("execution no longer owned by this executor attempt")

// Execution is one row of executions, with its jobs when loaded by GetExecution.
type Execution struct {
	ID               int64
	ProjectID        int64
	Project          string
	Version          int
	Flow             string
	Status           string
	ExecutorID       *int64
	ExecutorName     string
	ExecutorAddr     string
	ExecutorTLS      bool
	PinnedExecutorID *int64
	// Attempt is the fencing token: every dispatch and re-queue bumps it,
	// and every write an executor makes must name the current one. Users
	// see Runs instead.
	Attempt int
	// Runs is how many times the flow actually started (claims), shown to
	// users as its attempt: 1 for a flow that ran once, 0 before it starts.
	Runs             int
	DispatchFailures int
	Excluded         []int64
	FlowRetries      int
	Params           map[string]string
	Priority         int
	Concurrent       string
	FailureAction    string
	SubmitUser       string
	SubmitTime       time.Time
	DispatchedTime   *time.Time
	StartTime        *time.Time
	EndTime          *time.Time
	WaitReason       string
	Error            string
	KillReason       string
	ScheduleID       *int64
	ScheduledTime    *time.Time
	// Disabled lists the job paths disabled at submit (they end SKIPPED).
	Disabled  []string
	Alerts    Alerts
	UpdatedAt time.Time
	// Paused: no job of it starts until it is resumed (Azkaban's pauseFlow).
	Paused bool
	// RetryOf is the execution this one retries (crawlctl exec retry), if any.
	RetryOf *int64
	// Reused lists the jobs of a --failed-only retry that succeeded before
	// and are not run again (sorted).
	Reused []string
	// Selector is the labels its executor must have (empty: any).
	Selector map[string]string
	Jobs     []ExecutionJob
}

// Alerts are who to tell when an execution ends (Azkaban's successEmails,
// failureEmails, notifyFailureFirst and notifyFailureLast), stored with the
// execution; the alert outbox mails them when it ends.
type Alerts struct {
	SuccessEmails      []string `json:"successEmails,omitempty"`
	FailureEmails      []string `json:"failureEmails,omitempty"`
	NotifyFailureFirst bool     `json:"notifyFailureFirst,omitempty"`
	NotifyFailureLast  bool     `json:"notifyFailureLast,omitempty"`
	// SuccessOverride and FailureOverride (Azkaban's
	// successEmailsOverride, failureEmailsOverride) make the lists above
	// the whole lists: the flow's success.emails, failure.emails and
	// notify.emails are not added at submit. Not stored with executions.
	SuccessOverride bool `json:"successEmailsOverride,omitempty"`
	FailureOverride bool `json:"failureEmailsOverride,omitempty"`
}

// Ended reports whether the execution reached a final status.
func (e *Execution) Ended() bool {
	return e.Status == ExecSucceeded || e.Status == ExecFailed || e.Status == ExecKilled
}

// ExecutionJob is one job of an execution's current attempt.
type ExecutionJob struct {
	Name   string
	Type   string
	Status string
	// Attempt counts from 0 (Azkaban's azkaban.job.attempt); Try is the
	// same counted from 1, as users see it and as executions count runs.
	Attempt   int
	Try       int
	StartTime *time.Time
	EndTime   *time.Time
	ExitCode  *int
	Error     string
	// Outputs are the output properties of a job that succeeded (nil for
	// none); GetExecution does not load them.
	Outputs map[string]string
}

// NewExecution is a submission.
type NewExecution struct {
	ProjectID        int64
	Project          string
	Version          int
	Flow             string
	Params           map[string]string
	PinnedExecutorID int64
	Priority         int
	Concurrent       string // skip, ignore or queue
	FailureAction    string
	FlowRetries      int
	SubmitUser       string
	ScheduleID       int64     // the schedule that fired it, if any
	ScheduledTime    time.Time // the fire time it was submitted for
	Disabled         []string  // job paths that end SKIPPED instead of running
	Alerts           Alerts
	RetryOf          int64                        // the execution it retries, if any
	Reused           map[string]map[string]string // jobs not run again (succeeded before), with their output properties
	Selector         map[string]string            // labels the executor must have
}

// AlreadyRunningError is returned by a submission with concurrent=skip
// when the same flow is queued or running.
type AlreadyRunningError struct {
	ID     int64
	Status string
}

func (e *AlreadyRunningError) Error() string {
	return fmt.Sprintf("flow is already %s as execution %d", strings.ToLower(e.Status), e.ID)
}

const execColumns = `e.id, e.project_id, e.project, e.version, e.flow, e.status, e.executor_id, COALESCE(x.name, ''), COALESCE(x.host, ''), COALESCE(x.port, 0), COALESCE(x.tls, 0),
  e.pinned_executor_id, e.attempt, e.runs, e.dispatch_failures, e.excluded, e.flow_retries, e.params, e.priority, e.concurrent, e.failure_action,
  e.submit_user, e.submit_time, e.dispatched_time, e.start_time, e.end_time, e.wait_reason, e.error, e.kill_reason,
  e.schedule_id, e.scheduled_time, e.disabled, e.success_emails, e.failure_emails, e.notify_failure_first, e.notify_failure_last, e.updated_at, e.paused,
  e.retry_of, e.reused, e.selector`

const execFrom = " FROM executions e LEFT JOIN executors x ON x.id = e.executor_id"

// queueColumns are execColumns for QUEUED rows, which have no executor yet.
var queueColumns = strings.NewReplacer("COALESCE(x.name, '')", "''", "COALESCE(x.host, '')", "''", "COALESCE(x.port, 0)", "0", "COALESCE(x.tls, 0)", "0").Replace(execColumns)

func scanExecution(r scanner) (*Execution, error) {
	var (
		e                                     Execution
		execID, pinned, schedID               sql.NullInt64
		scheduled                             nullTime
		host                                  string
		port                                  int
		excluded, params                      string
		submit, dispatched, started, finished nullTime
		disabled                              sql.NullString
		successEmails, failureEmails          string
		updated                               nullTime
		retryOf                               sql.NullInt64
		reused                                sql.NullString
		selector                              string
	)
	if err := r.Scan(&e.ID, &e.ProjectID, &e.Project, &e.Version, &e.Flow, &e.Status, &execID, &e.ExecutorName, &host, &port, &e.ExecutorTLS,
		&pinned, &e.Attempt, &e.Runs, &e.DispatchFailures, &excluded, &e.FlowRetries, &params, &e.Priority, &e.Concurrent, &e.FailureAction,
		&e.SubmitUser, &submit, &dispatched, &started, &finished, &e.WaitReason, &e.Error, &e.KillReason, &schedID, &scheduled,
		&disabled, &successEmails, &failureEmails, &e.Alerts.NotifyFailureFirst, &e.Alerts.NotifyFailureLast, &updated, &e.Paused,
		&retryOf, &reused, &selector); err != nil {
		return nil, err
	}
	if execID.Valid {
		e.ExecutorID = &execID.Int64
		if host != "" {
			e.ExecutorAddr = fmt.Sprintf("%s:%d", host, port)
		}
	}
	if pinned.Valid {
		e.PinnedExecutorID = &pinned.Int64
	}
	if schedID.Valid {
		e.ScheduleID = &schedID.Int64
	}
	e.ScheduledTime = scheduled.ptr()
	_ = json.Unmarshal([]byte(excluded), &e.Excluded)
	e.Params = map[string]string{}
	_ = json.Unmarshal([]byte(params), &e.Params)
	e.SubmitTime = submit.t
	e.DispatchedTime, e.StartTime, e.EndTime = dispatched.ptr(), started.ptr(), finished.ptr()
	e.Disabled = []string{}
	if disabled.Valid {
		_ = json.Unmarshal([]byte(disabled.String), &e.Disabled)
	}
	e.Alerts.SuccessEmails, e.Alerts.FailureEmails = splitList(successEmails), splitList(failureEmails)
	e.UpdatedAt = updated.t
	if retryOf.Valid {
		e.RetryOf = &retryOf.Int64
	}
	e.Reused = []string{}
	if reused.Valid {
		var m map[string]json.RawMessage
		_ = json.Unmarshal([]byte(reused.String), &m)
		for path := range m {
			e.Reused = append(e.Reused, path)
		}
		sort.Strings(e.Reused)
	}
	e.Selector, _ = labels.Parse(selector)
	return &e, nil
}

// splitList reads a comma-separated column; "" is none.
func splitList(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

// disabledArg is the disabled column of a list of job paths (NULL for none).
func disabledArg(paths []string) any {
	if len(paths) == 0 {
		return nil
	}
	return jsonString(paths)
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// ExecutionHead returns an execution without its jobs.
func (s *Store) ExecutionHead(ctx context.Context, id int64) (*Execution, error) {
	return s.getExecution(ctx, id, false)
}

// GetExecution returns an execution with the jobs of its current attempt.
func (s *Store) GetExecution(ctx context.Context, id int64) (*Execution, error) {
	return s.getExecution(ctx, id, true)
}

func (s *Store) getExecution(ctx context.Context, id int64, withJobs bool) (*Execution, error) {
	e, err := scanExecution(s.db.QueryRowContext(ctx, "SELECT "+execColumns+execFrom+" WHERE e.id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("execution %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get execution %d: %w", id, err)
	}
	e.Jobs = []ExecutionJob{}
	if !withJobs {
		return e, nil
	}
	rows, err := s.db.QueryContext(ctx, "SELECT job, type, status, attempt, start_time, end_time, exit_code, error FROM execution_jobs WHERE execution_id = ? AND exec_attempt = ? ORDER BY start_time IS NULL, start_time, job", id, e.Attempt)
	if err != nil {
		return nil, fmt.Errorf("get jobs of execution %d: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var j ExecutionJob
		var st, en nullTime
		var code sql.NullInt64
		if err := rows.Scan(&j.Name, &j.Type, &j.Status, &j.Attempt, &st, &en, &code, &j.Error); err != nil {
			return nil, err
		}
		j.StartTime, j.EndTime = st.ptr(), en.ptr()
		j.Try = j.Attempt + 1
		if code.Valid {
			c := int(code.Int64)
			j.ExitCode = &c
		}
		e.Jobs = append(e.Jobs, j)
	}
	return e, rows.Err()
}

// ExecutionFilter narrows ListExecutions.
type ExecutionFilter struct {
	Status  string
	Project string
	Flow    string
	// ExecutorID, when set, lists only executions last given to it.
	ExecutorID int64
	// Before, when set, lists only executions older than this id (the
	// cursor of the next page).
	Before int64
	// Since and Until, when set, bound the submit time (Since included,
	// Until excluded).
	Since, Until time.Time
	Limit        int
}

// ListExecutions returns executions, newest first, without their jobs.
func (s *Store) ListExecutions(ctx context.Context, f ExecutionFilter) ([]*Execution, error) {
	q := "SELECT " + execColumns + execFrom + " WHERE 1 = 1"
	var args []any
	if f.Status != "" {
		q += " AND e.status = ?"
		args = append(args, strings.ToUpper(f.Status))
	}
	if f.Project != "" {
		q += " AND e.project = ?"
		args = append(args, f.Project)
	}
	if f.Flow != "" {
		q += " AND e.flow = ?"
		args = append(args, f.Flow)
	}
	if f.ExecutorID > 0 {
		q += " AND e.executor_id = ?"
		args = append(args, f.ExecutorID)
	}
	if f.Before > 0 {
		q += " AND e.id < ?"
		args = append(args, f.Before)
	}
	if !f.Since.IsZero() {
		q += " AND e.submit_time >= ?"
		args = append(args, dbTimeArg(f.Since))
	}
	if !f.Until.IsZero() {
		q += " AND e.submit_time < ?"
		args = append(args, dbTimeArg(f.Until))
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	q += " ORDER BY e.id DESC LIMIT ?"
	args = append(args, f.Limit)
	return queryAll(ctx, s, "list executions", scanExecution, q, args...)
}

// ExecutionCounts returns how many executions are in each status.
func (s *Store) ExecutionCounts(ctx context.Context) (map[string]int64, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT status, COUNT(*) FROM executions GROUP BY status")
	if err != nil {
		return nil, fmt.Errorf("count executions: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var st string
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return nil, err
		}
		out[st] = n
	}
	return out, rows.Err()
}

// ExecutionStatuses returns the status of each of ids that exists, in one
// query: what a web server's waiting clients are waiting on.
func (s *Store) ExecutionStatuses(ctx context.Context, ids []int64) (map[int64]string, error) {
	out := make(map[int64]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := s.db.QueryContext(ctx, "SELECT id, status FROM executions WHERE id IN (?"+strings.Repeat(", ?", len(ids)-1)+")", args...)
	if err != nil {
		return nil, fmt.Errorf("read execution statuses: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var st string
		if err := rows.Scan(&id, &st); err != nil {
			return nil, err
		}
		out[id] = st
	}
	return out, rows.Err()
}
