package dispatch_test

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/crawlctl/crawlctl/pkg/internal/dispatch"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/store/storetest"
)

// TestReaperWaitsForTheExecutorsLease: an executor is never declared lost
// before the lease it granted itself could have run out, even when the
// offline threshold was lowered since (its jobs may still be alive); once
// its own lease is short, it is.
func TestReaperWaitsForTheExecutorsLease(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		pv, err := s.AddProjectVersion(ctx, store.NewProjectVersion{Project: "p", SHA256: "x", Format: "flow2.0", Flows: "{}", Archive: []byte("zip")})
		if err != nil {
			t.Fatal(err)
		}
		// start registers an executor that heartbeats once under offline
		// and claims one execution.
		start := func(name string, port int, offline time.Duration) int64 {
			t.Helper()
			if err := s.SetOfflineAfter(ctx, offline); err != nil {
				t.Fatal(err)
			}
			e, err := s.RegisterExecutor(ctx, store.ExecutorSpec{Name: name, Host: "h", Port: port})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.SetExecutorActive(ctx, e.ID, true, "t"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.ExecutorHeartbeat(ctx, e.ID, store.Heartbeat{LocalTime: time.Now()}); err != nil {
				t.Fatal(err)
			}
			ex, _, err := dispatch.SubmitAndAssign(ctx, s, store.NewExecution{ProjectID: pv.ProjectID, Project: "p", Version: pv.Version, Flow: name, Concurrent: "ignore"}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			as, err := dispatch.AssignDue(ctx, s, 10, func(context.Context, *store.Execution) (*store.Executor, string, error) { return e, "", nil })
			if err != nil || len(as) != 1 {
				t.Fatalf("assign = %+v, %v", as, err)
			}
			if ok, err := s.ClaimExecution(ctx, ex.ID, e.ID, as[0].Attempt); !ok || err != nil {
				t.Fatalf("claim = %v, %v", ok, err)
			}
			return ex.ID
		}
		status := func(id int64) string {
			ex, err := s.GetExecution(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return ex.Status
		}
		// Granted a 20s lease under a 30s threshold, which is then lowered.
		long := start("long", 1, 30*time.Second)
		// Granted 1s under 1.5s.
		short := start("short", 2, 1500*time.Millisecond)

		d := dispatch.New(dispatch.Config{OfflineAfter: 1500 * time.Millisecond}, s, zerolog.Nop())
		deadline := time.Now().Add(30 * time.Second)
		for status(short) != store.ExecFailed {
			if time.Now().After(deadline) {
				t.Fatalf("the executor with the short lease was never reaped: %s", status(short))
			}
			if _, err := d.Reap(ctx); err != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		// Both heartbeats are now older than the recorded threshold; the
		// long lease still holds.
		if st := status(long); st != store.ExecRunning {
			t.Fatalf("execution of the executor whose 20s lease still holds: %s, want RUNNING", st)
		}
	})
}
