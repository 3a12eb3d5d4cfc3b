package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/backoff"
)

// MaxInterruptions bounds how often an executor may hand an execution back
// as interrupted (its lease ran out) before it FAILS; interruptions count
// with the execution's other dispatch failures.
const MaxInterruptions = 5

// ErrInactive is returned by ClaimExecution when the executor's row is not
// active and the execution is not pinned to it: the database, not the
// executor's memory, decides whether it may take work.
var ErrInactive = errors.New("executor is inactive")

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
		if n >= MaxInterruptions {
			_, err = tx.ExecContext(ctx, "UPDATE executions SET status = 'FAILED', dispatch_failures = dispatch_failures + 1, end_time = "+s.d.now+", error = ?, updated_at = "+s.d.now+owner,
				fmt.Sprintf("gave up after %d interrupted or failed dispatches; last: %s", n, end.Error), id, executorID, attempt)
			return err
		}
		var ex []int64
		_ = json.Unmarshal([]byte(excluded), &ex)
		_, err = tx.ExecContext(ctx, "UPDATE executions SET status = 'QUEUED', executor_id = NULL, attempt = attempt + 1, start_time = NULL, dispatch_failures = dispatch_failures + 1, excluded = ?, not_before = "+s.d.nowPlus+", wait_reason = ?, updated_at = "+s.d.now+owner,
			jsonString(exclude(ex, executorID)), s.d.nowPlusArg(RequeueBackoff.Delay(n)), "re-queued: "+end.Error, id, executorID, attempt)
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

// RequeueBackoff is how long a re-queued execution waits after its n-th
// dispatch failure or interruption in a row before it is dispatched again:
// 200ms, doubling, at most 10s.
var RequeueBackoff = backoff.Policy{Base: 200 * time.Millisecond, Max: 10 * time.Second}

// DispatchPolicy bounds dispatch failures: an execution that failed to reach
// an executor MaxFailures times FAILS; before that it waits Backoff(n) after
// its n-th failure.
type DispatchPolicy struct {
	MaxFailures int
	Backoff     func(failures int) time.Duration
}

// DispatchFailure is one failed dispatch of an execution.
type DispatchFailure struct {
	ID         int64
	Attempt    int     // the dispatch's fencing token
	ExecutorID int64   // excluded from the next choice
	Failures   int     // dispatch failures before this one
	Excluded   []int64 // executors excluded before this one
	Reason     string
}

// Requeue records a failed dispatch of a DISPATCHING execution: it goes back
// to the queue with a new attempt (so a late claim of the old one is
// refused), that executor excluded, after the policy's backoff; the failure
// that reaches the bound FAILS it instead, with no executor (it never ran).
// changed is false when the row had moved on (claimed, cancelled, re-queued
// by someone else); failed reports the final failure.
func (s *Store) Requeue(ctx context.Context, f DispatchFailure, p DispatchPolicy) (changed, failed bool, err error) {
	n := f.Failures + 1
	where := " WHERE id = ? AND attempt = ? AND status = 'DISPATCHING'"
	if n >= p.MaxFailures {
		res, err := s.db.ExecContext(ctx, "UPDATE executions SET status = 'FAILED', executor_id = NULL, dispatch_failures = dispatch_failures + 1, end_time = "+s.d.now+", error = ?, updated_at = "+s.d.now+where,
			fmt.Sprintf("dispatch failed %d times; last: %s", n, f.Reason), f.ID, f.Attempt)
		if err != nil {
			return false, false, fmt.Errorf("fail execution %d: %w", f.ID, err)
		}
		k, _ := res.RowsAffected()
		return k == 1, k == 1, nil
	}
	backoff := time.Duration(0)
	if p.Backoff != nil {
		backoff = p.Backoff(n)
	}
	res, err := s.db.ExecContext(ctx, "UPDATE executions SET status = 'QUEUED', executor_id = NULL, attempt = attempt + 1, dispatch_failures = dispatch_failures + 1, excluded = ?, not_before = "+s.d.nowPlus+", wait_reason = ?, updated_at = "+s.d.now+where,
		jsonString(exclude(f.Excluded, f.ExecutorID)), s.d.nowPlusArg(backoff), "re-queued: "+f.Reason, f.ID, f.Attempt)
	if err != nil {
		return false, false, fmt.Errorf("re-queue execution %d: %w", f.ID, err)
	}
	k, _ := res.RowsAffected()
	return k == 1, false, nil
}

// ReapExecution handles an execution whose executor is lost or never
// claimed it. It is a conditional update on (id, attempt, status), so
// several web servers can reap at once; it reports whether it acted.
//   - DISPATCHING: a dispatch failure (see Requeue).
//   - RUNNING or KILLING: see AbandonExecution.
func (s *Store) ReapExecution(ctx context.Context, o ExecutionOwner, reason string, p DispatchPolicy) (bool, error) {
	if o.Status == ExecDispatching {
		changed, _, err := s.Requeue(ctx, DispatchFailure{ID: o.ID, Attempt: o.Attempt, ExecutorID: o.ExecutorID, Failures: o.DispatchFailures, Excluded: o.Excluded, Reason: reason}, p)
		return changed, err
	}
	return s.AbandonExecution(ctx, o, reason)
}

// AbandonExecution ends the run of an execution whose executor can no
// longer run it (it was lost, or restarted in the middle): RUNNING with
// flow retries left goes back to the queue as a new attempt, without that
// executor; RUNNING otherwise FAILS with reason; KILLING ends KILLED. The
// attempt's unfinished jobs end in the same transaction. It reports whether
// it acted (false when the row had moved on).
func (s *Store) AbandonExecution(ctx context.Context, o ExecutionOwner, reason string) (bool, error) {
	acted := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var res sql.Result
		var err error
		where := " WHERE id = ? AND attempt = ? AND status = '" + o.Status + "'"
		switch {
		case o.Status == ExecRunning && o.FlowRetries > 0:
			res, err = tx.ExecContext(ctx, "UPDATE executions SET status = 'QUEUED', executor_id = NULL, attempt = attempt + 1, flow_retries = flow_retries - 1, excluded = ?, start_time = NULL, wait_reason = ?, updated_at = "+s.d.now+where,
				jsonString(exclude(o.Excluded, o.ExecutorID)), "retrying: "+reason, o.ID, o.Attempt)
		case o.Status == ExecRunning:
			res, err = tx.ExecContext(ctx, "UPDATE executions SET status = 'FAILED', end_time = "+s.d.now+", error = ?, updated_at = "+s.d.now+where,
				reason, o.ID, o.Attempt)
		case o.Status == ExecKilling:
			res, err = tx.ExecContext(ctx, "UPDATE executions SET status = 'KILLED', end_time = "+s.d.now+", error = ?, updated_at = "+s.d.now+where,
				"killed; "+reason, o.ID, o.Attempt)
		default:
			return nil
		}
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		acted = true
		return s.endJobs(ctx, tx, o.ID, o.Attempt, reason)
	})
	if err != nil {
		return false, fmt.Errorf("reap execution %d: %w", o.ID, err)
	}
	return acted, nil
}

// Cluster settings every daemon must agree on.
const settingOfflineAfter = "offline_after_ms"

// SetOfflineAfter records the cluster's offline threshold: web servers reap
// by it and executors size their lease from it.
func (s *Store) SetOfflineAfter(ctx context.Context, d time.Duration) error {
	_, err := s.db.ExecContext(ctx, s.d.upsertSetting, settingOfflineAfter, strconv.FormatInt(d.Milliseconds(), 10))
	if err != nil {
		return fmt.Errorf("record the offline threshold: %w", err)
	}
	return nil
}

// OfflineAfter returns the cluster's offline threshold, or 0 when no web
// server has recorded one yet.
func (s *Store) OfflineAfter(ctx context.Context) (time.Duration, error) {
	var v string
	err := s.db.QueryRowContext(ctx, "SELECT value FROM cluster_settings WHERE name = ?", settingOfflineAfter).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read the offline threshold: %w", err)
	}
	return parseMillis(v), nil
}

func parseMillis(v string) time.Duration {
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms < 0 {
		return 0
	}
	return time.Duration(ms) * time.Millisecond
}
