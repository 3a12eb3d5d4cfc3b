package dispatch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/backoff"
	"github.com/crawlctl/crawlctl/pkg/internal/labels"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

// The queue policy: which execution is given to which executor, and when.
// The store keeps the rows and their transactions (store.Queue); every
// rule is here.
//
//   - Queue order: highest priority first, then oldest; an execution backing
//     off after a dispatch failure waits until its not_before.
//   - A new submission is assigned in its own transaction only when nothing
//     is queued ahead of it (queued work keeps its turn) and it is not
//     --concurrent queue; otherwise it is queued for the dispatch loop.
//   - --concurrent queue: at most one execution of a flow holds an executor
//     slot; the others wait, in order, with the reason.
//   - --concurrent skip: a submission of a flow already queued or running is
//     refused (*store.AlreadyRunningError).
//   - Eligibility and the random choice: see Choose.
//   - Failures: Policy bounds and spaces re-queues.

// Assignment is an execution given to an executor.
type Assignment struct {
	ExecutionID int64
	Attempt     int // the fencing token the executor must claim with
	Executor    *store.Executor
	Execution   *store.Execution
}

// ChooseFunc picks an executor for an execution and counts the execution
// against it, or returns nil and the reason the execution waits. It runs
// inside the queue's transaction, so it must not read the database.
type ChooseFunc func(ctx context.Context, ex *store.Execution) (*store.Executor, string, error)

// Policy bounds dispatch failures: an execution that failed to reach an
// executor MaxFailures times FAILS; before that it waits Backoff(n) after
// its n-th failure. Interruptions (an executor's lease ran out under a run)
// count as failures too.
func Policy(maxFailures int) store.DispatchPolicy {
	return store.DispatchPolicy{MaxFailures: maxFailures, Backoff: Backoff}
}

// DefaultMaxFailures is the bound of dispatch failures unless configured.
const DefaultMaxFailures = 5

// Backoff is the wait before the next dispatch of an execution after its
// n-th failure in a row: 200 ms, doubling, at most 10 s.
func Backoff(n int) time.Duration { return requeueBackoff.Delay(n) }

var requeueBackoff = backoff.Policy{Base: 200 * time.Millisecond, Max: 10 * time.Second}

// AssignDue takes up to limit due QUEUED executions in queue order and, in
// one transaction, assigns each one choose finds an executor for; the
// others get their wait reason recorded.
func AssignDue(ctx context.Context, st *store.Store, limit int, choose ChooseFunc) ([]Assignment, error) {
	var out []Assignment
	err := st.InQueue(ctx, func(q *store.Queue) error {
		out = out[:0]
		due, err := q.Due(limit)
		if err != nil || len(due) == 0 {
			return err
		}
		busy := map[[2]string]bool{} // flows given a slot in this batch
		for _, ex := range due {
			key := [2]string{ex.Project, ex.Flow}
			if ex.Concurrent == "queue" {
				if busy[key] {
					continue
				}
				other, err := q.ActiveOfFlow(ex.Project, ex.Flow, ex.ID)
				if err != nil {
					return err
				}
				if other != 0 {
					if err := q.Wait(ex, fmt.Sprintf("waiting for execution %d of the same flow to end (--concurrent queue)", other)); err != nil {
						return err
					}
					continue
				}
			}
			to, reason, err := choose(ctx, ex)
			if err != nil {
				return err
			}
			if to == nil {
				if err := q.Wait(ex, reason); err != nil {
					return err
				}
				continue
			}
			if err := q.Assign(ex, to); err != nil {
				return err
			}
			busy[key] = true
			out = append(out, Assignment{ExecutionID: ex.ID, Attempt: ex.Attempt, Executor: to, Execution: ex})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("assign queued executions: %w", err)
	}
	return out, nil
}

// SubmitAndAssign stores the submission ne and, when the queue rules allow
// (see above), assigns it in the same transaction to the executor choose
// picks. assigned, if set, is given the Assignment as soon as it is
// committed, before the execution is read back. The Assignment is nil when
// the execution was queued.
func SubmitAndAssign(ctx context.Context, st *store.Store, ne store.NewExecution, choose ChooseFunc, assigned func(Assignment)) (*store.Execution, *Assignment, error) {
	var id int64
	var to *store.Executor
	var pending *store.Execution
	err := st.InQueue(ctx, func(q *store.Queue) error {
		to = nil
		if err := q.CheckSkip(ne); err != nil {
			return err
		}
		reason := ""
		if choose != nil && ne.Concurrent != "queue" {
			ahead, err := q.AnyQueued()
			if err != nil {
				return err
			}
			if !ahead {
				pending = store.Pending(ne)
				if to, reason, err = choose(ctx, pending); err != nil {
					return err
				}
			}
		}
		var err error
		id, err = q.Insert(ne, to, reason)
		return err
	})
	if err != nil {
		var are *store.AlreadyRunningError
		if errors.As(err, &are) {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("submit %s/%s: %w", ne.Project, ne.Flow, err)
	}
	var a *Assignment
	if to != nil {
		pending.ID, pending.Status, pending.Attempt, pending.ExecutorID, pending.ExecutorName = id, store.ExecDispatching, 1, &to.ID, to.Name
		a = &Assignment{ExecutionID: id, Attempt: 1, Executor: to, Execution: pending}
		if assigned != nil {
			assigned(*a)
		}
	}
	ex, err := st.ExecutionHead(ctx, id)
	if err != nil {
		return nil, a, err
	}
	if a != nil {
		a.Execution = ex
	}
	return ex, a, nil
}

// ErrNoExecutor is a broadcast that found no executor to run on.
var ErrNoExecutor = errors.New("no active online executor to run on (see `crawlctl executor list`)")

// SubmitEverywhere submits ne once to every active online executor that
// matches its selector (a broadcast, --all-executors), each execution
// pinned to its executor. The broadcast's executions never skip each
// other: a --concurrent skip submission only checks for runs before it.
func (d *Dispatcher) SubmitEverywhere(ctx context.Context, ne store.NewExecution) ([]*store.Execution, error) {
	// The executors as they are now, not as the view last saw them.
	executors, err := d.store.ListExecutors(ctx)
	if err != nil {
		return nil, err
	}
	pins, unmatched := BroadcastTargets(executors, ne.Selector, d.cfg.OfflineAfter)
	if len(pins) == 0 {
		if len(ne.Selector) > 0 {
			return nil, fmt.Errorf("%w: none has %s (%d active ones lack it)", ErrNoExecutor, labels.String(ne.Selector), unmatched)
		}
		return nil, ErrNoExecutor
	}
	var out []*store.Execution
	for i, pin := range pins {
		ne.PinnedExecutorID = pin
		ex, _, err := d.Submit(ctx, ne)
		if err != nil {
			return out, err
		}
		out = append(out, ex)
		if i == 0 && ne.Concurrent == "skip" {
			ne.Concurrent = "ignore"
		}
	}
	return out, nil
}

// BroadcastTargets returns the ids of the active online executors that
// match sel, and how many active online ones do not.
func BroadcastTargets(executors []*store.Executor, sel map[string]string, offlineAfter time.Duration) (pins []int64, unmatched int) {
	for _, e := range executors {
		if !e.Active || e.Status(offlineAfter) != store.StatusOnline {
			continue
		}
		if !labels.Matches(e.Labels, sel) {
			unmatched++
			continue
		}
		pins = append(pins, e.ID)
	}
	return pins, unmatched
}

// Submit stores a submission and, when nothing waits ahead of it, assigns it
// at once and nudges its executor; otherwise the dispatch loop takes it. It
// reports whether it was assigned.
func (d *Dispatcher) Submit(ctx context.Context, ne store.NewExecution) (*store.Execution, bool, error) {
	if err := d.pool.Refresh(ctx); err != nil {
		return nil, false, err
	}
	ex, a, err := SubmitAndAssign(ctx, d.store, ne, d.pool.Choose, d.Assigned)
	if err == nil && a == nil {
		d.Wake()
	}
	return ex, a != nil, err
}
