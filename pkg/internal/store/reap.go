package store

// Taking work back: failed dispatches, lost executors, cancels.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

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
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			changed, failed = false, false
			res, err := tx.ExecContext(ctx, "UPDATE executions SET status = 'FAILED', executor_id = NULL, dispatch_failures = dispatch_failures + 1, end_time = "+s.d.now+", error = ?, updated_at = "+s.d.now+where,
				fmt.Sprintf("dispatch failed %d times; last: %s", n, f.Reason), f.ID, f.Attempt)
			if err != nil {
				return err
			}
			if k, _ := res.RowsAffected(); k != 1 {
				return nil
			}
			changed, failed = true, true
			return s.enqueueEnded(ctx, tx, f.ID)
		})
		if err != nil {
			return false, false, fmt.Errorf("fail execution %d: %w", f.ID, err)
		}
		return changed, failed, nil
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
		if err := s.endJobs(ctx, tx, o.ID, o.Attempt, reason); err != nil {
			return err
		}
		if o.ExecutorLost && o.ExecutorID != 0 {
			// The executor's loss is known by this change: its alert
			// commits with it (one per loss, however many flows it had).
			if _, err := s.lostAlert(ctx, tx, o.ExecutorID, reason); err != nil {
				return err
			}
		}
		return s.enqueueEnded(ctx, tx, o.ID)
	})
	if err != nil {
		return false, fmt.Errorf("reap execution %d: %w", o.ID, err)
	}
	return acted, nil
}

// exclude returns ids with executor id added (a new slice; 0 adds nothing).
func exclude(ids []int64, id int64) []int64 {
	out := append([]int64{}, ids...)
	if id != 0 && !slices.Contains(out, id) {
		out = append(out, id)
	}
	return out
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
			if err == nil {
				err = s.enqueueEnded(ctx, tx, id)
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
	// ExecutorLost is set by the reaper when the executor is gone (not
	// merely slow to claim): abandoning a run then also writes the
	// executor's EXECUTOR_LOST alert.
	ExecutorLost bool
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

// RecordLost writes a LOST event for an executor the reaper gave up on,
// with its EXECUTOR_LOST alert in the same transaction.
func (s *Store) RecordLost(ctx context.Context, executorID int64, msg string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.addEvent(ctx, tx, executorID, EventLost, "reaper", msg); err != nil {
			return err
		}
		_, err := s.lostAlert(ctx, tx, executorID, msg)
		return err
	})
}
