package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/dispatch"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/store/storetest"
)

// assignOne submits one execution and assigns it to the first active executor.
func assignOne(t *testing.T, s *store.Store, pv *store.ProjectVersion, ne store.NewExecution) dispatch.Assignment {
	t.Helper()
	ctx := context.Background()
	ne.ProjectID, ne.Project, ne.Version = pv.ProjectID, "p", pv.Version
	if ne.Flow == "" {
		ne.Flow = "f"
	}
	if ne.Concurrent == "" {
		ne.Concurrent = "ignore"
	}
	ex, err := submitQueued(ctx, s, ne)
	if err != nil {
		t.Fatal(err)
	}
	as, err := dispatch.AssignDue(ctx, s, 10, pickFirst(t, s))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range as {
		if a.ExecutionID == ex.ID {
			return a
		}
	}
	t.Fatalf("execution %d was not assigned: %+v", ex.ID, as)
	return dispatch.Assignment{}
}

// assignWhenDue polls the queue until an execution whose backoff has
// passed is assigned (to the first active executor), failing after 10s.
func assignWhenDue(t *testing.T, s *store.Store) []dispatch.Assignment {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		as, err := dispatch.AssignDue(context.Background(), s, 10, pickFirst(t, s))
		if err != nil {
			t.Fatal(err)
		}
		if len(as) > 0 {
			return as
		}
		if time.Now().After(deadline) {
			t.Fatal("nothing assigned within 10s: still in its backoff?")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClaimAsksTheDatabaseWhetherActive: an executor deactivated after the
// assignment cannot claim (ErrInactive, the row stays DISPATCHING for a
// re-queue); activated again, it can; a pinned execution needs no activation.
func TestClaimAsksTheDatabaseWhetherActive(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e, pv := fixture(t, s)
		a := assignOne(t, s, pv, store.NewExecution{})
		if _, err := s.SetExecutorActive(ctx, e.ID, false, "t"); err != nil {
			t.Fatal(err)
		}
		ok, err := s.ClaimExecution(ctx, a.ExecutionID, e.ID, a.Attempt)
		if ok || !errors.Is(err, store.ErrInactive) {
			t.Fatalf("claim by an inactive executor = %v, %v; want ErrInactive", ok, err)
		}
		got, _ := s.GetExecution(ctx, a.ExecutionID)
		if got.Status != store.ExecDispatching || got.Runs != 0 {
			t.Fatalf("after a refused claim: %s, runs %d", got.Status, got.Runs)
		}
		if _, err := s.SetExecutorActive(ctx, e.ID, true, "t"); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.ClaimExecution(ctx, a.ExecutionID, e.ID, a.Attempt); !ok || err != nil {
			t.Fatalf("claim once active again = %v, %v", ok, err)
		}
		got, _ = s.GetExecution(ctx, a.ExecutionID)
		if got.Status != store.ExecRunning || got.Runs != 1 {
			t.Fatalf("after the claim: %s, runs %d", got.Status, got.Runs)
		}
		// A claim of an attempt that moved on is not an activation problem.
		if ok, err := s.ClaimExecution(ctx, a.ExecutionID, e.ID, a.Attempt); ok || err != nil {
			t.Fatalf("second claim = %v, %v; want false, nil", ok, err)
		}

		// Pinned: an inactive executor may claim what is pinned to it.
		if _, err := s.SetExecutorActive(ctx, e.ID, false, "t"); err != nil {
			t.Fatal(err)
		}
		pinned, err := submitQueued(ctx, s, store.NewExecution{ProjectID: pv.ProjectID, Project: "p", Version: pv.Version, Flow: "g", Concurrent: "ignore", PinnedExecutorID: e.ID})
		if err != nil {
			t.Fatal(err)
		}
		as, err := dispatch.AssignDue(ctx, s, 10, func(ctx context.Context, ex *store.Execution) (*store.Executor, string, error) { return e, "", nil })
		if err != nil || len(as) != 1 || as[0].ExecutionID != pinned.ID {
			t.Fatalf("assign pinned = %+v, %v", as, err)
		}
		if ok, err := s.ClaimExecution(ctx, pinned.ID, e.ID, as[0].Attempt); !ok || err != nil {
			t.Fatalf("claim of a pinned execution while inactive = %v, %v", ok, err)
		}
	})
}

// TestEndedExecutionsLeaveNoLiveJobs: whatever ends an execution ends its
// READY and RUNNING jobs in the same transaction.
func TestEndedExecutionsLeaveNoLiveJobs(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e, pv := fixture(t, s)
		pol := store.DispatchPolicy{MaxFailures: 5}
		start := func(ne store.NewExecution) dispatch.Assignment {
			t.Helper()
			a := assignOne(t, s, pv, ne)
			if ok, err := s.ClaimExecution(ctx, a.ExecutionID, e.ID, a.Attempt); !ok || err != nil {
				t.Fatalf("claim = %v, %v", ok, err)
			}
			now := time.Now()
			code := 0
			jobs := []store.ExecutionJob{
				{Name: "done", Type: "command", Status: "SUCCEEDED", StartTime: &now, EndTime: &now, ExitCode: &code},
				{Name: "busy", Type: "command", Status: "RUNNING", StartTime: &now},
				{Name: "next", Type: "command", Status: "READY"},
			}
			if err := s.Report(ctx, a.ExecutionID, e.ID, a.Attempt, jobs, nil, nil); err != nil {
				t.Fatal(err)
			}
			return a
		}
		check := func(id int64, what, wantStatus string) {
			t.Helper()
			got, err := s.GetExecution(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != wantStatus {
				t.Fatalf("%s: execution %s, want %s", what, got.Status, wantStatus)
			}
			want := map[string]string{"done": "SUCCEEDED", "busy": "KILLED", "next": "CANCELLED"}
			for _, j := range got.Jobs {
				if j.Status != want[j.Name] || (j.Name != "done" && (j.EndTime == nil || j.Error == "")) {
					t.Fatalf("%s: job %s is %s (end %v, error %q), want %s with an end and a reason", what, j.Name, j.Status, j.EndTime, j.Error, want[j.Name])
				}
			}
			if len(got.Jobs) != 3 {
				t.Fatalf("%s: %d jobs", what, len(got.Jobs))
			}
		}

		// The reaper fails the run of a lost executor.
		a := start(store.NewExecution{})
		owners, _ := s.ActiveExecutions(ctx)
		if ok, err := s.ReapExecution(ctx, owners[0], "executor lost: e", pol); !ok || err != nil {
			t.Fatalf("reap = %v, %v", ok, err)
		}
		check(a.ExecutionID, "reaped", store.ExecFailed)

		// The executor ends it (a job write lost on the way).
		a = start(store.NewExecution{})
		if err := s.FinishExecution(ctx, a.ExecutionID, e.ID, a.Attempt, store.ExecKilled, "drain timeout exceeded"); err != nil {
			t.Fatal(err)
		}
		check(a.ExecutionID, "finished", store.ExecKilled)

		// A cancel the lost executor never obeyed.
		a = start(store.NewExecution{})
		if _, err := s.CancelExecution(ctx, a.ExecutionID, "bob", ""); err != nil {
			t.Fatal(err)
		}
		owners, _ = s.ActiveExecutions(ctx)
		if ok, err := s.ReapExecution(ctx, owners[0], "executor lost: e", pol); !ok || err != nil {
			t.Fatalf("reap killing = %v, %v", ok, err)
		}
		check(a.ExecutionID, "killed by the reaper", store.ExecKilled)

		// The executor restarted in the middle of the run.
		a = start(store.NewExecution{})
		o := store.ExecutionOwner{ID: a.ExecutionID, ExecutorID: e.ID, Attempt: a.Attempt, Status: store.ExecRunning}
		if ok, err := s.AbandonExecution(ctx, o, "executor restarted while the flow ran"); !ok || err != nil {
			t.Fatalf("abandon = %v, %v", ok, err)
		}
		check(a.ExecutionID, "abandoned", store.ExecFailed)
	})
}

// TestInterruptedRunStartsAgain: a run its executor interrupted (lease
// expired) goes back to the queue as a new attempt without using a flow
// retry; one being cancelled ends KILLED instead; a fenced attempt changes
// nothing.
func TestInterruptedRunStartsAgain(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e, pv := fixture(t, s)
		a := assignOne(t, s, pv, store.NewExecution{FlowRetries: 1})
		if ok, err := s.ClaimExecution(ctx, a.ExecutionID, e.ID, a.Attempt); !ok || err != nil {
			t.Fatalf("claim = %v, %v", ok, err)
		}
		now := time.Now()
		end := &store.ExecutionEnd{Interrupted: true, Requeue: dispatch.Policy(dispatch.DefaultMaxFailures), Error: "run interrupted: executor lease expired"}
		if err := s.Report(ctx, a.ExecutionID, e.ID, a.Attempt, []store.ExecutionJob{{Name: "busy", Type: "command", Status: "RUNNING", StartTime: &now}}, nil, end); err != nil {
			t.Fatal(err)
		}
		got, _ := s.GetExecution(ctx, a.ExecutionID)
		if got.Status != store.ExecQueued || got.FlowRetries != 1 || got.ExecutorID != nil || got.StartTime != nil || got.WaitReason == "" {
			t.Fatalf("interrupted run: %+v", got)
		}
		// Bounded like a dispatch failure: counted, that executor excluded.
		if got.DispatchFailures != 1 || len(got.Excluded) != 1 || got.Excluded[0] != e.ID {
			t.Fatalf("interruption not counted: failures %d, excluded %v", got.DispatchFailures, got.Excluded)
		}
		if err := s.Report(ctx, a.ExecutionID, e.ID, a.Attempt, nil, nil, end); !errors.Is(err, store.ErrFenced) {
			t.Fatalf("second end of the same attempt = %v, want ErrFenced", err)
		}
		// It runs again after its backoff, and counts a second start.
		as := assignWhenDue(t, s)
		if ok, err := s.ClaimExecution(ctx, a.ExecutionID, e.ID, as[0].Attempt); !ok || err != nil {
			t.Fatalf("claim again = %v, %v", ok, err)
		}
		if got, _ = s.GetExecution(ctx, a.ExecutionID); got.Runs != 2 {
			t.Fatalf("runs = %d, want 2", got.Runs)
		}
		// Cancelled meanwhile: no new run.
		if _, err := s.CancelExecution(ctx, a.ExecutionID, "bob", ""); err != nil {
			t.Fatal(err)
		}
		if err := s.Report(ctx, a.ExecutionID, e.ID, as[0].Attempt, nil, nil, end); err != nil {
			t.Fatal(err)
		}
		if got, _ = s.GetExecution(ctx, a.ExecutionID); got.Status != store.ExecKilled {
			t.Fatalf("interrupted while cancelled: %s", got.Status)
		}

		// The bound: an execution interrupted again and again FAILS.
		b := assignOne(t, s, pv, store.NewExecution{Flow: "g"})
		for i := 1; ; i++ {
			if ok, err := s.ClaimExecution(ctx, b.ExecutionID, e.ID, b.Attempt); !ok || err != nil {
				t.Fatalf("claim %d = %v, %v", i, ok, err)
			}
			if err := s.Report(ctx, b.ExecutionID, e.ID, b.Attempt, nil, nil, end); err != nil {
				t.Fatal(err)
			}
			got, _ = s.GetExecution(ctx, b.ExecutionID)
			if i == dispatch.DefaultMaxFailures {
				if got.Status != store.ExecFailed || !strings.Contains(got.Error, "executor lease expired") {
					t.Fatalf("after %d interruptions: %s %q", i, got.Status, got.Error)
				}
				break
			}
			if got.Status != store.ExecQueued {
				t.Fatalf("after %d interruptions: %s", i, got.Status)
			}
			b = assignWhenDue(t, s)[0]
		}
	})
}

// TestDispatchFailuresFromTheReaper: a DISPATCHING row nobody claimed counts
// as a dispatch failure, with backoff and the bound.
func TestDispatchFailuresFromTheReaper(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		_, pv := fixture(t, s)
		pol := store.DispatchPolicy{MaxFailures: 2, Backoff: func(int) time.Duration { return time.Hour }}
		a := assignOne(t, s, pv, store.NewExecution{})
		owners, _ := s.ActiveExecutions(ctx)
		if ok, err := s.ReapExecution(ctx, owners[0], "not claimed within 15s", pol); !ok || err != nil {
			t.Fatalf("reap dispatching = %v, %v", ok, err)
		}
		got, _ := s.GetExecution(ctx, a.ExecutionID)
		if got.Status != store.ExecQueued || got.DispatchFailures != 1 || len(got.Excluded) != 1 {
			t.Fatalf("after an unclaimed dispatch: %+v", got)
		}
		// The backoff holds it back.
		if as, _ := dispatch.AssignDue(ctx, s, 10, pickFirst(t, s)); len(as) != 0 {
			t.Fatalf("assigned during its backoff: %+v", as)
		}
	})
}

func TestOfflineThresholdIsShared(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e, _ := fixture(t, s)
		if d, err := s.OfflineAfter(ctx); d != 0 || err != nil {
			t.Fatalf("before any web server: %v, %v", d, err)
		}
		for _, want := range []time.Duration{30 * time.Second, 4500 * time.Millisecond} {
			if err := s.SetOfflineAfter(ctx, want); err != nil {
				t.Fatal(err)
			}
			if d, err := s.OfflineAfter(ctx); d != want || err != nil {
				t.Fatalf("OfflineAfter = %v, %v; want %v", d, err, want)
			}
			reply, err := s.ExecutorHeartbeat(ctx, e.ID, store.Heartbeat{LocalTime: time.Now()})
			if err != nil || reply.OfflineAfter != want || !reply.Active || reply.Lease != want*2/3 {
				t.Fatalf("heartbeat reply = %+v, %v; want active, %v, lease %v", reply, err, want, want*2/3)
			}
			// The reaper reads the lease the executor granted itself.
			if got, err := s.GetExecutor(ctx, e.ID); err != nil || got.Lease != want*2/3 {
				t.Fatalf("recorded lease = %v, %v; want %v", got.Lease, err, want*2/3)
			}
		}
	})
}
