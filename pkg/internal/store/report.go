package store

// An executor reporting its run: job states, log chunks and the end.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

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
	// JobsEnded: the caller wrote every job state of the attempt and none
	// is left READY or RUNNING, so there is nothing to end.
	JobsEnded bool
	// NoSuccessMail: nobody is to be mailed when the execution succeeds
	// (RunSpec.SuccessEmails was false), so a SUCCEEDED end has no alert.
	NoSuccessMail bool
}

// Report records, in one transaction, job states and log chunks of the
// executor's attempt of an execution and, when end is set, the end of that
// attempt (with every job still READY or RUNNING ended too). A later state
// of a job replaces an earlier one, so jobs may hold several states of one
// job in order. It returns ErrFenced, writing nothing, when the attempt is
// no longer current.
func (s *Store) Report(ctx context.Context, execID, executorID int64, attempt int, jobs []ExecutionJob, logs []LogChunk, end *ExecutionEnd) error {
	fenced, err := s.ReportMany(ctx, executorID, []ReportBatch{{ExecID: execID, Attempt: attempt, Jobs: jobs, Logs: logs, End: end}})
	if err == nil && fenced[0] {
		err = fmt.Errorf("execution %d attempt %d: %w", execID, attempt, ErrFenced)
	}
	return err
}

// ReportBatch is what one execution attempt reports: job states, log
// chunks and, when End is set, its end.
type ReportBatch struct {
	ExecID  int64
	Attempt int
	Jobs    []ExecutionJob
	Logs    []LogChunk
	End     *ExecutionEnd
}

// ReportMany records the batches of several of the executor's execution
// attempts in one transaction (group commit), each as Report would. An
// attempt that is no longer current writes nothing and is marked in
// fenced; the others are written all the same. An error means nothing was
// written.
func (s *Store) ReportMany(ctx context.Context, executorID int64, batches []ReportBatch) (fenced []bool, err error) {
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		fenced = make([]bool, len(batches))
		// The ends first: each conditional update is the ownership check of
		// its attempt, and locks the row for the rest of the transaction.
		var running []int
		for i, b := range batches {
			if b.End == nil {
				running = append(running, i)
				continue
			}
			err := s.endAttempt(ctx, tx, b.ExecID, executorID, b.Attempt, *b.End)
			if errors.Is(err, ErrFenced) {
				fenced[i] = true
			} else if err != nil {
				return err
			}
		}
		if err := s.ownedAll(ctx, tx, executorID, batches, running, fenced); err != nil {
			return err
		}
		var jobs []jobRow
		var logs []logRow
		for i, b := range batches {
			if fenced[i] {
				continue
			}
			for _, j := range lastStates(b.Jobs) {
				jobs = append(jobs, jobRow{b.ExecID, b.Attempt, j})
			}
			for _, l := range b.Logs {
				logs = append(logs, logRow{b.ExecID, b.Attempt, l})
			}
		}
		if err := s.insertJobs(ctx, tx, jobs); err != nil {
			return err
		}
		if err := s.insertLogs(ctx, tx, logs); err != nil {
			return err
		}
		for i, b := range batches {
			if fenced[i] || b.End == nil {
				continue
			}
			end := b.End
			if !end.JobsEnded || end.Interrupted {
				why := end.Error
				if why == "" {
					why = "the execution ended " + strings.ToLower(end.Status)
				}
				if err := s.endJobs(ctx, tx, b.ExecID, b.Attempt, why); err != nil {
					return err
				}
			}
			if end.NoSuccessMail && !end.Interrupted && end.Status == ExecSucceeded {
				continue // a success nobody is told of
			}
			// The alert of an end (none for a re-queue) commits with it.
			if err := s.enqueueEnded(ctx, tx, b.ExecID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("report on %d executions: %w", len(batches), err)
	}
	return fenced, nil
}

// ownedAll marks in fenced those of batches[which] whose attempt executorID
// no longer runs, in one query inside tx.
func (s *Store) ownedAll(ctx context.Context, tx *sql.Tx, executorID int64, batches []ReportBatch, which []int, fenced []bool) error {
	if len(which) == 0 {
		return nil
	}
	var args []any
	for _, i := range which {
		args = append(args, batches[i].ExecID)
	}
	// By primary key alone: with executor_id in the WHERE clause the
	// database may read every execution the executor ever ran instead.
	rows, err := tx.QueryContext(ctx, "SELECT id, executor_id, attempt, status FROM executions WHERE id IN (?"+strings.Repeat(", ?", len(which)-1)+")", args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	current := map[int64]int{}
	for rows.Next() {
		var id int64
		var owner sql.NullInt64
		var attempt int
		var status string
		if err := rows.Scan(&id, &owner, &attempt, &status); err != nil {
			return err
		}
		if owner.Int64 == executorID && (status == ExecRunning || status == ExecKilling) {
			current[id] = attempt
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, i := range which {
		if a, ok := current[batches[i].ExecID]; !ok || a != batches[i].Attempt {
			fenced[i] = true
		}
	}
	return nil
}

type jobRow struct {
	execID  int64
	attempt int
	ExecutionJob
}

type logRow struct {
	execID  int64
	attempt int
	LogChunk
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

// MaxOutputs bounds the output properties of one job kept in the database
// (as JSON), for a retry to reuse; statements stop at logBatchBytes of them.
const MaxOutputs = 64 << 10

// Rows per multi-row statement: well below SQLite's 32766 bound variables,
// and log statements also stop at logBatchBytes (MySQL's max_allowed_packet).
const (
	rowsPerStatement = 200
	logBatchBytes    = 1 << 20
)

func (s *Store) insertJobs(ctx context.Context, tx *sql.Tx, jobs []jobRow) error {
	for len(jobs) > 0 {
		var args []any
		n, size := 0, 0
		for n < len(jobs) && n < rowsPerStatement {
			j := jobs[n]
			var st, en, code, outputs any
			if j.StartTime != nil {
				st = dbTimeArg(*j.StartTime)
			}
			if j.EndTime != nil {
				en = dbTimeArg(*j.EndTime)
			}
			if j.ExitCode != nil {
				code = *j.ExitCode
			}
			if j.Outputs != nil {
				// Larger ones are not kept: a retry's jobs cannot refer to them.
				if b := jsonString(j.Outputs); len(b) <= MaxOutputs {
					if n > 0 && size+len(b) > logBatchBytes {
						break // the next statement takes it
					}
					outputs = b
					size += len(b)
				}
			}
			args = append(args, j.execID, j.attempt, j.Name, j.Type, j.Status, j.Attempt, st, en, code, j.Error, outputs)
			n++
		}
		if _, err := tx.ExecContext(ctx, s.d.upsertJobs(n), args...); err != nil {
			return fmt.Errorf("record job states: %w", err)
		}
		jobs = jobs[n:]
	}
	return nil
}

func (s *Store) insertLogs(ctx context.Context, tx *sql.Tx, logs []logRow) error {
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
			args = append(args, l.execID, l.attempt, l.Job, l.Attempt, l.Offset, l.Data)
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

// endAttempt is the conditional update that ends an executor's attempt,
// inside tx; ErrFenced when the attempt is no longer current.
func (s *Store) endAttempt(ctx context.Context, tx *sql.Tx, id, executorID int64, attempt int, end ExecutionEnd) error {
	owner := " WHERE id = ? AND executor_id = ? AND attempt = ?"
	if end.Interrupted {
		// A cancel asked for meanwhile is honoured: no new run.
		res, err := tx.ExecContext(ctx, "UPDATE executions SET status = 'KILLED', end_time = "+s.d.now+", error = ?, updated_at = "+s.d.now+owner+" AND status = 'KILLING'",
			"killed; "+end.Error, id, executorID, attempt)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
		// Bounded like any re-queue: counted as a dispatch failure, that
		// executor excluded from the next choice, after a backoff.
		var failures int
		var excluded string
		err = tx.QueryRowContext(ctx, "SELECT dispatch_failures, excluded FROM executions"+owner+" AND status = 'RUNNING'"+s.d.forUpdate,
			id, executorID, attempt).Scan(&failures, &excluded)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("execution %d attempt %d: %w", id, attempt, ErrFenced)
		}
		if err != nil {
			return err
		}
		n := failures + 1
		if n >= end.Requeue.MaxFailures {
			_, err = tx.ExecContext(ctx, "UPDATE executions SET status = 'FAILED', dispatch_failures = dispatch_failures + 1, end_time = "+s.d.now+", error = ?, updated_at = "+s.d.now+owner,
				fmt.Sprintf("gave up after %d interrupted or failed dispatches; last: %s", n, end.Error), id, executorID, attempt)
			return err
		}
		var ex []int64
		_ = json.Unmarshal([]byte(excluded), &ex)
		backoff := time.Duration(0)
		if end.Requeue.Backoff != nil {
			backoff = end.Requeue.Backoff(n)
		}
		_, err = tx.ExecContext(ctx, "UPDATE executions SET status = 'QUEUED', executor_id = NULL, attempt = attempt + 1, start_time = NULL, dispatch_failures = dispatch_failures + 1, excluded = ?, not_before = "+s.d.nowPlus+", wait_reason = ?, updated_at = "+s.d.now+owner,
			jsonString(exclude(ex, executorID)), s.d.nowPlusArg(backoff), "re-queued: "+end.Error, id, executorID, attempt)
		return err
	}
	res, err := tx.ExecContext(ctx, "UPDATE executions SET status = ?, end_time = "+s.d.now+", error = ?, updated_at = "+s.d.now+owner+" AND status IN ('RUNNING', 'KILLING')",
		end.Status, end.Error, id, executorID, attempt)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("execution %d attempt %d: %w", id, attempt, ErrFenced)
	}
	return nil
}

// endJobs ends, inside tx, every job of the attempt that is still RUNNING
// (KILLED) or READY (CANCELLED), with why: an execution that ended never
// leaves a job that looks alive.
func (s *Store) endJobs(ctx context.Context, tx *sql.Tx, id int64, attempt int, why string) error {
	_, err := tx.ExecContext(ctx, "UPDATE execution_jobs SET status = CASE WHEN status = 'RUNNING' THEN 'KILLED' ELSE 'CANCELLED' END, end_time = "+s.d.now+
		", error = ? WHERE execution_id = ? AND exec_attempt = ? AND status IN ('READY', 'RUNNING')", why, id, attempt)
	if err != nil {
		return fmt.Errorf("end the jobs of execution %d: %w", id, err)
	}
	return nil
}

// FinishExecution records the end of an execution by the executor that ran
// it, ending its unfinished jobs too; ErrFenced if its attempt is no longer
// current.
func (s *Store) FinishExecution(ctx context.Context, id, executorID int64, attempt int, status, errText string) error {
	err := s.Report(ctx, id, executorID, attempt, nil, nil, &ExecutionEnd{Status: status, Error: errText})
	if err != nil && !errors.Is(err, ErrFenced) {
		return fmt.Errorf("finish execution %d: %w", id, err)
	}
	return err
}
