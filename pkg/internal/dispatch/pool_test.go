package dispatch_test

import (
	"context"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/dispatch"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/store/storetest"
)

func TestPoolView(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		register := func(name string, port, maxFlows int) *store.Executor {
			e, err := s.RegisterExecutor(ctx, store.ExecutorSpec{Name: name, Host: "h", Port: port, MaxFlows: maxFlows})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.ExecutorHeartbeat(ctx, e.ID, store.Heartbeat{LocalTime: time.Now()}); err != nil {
				t.Fatal(err)
			}
			return e
		}
		a := register("a", 1, 2)
		// A long view age: only the rules of the pool make it read again.
		p := dispatch.NewPool(s, 30*time.Second, time.Hour)
		ex := &store.Execution{ID: 1}
		if e, reason, err := p.Choose(ctx, ex); e != nil || err != nil || reason == "" {
			t.Fatalf("before any read: %v %q %v", e, reason, err)
		}
		if err := p.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if e, reason, err := p.Choose(ctx, ex); e != nil || err != nil || reason == "" {
			t.Fatalf("nobody active: %v %q %v", e, reason, err)
		}
		// Activated after the view was read: seen by a Refresh once the
		// view is older than the recheck interval, because a choice found
		// nobody eligible.
		if _, err := s.SetExecutorActive(ctx, a.ID, true, "t"); err != nil {
			t.Fatal(err)
		}
		var got *store.Executor
		deadline := time.Now().Add(5 * time.Second)
		for got == nil && time.Now().Before(deadline) {
			if err := p.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			e, _, err := p.Choose(ctx, ex)
			if err != nil {
				t.Fatal(err)
			}
			got = e
		}
		if got == nil || got.ID != a.ID {
			t.Fatalf("activation not seen: chose %v", got)
		}
		// Assignments count against max_flows without reading the database.
		if e, _, _ := p.Choose(ctx, ex); e == nil || e.ID != a.ID {
			t.Fatalf("second slot: %v", e)
		}
		if e, reason, _ := p.Choose(ctx, ex); e != nil {
			t.Fatalf("a full executor was chosen (%q)", reason)
		}
		// Invalidate makes the next Refresh read again: a view read just
		// now (not due by age, no failed choice) would still offer a.
		b := register("b", 2, 0)
		fresh := dispatch.NewPool(s, 30*time.Second, time.Hour)
		if err := fresh.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetExecutorActive(ctx, b.ID, true, "t"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetExecutorActive(ctx, a.ID, false, "t"); err != nil {
			t.Fatal(err)
		}
		fresh.Invalidate()
		if err := fresh.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if e, reason, err := fresh.Choose(ctx, ex); e == nil || e.ID != b.ID {
			t.Fatalf("after Invalidate: %v %q %v", e, reason, err)
		}
	})
}

// TestPoolChoiceInsideFullPool submits through transactions that choose
// while every database connection is held by another such transaction: the
// choice must not need a connection of its own.
func TestPoolChoiceInsideFullPool(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		e, err := s.RegisterExecutor(ctx, store.ExecutorSpec{Name: "a", Host: "h", Port: 1})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetExecutorActive(ctx, e.ID, true, "t"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ExecutorHeartbeat(ctx, e.ID, store.Heartbeat{LocalTime: time.Now()}); err != nil {
			t.Fatal(err)
		}
		pv, err := s.AddProjectVersion(ctx, store.NewProjectVersion{Project: "p", SHA256: "x", Format: "flow2.0", Flows: "{}", Archive: []byte("zip")})
		if err != nil {
			t.Fatal(err)
		}
		// A view that is always due: every submit reads it.
		p := dispatch.NewPool(s, 30*time.Second, time.Nanosecond)
		const n = 80 // more than the store's connections
		errs := make(chan error, n)
		for range n {
			go func() {
				if err := p.Refresh(ctx); err != nil {
					errs <- err
					return
				}
				_, _, err := dispatch.SubmitAndAssign(ctx, s, store.NewExecution{ProjectID: pv.ProjectID, Project: "p", Version: pv.Version, Flow: "f",
					Concurrent: "ignore", FailureAction: "finishCurrent", SubmitUser: "u"}, p.Choose, nil)
				errs <- err
			}()
		}
		for range n {
			if err := <-errs; err != nil {
				t.Fatalf("submit: %v", err)
			}
		}
	})
}
