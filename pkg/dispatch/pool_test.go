package dispatch_test

import (
	"context"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/dispatch"
	"github.com/crawlctl/crawlctl/pkg/store"
	"github.com/crawlctl/crawlctl/pkg/store/storetest"
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
			t.Fatalf("nobody active: %v %q %v", e, reason, err)
		}
		// Activated after the view was read: seen once the view is older
		// than the recheck interval, because nobody else is eligible.
		if _, err := s.SetExecutorActive(ctx, a.ID, true, "t"); err != nil {
			t.Fatal(err)
		}
		var got *store.Executor
		deadline := time.Now().Add(5 * time.Second)
		for got == nil && time.Now().Before(deadline) {
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
		// Invalidate re-reads at once: a deactivation and an activation are
		// seen by the next choice.
		b := register("b", 2, 0)
		if _, err := s.SetExecutorActive(ctx, b.ID, true, "t"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetExecutorActive(ctx, a.ID, false, "t"); err != nil {
			t.Fatal(err)
		}
		p.Invalidate()
		if e, reason, err := p.Choose(ctx, ex); e == nil || e.ID != b.ID {
			t.Fatalf("after Invalidate: %v %q %v", e, reason, err)
		}
	})
}
