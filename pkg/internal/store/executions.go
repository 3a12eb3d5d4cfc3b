package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
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
	Jobs   []ExecutionJob
}

// Alerts are who to tell when an execution ends (Azkaban's successEmails,
// failureEmails, notifyFailureFirst and notifyFailureLast). They are stored
// with the execution; nothing sends mail yet.
type Alerts struct {
	SuccessEmails      []string `json:"successEmails,omitempty"`
	FailureEmails      []string `json:"failureEmails,omitempty"`
	NotifyFailureFirst bool     `json:"notifyFailureFirst,omitempty"`
	NotifyFailureLast  bool     `json:"notifyFailureLast,omitempty"`
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
}

// AlreadyRunningError is returned by SubmitExecution with concurrent=skip
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
  e.schedule_id, e.scheduled_time, e.disabled, e.success_emails, e.failure_emails, e.notify_failure_first, e.notify_failure_last, e.updated_at, e.paused`

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
	)
	if err := r.Scan(&e.ID, &e.ProjectID, &e.Project, &e.Version, &e.Flow, &e.Status, &execID, &e.ExecutorName, &host, &port, &e.ExecutorTLS,
		&pinned, &e.Attempt, &e.Runs, &e.DispatchFailures, &excluded, &e.FlowRetries, &params, &e.Priority, &e.Concurrent, &e.FailureAction,
		&e.SubmitUser, &submit, &dispatched, &started, &finished, &e.WaitReason, &e.Error, &e.KillReason, &schedID, &scheduled,
		&disabled, &successEmails, &failureEmails, &e.Alerts.NotifyFailureFirst, &e.Alerts.NotifyFailureLast, &updated, &e.Paused); err != nil {
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

// SubmitExecution queues an execution (the dispatcher assigns it). With
// Concurrent "skip" it returns an *AlreadyRunningError instead when the same
// flow is queued or running.
func (s *Store) SubmitExecution(ctx context.Context, ne NewExecution) (*Execution, error) {
	var id int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		id, err = s.submitTx(ctx, tx, ne)
		return err
	})
	if err != nil {
		var are *AlreadyRunningError
		if errors.As(err, &are) {
			return nil, err
		}
		return nil, fmt.Errorf("submit %s/%s: %w", ne.Project, ne.Flow, err)
	}
	return s.getExecution(ctx, id, false)
}

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
  disabled, success_emails, failure_emails, notify_failure_first, notify_failure_last)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, '[]', ?, ?, ?, ?, ?, ?, `+s.d.now+`, `+dispatched+`, ?, '', '', `+s.d.now+`, ?, ?, ?, ?, ?, ?, ?)`,
		ne.ProjectID, ne.Project, ne.Version, ne.Flow, status, executorID, nullID(ne.PinnedExecutorID), attempt, ne.FlowRetries, jsonString(ne.Params),
		ne.Priority, ne.Concurrent, ne.FailureAction, ne.SubmitUser, waitReason, nullID(ne.ScheduleID), dbTimeArg(ne.ScheduledTime),
		disabledArg(ne.Disabled), strings.Join(ne.Alerts.SuccessEmails, ","), strings.Join(ne.Alerts.FailureEmails, ","), ne.Alerts.NotifyFailureFirst, ne.Alerts.NotifyFailureLast)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
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
	// Before, when set, lists only executions older than this id (the
	// cursor of the next page).
	Before int64
	Limit  int
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
	if f.Before > 0 {
		q += " AND e.id < ?"
		args = append(args, f.Before)
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	q += " ORDER BY e.id DESC LIMIT ?"
	args = append(args, f.Limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list executions: %w", err)
	}
	defer rows.Close()
	out := []*Execution{}
	for rows.Next() {
		e, err := scanExecution(rows)
		if err != nil {
			return nil, fmt.Errorf("list executions: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// ExecutorsWithLoad lists executors by id (the key of p) with RunningFlows
// set to the executions each holds (DISPATCHING, RUNNING or KILLING), as the
// database counts them, not as their heartbeats said.
func (s *Store) ExecutorsWithLoad(ctx context.Context, p Page) ([]*Executor, error) {
	after, err := p.idAfter()
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, "SELECT "+s.executorColumns()+" FROM executors WHERE id > ? ORDER BY id"+p.limitSQL(), after)
	if err != nil {
		return nil, err
	}
	var list []*Executor
	byID := map[int64]*Executor{}
	for rows.Next() {
		e, err := scanExecutor(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		e.RunningFlows = 0
		list = append(list, e)
		byID[e.ID] = e
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return list, nil
	}
	rows, err = s.db.QueryContext(ctx, "SELECT executor_id, COUNT(*) FROM executions WHERE status IN "+activeStatuses+" AND executor_id BETWEEN ? AND ? GROUP BY executor_id",
		list[0].ID, list[len(list)-1].ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		if e := byID[id]; e != nil {
			e.RunningFlows = n
		}
	}
	return list, rows.Err()
}

// exclude returns ids with executor id added (a new slice; 0 adds nothing).
func exclude(ids []int64, id int64) []int64 {
	out := append([]int64{}, ids...)
	if id != 0 && !slices.Contains(out, id) {
		out = append(out, id)
	}
	return out
}

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

// owned checks, inside tx, that executorID still runs attempt of id.
func (s *Store) owned(ctx context.Context, tx *sql.Tx, id, executorID int64, attempt int) error {
	var status string
	err := tx.QueryRowContext(ctx, "SELECT status FROM executions WHERE id = ? AND executor_id = ? AND attempt = ?", id, executorID, attempt).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && status != ExecRunning && status != ExecKilling) {
		return fmt.Errorf("execution %d attempt %d: %w", id, attempt, ErrFenced)
	}
	return err
}

// LogChunk is a piece of a job's output (Job "" is the flow log) at Offset
// of that job attempt's log.
type LogChunk struct {
	Job     string
	Attempt int
	Offset  int64
	Data    []byte
}

// ExecutionEnd is how an executor's attempt of an execution ended.
type ExecutionEnd struct {
	Status string // SUCCEEDED, FAILED or KILLED
	Error  string
	// Interrupted: the executor stopped the run through no fault of the
	// flow (its lease expired while the database was out of reach), so the
	// execution is queued again for a fresh run instead of ending; one that
	// was being cancelled ends KILLED instead. Requeue bounds and spaces
	// such re-queues like dispatch failures (they count as ones).
	Interrupted bool
	Requeue     DispatchPolicy
}

// Report records, in one transaction, job states and log chunks of the
// executor's attempt of an execution and, when end is set, the end of that
// attempt (with every job still READY or RUNNING ended too). A later state
// of a job replaces an earlier one, so jobs may hold several states of one
// job in order. It returns ErrFenced, writing nothing, when the attempt is
// no longer current.
func (s *Store) Report(ctx context.Context, execID, executorID int64, attempt int, jobs []ExecutionJob, logs []LogChunk, end *ExecutionEnd) error {
	jobs = lastStates(jobs)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if end != nil {
			// The conditional update is the ownership check, and it locks the
			// row for the rest of the transaction.
			if err := s.endAttempt(ctx, tx, execID, executorID, attempt, *end); err != nil {
				return err
			}
		} else if err := s.owned(ctx, tx, execID, executorID, attempt); err != nil {
			return err
		}
		if err := s.insertJobs(ctx, tx, execID, attempt, jobs); err != nil {
			return err
		}
		if err := s.insertLogs(ctx, tx, execID, attempt, logs); err != nil {
			return err
		}
		if end == nil {
			return nil
		}
		why := end.Error
		if why == "" {
			why = "the execution ended " + strings.ToLower(end.Status)
		}
		return s.endJobs(ctx, tx, execID, attempt, why)
	})
	if err != nil && !errors.Is(err, ErrFenced) {
		return fmt.Errorf("report on execution %d: %w", execID, err)
	}
	return err
}

// lastStates keeps the last state of each job, in the order of first
// appearance.
func lastStates(jobs []ExecutionJob) []ExecutionJob {
	if len(jobs) < 2 {
		return jobs
	}
	at := make(map[string]int, len(jobs))
	out := make([]ExecutionJob, 0, len(jobs))
	for _, j := range jobs {
		if i, ok := at[j.Name]; ok {
			out[i] = j
			continue
		}
		at[j.Name] = len(out)
		out = append(out, j)
	}
	return out
}

// Rows per multi-row statement: well below SQLite's 32766 bound variables,
// and log statements also stop at logBatchBytes (MySQL's max_allowed_packet).
const (
	rowsPerStatement = 200
	logBatchBytes    = 1 << 20
)

func (s *Store) insertJobs(ctx context.Context, tx *sql.Tx, execID int64, attempt int, jobs []ExecutionJob) error {
	for len(jobs) > 0 {
		n := min(len(jobs), rowsPerStatement)
		args := make([]any, 0, n*10)
		for _, j := range jobs[:n] {
			var st, en, code any
			if j.StartTime != nil {
				st = dbTimeArg(*j.StartTime)
			}
			if j.EndTime != nil {
				en = dbTimeArg(*j.EndTime)
			}
			if j.ExitCode != nil {
				code = *j.ExitCode
			}
			args = append(args, execID, attempt, j.Name, j.Type, j.Status, j.Attempt, st, en, code, j.Error)
		}
		q := s.d.upsertJobs(n)
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("record job states: %w", err)
		}
		jobs = jobs[n:]
	}
	return nil
}

func (s *Store) insertLogs(ctx context.Context, tx *sql.Tx, execID int64, attempt int, logs []LogChunk) error {
	const row = "(?, ?, ?, ?, ?, ?, "
	for len(logs) > 0 {
		var q strings.Builder
		q.WriteString("INSERT INTO execution_logs (execution_id, exec_attempt, job, attempt, start_offset, data, created_at) VALUES ")
		var args []any
		n, size := 0, 0
		for n < len(logs) && n < rowsPerStatement && (n == 0 || size+len(logs[n].Data) <= logBatchBytes) {
			l := logs[n]
			if n > 0 {
				q.WriteString(", ")
			}
			q.WriteString(row + s.d.now + ")")
			args = append(args, execID, attempt, l.Job, l.Attempt, l.Offset, l.Data)
			size += len(l.Data)
			n++
		}
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("append logs: %w", err)
		}
		logs = logs[n:]
	}
	return nil
}

// ReadLog returns up to length bytes of a job's log (job "" is the flow log)
// from offset, for the execution's current attempt, and the offset after them.
func (s *Store) ReadLog(ctx context.Context, execID int64, job string, offset int64, length int) ([]byte, int64, error) {
	var attempt int
	if err := s.db.QueryRowContext(ctx, "SELECT attempt FROM executions WHERE id = ?", execID).Scan(&attempt); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, offset, fmt.Errorf("execution %d: %w", execID, ErrNotFound)
		}
		return nil, offset, err
	}
	if length <= 0 {
		length = 1 << 20
	}
	rows, err := s.db.QueryContext(ctx, "SELECT start_offset, data FROM execution_logs WHERE execution_id = ? AND exec_attempt = ? AND job = ? AND start_offset + LENGTH(data) > ? ORDER BY start_offset LIMIT 256",
		execID, attempt, job, offset)
	if err != nil {
		return nil, offset, fmt.Errorf("read log of execution %d: %w", execID, err)
	}
	defer rows.Close()
	var out []byte
	next := offset
	for rows.Next() && len(out) < length {
		var start int64
		var data []byte
		if err := rows.Scan(&start, &data); err != nil {
			return nil, offset, err
		}
		if start > next { // a gap: chunks arrive in order, so stop at it
			break
		}
		data = data[next-start:]
		if room := length - len(out); len(data) > room {
			data = data[:room]
		}
		out = append(out, data...)
		next += int64(len(data))
	}
	return out, next, rows.Err()
}

// CancelExecution kills a queued or dispatching execution at once, or marks a
// running one KILLING for its executor to stop. It returns the execution.
func (s *Store) CancelExecution(ctx context.Context, id int64, user, reason string) (*Execution, error) {
	if reason == "" {
		reason = "cancelled by " + user
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var status string
		var attempt int
		err := tx.QueryRowContext(ctx, "SELECT status, attempt FROM executions WHERE id = ?"+s.d.forUpdate, id).Scan(&status, &attempt)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("execution %d: %w", id, ErrNotFound)
		}
		if err != nil {
			return err
		}
		switch status {
		case ExecQueued, ExecDispatching:
			// A late claim fails: it requires DISPATCHING.
			_, err = tx.ExecContext(ctx, "UPDATE executions SET status = 'KILLED', end_time = "+s.d.now+", kill_reason = ?, error = ?, updated_at = "+s.d.now+" WHERE id = ?",
				reason, reason+" before it started", id)
			if err == nil {
				err = s.endJobs(ctx, tx, id, attempt, reason)
			}
		case ExecRunning:
			_, err = tx.ExecContext(ctx, "UPDATE executions SET status = 'KILLING', kill_reason = ?, updated_at = "+s.d.now+" WHERE id = ?", reason, id)
		case ExecKilling:
		default:
			return fmt.Errorf("execution %d already ended %s: %w", id, status, ErrConflict)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.GetExecution(ctx, id)
}

// ExecutionOwner is an execution holding a slot on an executor.
type ExecutionOwner struct {
	ID          int64
	ExecutorID  int64
	Attempt     int
	Status      string
	FlowRetries int
	Excluded    []int64
	// DispatchFailures is how many dispatches failed before this one.
	DispatchFailures int
	Dispatched       time.Duration // how long ago it was dispatched (database clock)
}

// ActiveExecutions lists executions in DISPATCHING, RUNNING or KILLING.
func (s *Store) ActiveExecutions(ctx context.Context) ([]ExecutionOwner, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT id, executor_id, attempt, status, flow_retries, excluded, dispatch_failures, COALESCE("+s.d.msSince("dispatched_time")+", 0) FROM executions WHERE status IN "+activeStatuses)
	if err != nil {
		return nil, fmt.Errorf("list active executions: %w", err)
	}
	defer rows.Close()
	var out []ExecutionOwner
	for rows.Next() {
		var o ExecutionOwner
		var ex sql.NullInt64
		var excluded string
		var ms int64
		if err := rows.Scan(&o.ID, &ex, &o.Attempt, &o.Status, &o.FlowRetries, &excluded, &o.DispatchFailures, &ms); err != nil {
			return nil, err
		}
		o.ExecutorID = ex.Int64
		_ = json.Unmarshal([]byte(excluded), &o.Excluded)
		o.Dispatched = time.Duration(ms) * time.Millisecond
		out = append(out, o)
	}
	return out, rows.Err()
}

// RecordLost writes a LOST event for an executor the reaper gave up on.
func (s *Store) RecordLost(ctx context.Context, executorID int64, msg string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		return s.addEvent(ctx, tx, executorID, EventLost, "reaper", msg)
	})
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
}

// ExecutionRunSpec returns what it takes to run execution id, in one query.
func (s *Store) ExecutionRunSpec(ctx context.Context, id int64) (*RunSpec, error) {
	var r RunSpec
	var params string
	var disabled sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT e.project_id, e.project, e.version, v.sha256, e.flow, e.params, e.failure_action, e.disabled
FROM executions e JOIN project_versions v ON v.project_id = e.project_id AND v.version = e.version WHERE e.id = ?`, id).
		Scan(&r.ProjectID, &r.Project, &r.Version, &r.SHA256, &r.Flow, &params, &r.FailureAction, &disabled)
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
	return &r, nil
}
