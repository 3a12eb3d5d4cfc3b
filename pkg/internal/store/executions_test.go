package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/dispatch"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/store/storetest"
)

// fixture registers one active executor and one project.
func fixture(t *testing.T, s *store.Store) (*store.Executor, *store.ProjectVersion) {
	t.Helper()
	ctx := context.Background()
	e, err := s.RegisterExecutor(ctx, store.ExecutorSpec{Name: "e", Host: "h", Port: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetExecutorActive(ctx, e.ID, true, "t"); err != nil {
		t.Fatal(err)
	}
	pv, err := s.AddProjectVersion(ctx, store.NewProjectVersion{Project: "p", SHA256: "x", Format: "flow2.0", Flows: "{}", Archive: []byte("zip")})
	if err != nil {
		t.Fatal(err)
	}
	return e, pv
}

func submitOne(t *testing.T, s *store.Store, pv *store.ProjectVersion, concurrent string) *store.Execution {
	t.Helper()
	ex, err := submitQueued(context.Background(), s, store.NewExecution{ProjectID: pv.ProjectID, Project: "p", Version: pv.Version, Flow: "f",
		Params: map[string]string{"k": "v"}, Concurrent: concurrent, FailureAction: "finishCurrent", SubmitUser: "u"})
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

// pickFirst reads the executors now, outside any transaction, as the
// dispatcher reads its view before it assigns, and returns a choice of the
// first active executor of that view; it never touches the database, so it
// may run inside the assigning transaction.
func pickFirst(t *testing.T, s *store.Store) dispatch.ChooseFunc {
	t.Helper()
	view, err := s.ExecutorsWithLoad(context.Background(), store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	return func(context.Context, *store.Execution) (*store.Executor, string, error) {
		for _, e := range view {
			if e.Active {
				return e, "", nil
			}
		}
		return nil, "waiting: no active executor", nil
	}
}

func TestExecutionLifecycle(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e, pv := fixture(t, s)
		ex := submitOne(t, s, pv, "ignore")
		if ex.Status != store.ExecQueued || ex.Attempt != 0 || ex.Params["k"] != "v" || ex.SubmitTime.IsZero() {
			t.Fatalf("submitted = %+v", ex)
		}
		as, err := dispatch.AssignDue(ctx, s, 10, pickFirst(t, s))
		if err != nil || len(as) != 1 || as[0].Attempt != 1 || as[0].Executor.ID != e.ID {
			t.Fatalf("assign = %+v, %v", as, err)
		}
		// A stale attempt cannot claim; the right one can, once.
		if ok, _ := s.ClaimExecution(ctx, ex.ID, e.ID, 0); ok {
			t.Fatal("claim with a stale attempt succeeded")
		}
		if ok, err := s.ClaimExecution(ctx, ex.ID, e.ID, 1); !ok || err != nil {
			t.Fatalf("claim = %v, %v", ok, err)
		}
		if ok, _ := s.ClaimExecution(ctx, ex.ID, e.ID, 1); ok {
			t.Fatal("second claim succeeded")
		}
		now := time.Now()
		code := 0
		if err := s.Report(ctx, ex.ID, e.ID, 1, []store.ExecutionJob{{Name: "a", Type: "command", Status: "SUCCEEDED", StartTime: &now, EndTime: &now, ExitCode: &code}}, nil, nil); err != nil {
			t.Fatal(err)
		}
		if err := s.Report(ctx, ex.ID, e.ID, 0, []store.ExecutionJob{{Name: "a", Status: "RUNNING"}}, nil, nil); !errors.Is(err, store.ErrFenced) {
			t.Fatalf("stale job write = %v, want ErrFenced", err)
		}
		if err := s.Report(ctx, ex.ID, e.ID, 1, nil, []store.LogChunk{{Job: "a", Offset: 0, Data: []byte("hello ")}}, nil); err != nil {
			t.Fatal(err)
		}
		if err := s.Report(ctx, ex.ID, e.ID, 1, nil, []store.LogChunk{{Job: "a", Offset: 6, Data: []byte("world")}}, nil); err != nil {
			t.Fatal(err)
		}
		data, next, err := s.ReadLog(ctx, ex.ID, "a", 3, 5)
		if err != nil || string(data) != "lo wo" || next != 8 {
			t.Fatalf("ReadLog = %q, %d, %v", data, next, err)
		}
		data, next, _ = s.ReadLog(ctx, ex.ID, "a", 8, 0)
		if string(data) != "rld" || next != 11 {
			t.Fatalf("ReadLog tail = %q, %d", data, next)
		}
		if err := s.FinishExecution(ctx, ex.ID, e.ID, 1, store.ExecSucceeded, ""); err != nil {
			t.Fatal(err)
		}
		if err := s.FinishExecution(ctx, ex.ID, e.ID, 1, store.ExecFailed, "again"); !errors.Is(err, store.ErrFenced) {
			t.Fatalf("second finish = %v, want ErrFenced", err)
		}
		got, err := s.GetExecution(ctx, ex.ID)
		if err != nil || got.Status != store.ExecSucceeded || got.ExecutorName != "e" || len(got.Jobs) != 1 || *got.Jobs[0].ExitCode != 0 || got.EndTime == nil {
			t.Fatalf("final = %+v, %v", got, err)
		}
		if _, err := s.CancelExecution(ctx, ex.ID, "u", ""); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("cancel of an ended execution = %v", err)
		}
	})
}

func TestRequeueAndReap(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e, pv := fixture(t, s)
		ex := submitOne(t, s, pv, "ignore")
		as, _ := dispatch.AssignDue(ctx, s, 10, pickFirst(t, s))
		// A refused dispatch goes back to the queue, attempt bumped, executor excluded.
		pol := store.DispatchPolicy{MaxFailures: 3}
		refused := func(a dispatch.Assignment) store.DispatchFailure {
			return store.DispatchFailure{ID: a.ExecutionID, Attempt: a.Attempt, ExecutorID: a.Executor.ID, Failures: a.Execution.DispatchFailures, Excluded: a.Execution.Excluded, Reason: "said no"}
		}
		if changed, failed, err := s.Requeue(ctx, refused(as[0]), pol); err != nil || failed || !changed {
			t.Fatalf("requeue = %v, %v, %v", changed, failed, err)
		}
		// A second report of the same failure changes nothing.
		if changed, _, err := s.Requeue(ctx, refused(as[0]), pol); err != nil || changed {
			t.Fatalf("second requeue of one attempt = %v, %v", changed, err)
		}
		got, _ := s.GetExecution(ctx, ex.ID)
		if got.Status != store.ExecQueued || got.Attempt != 2 || len(got.Excluded) != 1 || got.Excluded[0] != e.ID {
			t.Fatalf("after requeue: %+v", got)
		}
		if ok, _ := s.ClaimExecution(ctx, ex.ID, e.ID, 1); ok {
			t.Fatal("the executor of the refused attempt could still claim")
		}
		// The bound: the third failure fails the execution with the reason.
		for i := 0; i < 2; i++ {
			as, _ = dispatch.AssignDue(ctx, s, 10, pickFirst(t, s))
			if len(as) != 1 {
				t.Fatalf("assign round %d: %+v", i, as)
			}
			_, _, _ = s.Requeue(ctx, refused(as[0]), pol)
		}
		got, _ = s.GetExecution(ctx, ex.ID)
		if got.Status != store.ExecFailed || got.Error != "dispatch failed 3 times; last: said no" {
			t.Fatalf("after 3 failures: %s %q", got.Status, got.Error)
		}
		// It never ran: no executor is named, and it started 0 times.
		if got.ExecutorID != nil || got.Runs != 0 {
			t.Fatalf("a flow that never started shows executor %v, runs %d", got.ExecutorID, got.Runs)
		}

		// Reap: RUNNING with retries left goes back to the queue; without, FAILS.
		r1, err := submitQueued(ctx, s, store.NewExecution{ProjectID: pv.ProjectID, Project: "p", Version: 1, Flow: "g", FlowRetries: 1, Concurrent: "ignore"})
		if err != nil {
			t.Fatal(err)
		}
		as, _ = dispatch.AssignDue(ctx, s, 10, pickFirst(t, s))
		if len(as) != 1 {
			t.Fatalf("assign: %+v", as)
		}
		_, _ = s.ClaimExecution(ctx, r1.ID, e.ID, as[0].Attempt)
		owners, err := s.ActiveExecutions(ctx)
		if err != nil || len(owners) != 1 {
			t.Fatalf("active = %+v, %v", owners, err)
		}
		if ok, err := s.ReapExecution(ctx, owners[0], "executor lost: e", pol); !ok || err != nil {
			t.Fatalf("reap = %v, %v", ok, err)
		}
		if ok, _ := s.ReapExecution(ctx, owners[0], "executor lost: e", pol); ok {
			t.Fatal("a second reaper acted on the same attempt")
		}
		got, _ = s.GetExecution(ctx, r1.ID)
		if got.Status != store.ExecQueued || got.FlowRetries != 0 {
			t.Fatalf("retried: %+v", got)
		}
		as, _ = dispatch.AssignDue(ctx, s, 10, pickFirst(t, s))
		_, _ = s.ClaimExecution(ctx, r1.ID, e.ID, as[0].Attempt)
		owners, _ = s.ActiveExecutions(ctx)
		_, _ = s.ReapExecution(ctx, owners[0], "executor lost: e", pol)
		got, _ = s.GetExecution(ctx, r1.ID)
		if got.Status != store.ExecFailed || got.Error != "executor lost: e" {
			t.Fatalf("no retries left: %s %q", got.Status, got.Error)
		}
		// The stale executor's writes are refused after the reap.
		if err := s.FinishExecution(ctx, r1.ID, e.ID, as[0].Attempt, store.ExecSucceeded, ""); !errors.Is(err, store.ErrFenced) {
			t.Fatalf("stale finish = %v", err)
		}
	})
}

func TestConcurrencyOptionsAndCancel(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e, pv := fixture(t, s)
		first := submitOne(t, s, pv, "skip")
		_, err := submitQueued(ctx, s, store.NewExecution{ProjectID: pv.ProjectID, Project: "p", Version: 1, Flow: "f", Concurrent: "skip"})
		var are *store.AlreadyRunningError
		if !errors.As(err, &are) || are.ID != first.ID {
			t.Fatalf("skip = %v, want AlreadyRunningError(%d)", err, first.ID)
		}
		// queue: the second waits while the first holds a slot.
		as, _ := dispatch.AssignDue(ctx, s, 10, pickFirst(t, s))
		if len(as) != 1 {
			t.Fatalf("assign: %+v", as)
		}
		second := submitOne(t, s, pv, "queue")
		as, _ = dispatch.AssignDue(ctx, s, 10, pickFirst(t, s))
		if len(as) != 0 {
			t.Fatalf("queued execution was assigned while the flow ran: %+v", as)
		}
		got, _ := s.GetExecution(ctx, second.ID)
		if got.WaitReason == "" {
			t.Fatal("no wait reason for --concurrent queue")
		}
		// Cancel: DISPATCHING ends KILLED at once; the queued one follows.
		c1, err := s.CancelExecution(ctx, first.ID, "bob", "")
		if err != nil || c1.Status != store.ExecKilled || c1.KillReason != "cancelled by bob" {
			t.Fatalf("cancel dispatching = %+v, %v", c1, err)
		}
		if ok, _ := s.ClaimExecution(ctx, first.ID, e.ID, 1); ok {
			t.Fatal("a cancelled execution was claimed")
		}
		as, _ = dispatch.AssignDue(ctx, s, 10, pickFirst(t, s))
		if len(as) != 1 || as[0].ExecutionID != second.ID {
			t.Fatalf("after the first ended, queue = %+v", as)
		}
		_, _ = s.ClaimExecution(ctx, second.ID, e.ID, as[0].Attempt)
		c2, err := s.CancelExecution(ctx, second.ID, "bob", "")
		if err != nil || c2.Status != store.ExecKilling {
			t.Fatalf("cancel running = %+v, %v", c2, err)
		}
		work, _ := s.ExecutorWork(ctx, e.ID)
		if len(work) != 1 || work[0].Status != store.ExecKilling {
			t.Fatalf("executor work = %+v", work)
		}
	})
}

func TestAssignSkipsLockedRows(t *testing.T) {
	storetest.Only(t, []string{"mysql"}, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		_, pv := fixture(t, s)
		for i := 0; i < 20; i++ {
			submitOne(t, s, pv, "ignore")
		}
		// Two dispatchers at once take disjoint rows: every execution once.
		seen := map[int64]int{}
		results := make(chan []dispatch.Assignment, 2)
		for i := 0; i < 2; i++ {
			choose := pickFirst(t, s) // each dispatcher reads its own view
			go func() {
				as, err := dispatch.AssignDue(ctx, s, 15, choose)
				if err != nil {
					t.Error(err)
				}
				results <- as
			}()
		}
		for i := 0; i < 2; i++ {
			for _, a := range <-results {
				seen[a.ExecutionID]++
			}
		}
		rest, _ := dispatch.AssignDue(ctx, s, 100, pickFirst(t, s))
		for _, a := range rest {
			seen[a.ExecutionID]++
		}
		if len(seen) != 20 {
			t.Fatalf("assigned %d distinct executions, want 20", len(seen))
		}
		for id, n := range seen {
			if n != 1 {
				t.Fatalf("execution %d assigned %d times", id, n)
			}
		}
	})
}

// submitQueued stores a submission without assigning it, as a submit that
// finds no executor does.
func submitQueued(ctx context.Context, s *store.Store, ne store.NewExecution) (*store.Execution, error) {
	ex, _, err := dispatch.SubmitAndAssign(ctx, s, ne, nil, nil)
	return ex, err
}

// TestListExecutionsBySubmitTime: Since and Until bound the submit time by
// the database clock.
func TestListExecutionsBySubmitTime(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		_, pv := fixture(t, s)
		a, b := submitOne(t, s, pv, "ignore"), submitOne(t, s, pv, "ignore")
		now, err := s.Now(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			what string
			f    store.ExecutionFilter
			want int
		}{
			{"since an hour ago", store.ExecutionFilter{Since: now.Add(-time.Hour)}, 2},
			{"since in an hour", store.ExecutionFilter{Since: now.Add(time.Hour)}, 0},
			{"until an hour ago", store.ExecutionFilter{Until: now.Add(-time.Hour)}, 0},
			{"within the last hour, until in an hour", store.ExecutionFilter{Since: now.Add(-time.Hour), Until: now.Add(time.Hour)}, 2},
		} {
			list, err := s.ListExecutions(ctx, c.f)
			if err != nil || len(list) != c.want {
				t.Errorf("%s: %d executions, %v; want %d (of %d and %d)", c.what, len(list), err, c.want, a.ID, b.ID)
			}
		}
	})
}
