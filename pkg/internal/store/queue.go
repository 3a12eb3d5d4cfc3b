package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Queue is one transaction over the queue of executions, for the
// dispatcher: the store reads and changes rows here, and the dispatcher
// (pkg/internal/dispatch) decides which run where and when. Nothing of a
// Queue may be used after the function given to InQueue returns.
type Queue struct {
	ctx context.Context
	s   *Store
	tx  *sql.Tx
}

// InQueue runs fn in one transaction, retried as a whole on a deadlock; fn
// must not read the database through anything but q.
func (s *Store) InQueue(ctx context.Context, fn func(q *Queue) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error { return fn(&Queue{ctx: ctx, s: s, tx: tx}) })
}

// Due returns up to limit QUEUED executions whose backoff has passed,
// highest priority first, then oldest, locking them; rows locked by another
// web server are skipped. It reads in index order (status, priority DESC,
// id) and joins nothing, so only the rows taken are read and executor rows
// stay unlocked for their heartbeats.
func (q *Queue) Due(limit int) ([]*Execution, error) {
	d := q.s.d
	rows, err := q.tx.QueryContext(q.ctx, "SELECT "+queueColumns+" FROM executions e WHERE e.status = 'QUEUED' AND (e.not_before IS NULL OR e.not_before <= "+d.now+") ORDER BY e.priority DESC, e.id LIMIT ?"+d.skipLocked, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Execution
	for rows.Next() {
		e, err := scanExecution(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// AnyQueued reports whether any execution is QUEUED, due or not.
func (q *Queue) AnyQueued() (bool, error) {
	var id int64
	err := q.tx.QueryRowContext(q.ctx, "SELECT id FROM executions WHERE status = 'QUEUED' LIMIT 1").Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// ActiveOfFlow returns the id of an execution of project's flow other than
// except that holds an executor slot (DISPATCHING, RUNNING, KILLING), or 0.
func (q *Queue) ActiveOfFlow(project, flow string, except int64) (int64, error) {
	var id int64
	err := q.tx.QueryRowContext(q.ctx, "SELECT id FROM executions WHERE project = ? AND flow = ? AND id <> ? AND status IN "+activeStatuses+" LIMIT 1",
		project, flow, except).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return id, err
}

// Assign makes the QUEUED execution ex DISPATCHING to executor to, with a
// new attempt (its fencing token), and updates ex to match.
func (q *Queue) Assign(ex *Execution, to *Executor) error {
	d := q.s.d
	if _, err := q.tx.ExecContext(q.ctx, "UPDATE executions SET status = 'DISPATCHING', executor_id = ?, attempt = attempt + 1, dispatched_time = "+d.now+", wait_reason = '', updated_at = "+d.now+" WHERE id = ? AND status = 'QUEUED'",
		to.ID, ex.ID); err != nil {
		return err
	}
	ex.Status, ex.Attempt, ex.ExecutorID, ex.ExecutorName = ExecDispatching, ex.Attempt+1, &to.ID, to.Name
	return nil
}

// Wait records why the QUEUED execution ex waits (written only when it
// changed).
func (q *Queue) Wait(ex *Execution, reason string) error {
	if ex.WaitReason == reason {
		return nil
	}
	_, err := q.tx.ExecContext(q.ctx, "UPDATE executions SET wait_reason = ? WHERE id = ? AND status = 'QUEUED'", reason, ex.ID)
	return err
}

// CheckSkip returns an *AlreadyRunningError when ne is --concurrent skip and
// its flow is queued or running; two such submissions of one flow are
// serialised on the project's row.
func (q *Queue) CheckSkip(ne NewExecution) error { return q.s.skipCheck(q.ctx, q.tx, ne) }

// Insert stores the submission ne: DISPATCHING to executor to as attempt 1
// when to is set, else QUEUED waiting for reason. It returns the new id.
func (q *Queue) Insert(ne NewExecution, to *Executor, reason string) (int64, error) {
	return q.s.insertExecution(q.ctx, q.tx, ne, to, reason)
}

// Pending is ne as an execution before it is stored, for choosing its
// executor.
func Pending(ne NewExecution) *Execution {
	ex := &Execution{ProjectID: ne.ProjectID, Project: ne.Project, Version: ne.Version, Flow: ne.Flow, Status: ExecQueued,
		Params: ne.Params, Priority: ne.Priority, Concurrent: ne.Concurrent, FailureAction: ne.FailureAction, SubmitUser: ne.SubmitUser,
		SubmitTime: time.Now(), Selector: ne.Selector}
	if ne.PinnedExecutorID != 0 {
		pin := ne.PinnedExecutorID
		ex.PinnedExecutorID = &pin
	}
	return ex
}
