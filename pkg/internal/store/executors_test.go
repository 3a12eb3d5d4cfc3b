package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/store/storetest"
)

// registerExecutor registers executor name at h:port, inactive.
func registerExecutor(t *testing.T, s *store.Store, name string, port int) *store.Executor {
	t.Helper()
	e, err := s.RegisterExecutor(context.Background(), store.ExecutorSpec{Name: name, Host: "h", Port: port})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestMigrateStatus(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			s, err := store.Open(ctx, storetest.NewDSN(t, d))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.CheckSchema(ctx); !errors.Is(err, store.ErrSchemaOutdated) {
				t.Fatalf("CheckSchema on an empty database = %v, want ErrSchemaOutdated", err)
			}
			applied, err := s.Migrate(ctx)
			if err != nil || len(applied) == 0 {
				t.Fatalf("Migrate = %v, %v", applied, err)
			}
			if err := s.CheckSchema(ctx); err != nil {
				t.Fatalf("CheckSchema after migrate: %v", err)
			}
			st, err := s.MigrationStatus(ctx)
			if err != nil || st.Current != st.Latest || len(st.Pending) != 0 {
				t.Fatalf("status = %+v, %v", st, err)
			}
			again, err := s.Migrate(ctx)
			if err != nil || len(again) != 0 {
				t.Fatalf("second Migrate = %v, %v; want nothing to do", again, err)
			}
		})
	}
}

func TestExecutorRegistry(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		spec := store.ExecutorSpec{Name: "node-1", Host: "10.0.0.1", Port: 12321, Labels: map[string]string{"zone": "a"}, MaxFlows: 4, Version: "v1"}
		e, err := s.RegisterExecutor(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		if e.ID == 0 || e.Active || e.Labels["zone"] != "a" || e.MaxFlows != 4 || e.Status(30*time.Second) != store.StatusOnline {
			t.Fatalf("registered executor = %+v (status %s)", e, e.Status(30*time.Second))
		}

		changed, err := s.SetExecutorActive(ctx, e.ID, true, "alice")
		if err != nil || !changed {
			t.Fatalf("activate = %v, %v", changed, err)
		}
		changed, err = s.SetExecutorActive(ctx, e.ID, true, "alice")
		if err != nil || changed {
			t.Fatalf("second activate = %v, %v; want idempotent no-op", changed, err)
		}
		reply, err := s.ExecutorHeartbeat(ctx, e.ID, store.Heartbeat{LocalTime: time.Now().Add(3 * time.Minute), RunningFlows: 2})
		if err != nil || !reply.Active {
			t.Fatalf("heartbeat = %v, %v; want active", reply, err)
		}
		got, err := s.GetExecutor(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ClockSkew < 2*time.Minute || got.ClockSkew > 4*time.Minute || got.RunningFlows != 2 {
			t.Fatalf("skew %v running %d; want ~3m and 2", got.ClockSkew, got.RunningFlows)
		}
		if got.Status(30*time.Second) != store.StatusOnline {
			t.Fatalf("a skewed executor must stay online (liveness uses the database clock); got %s", got.Status(30*time.Second))
		}

		// Restart: same id, inactive again.
		if err := s.MarkExecutorStopped(ctx, e.ID, "node-1", "SIGTERM"); err != nil {
			t.Fatal(err)
		}
		got, _ = s.GetExecutor(ctx, e.ID)
		if got.Status(30*time.Second) != store.StatusStopped || got.Active {
			t.Fatalf("after stop: status %s active %v", got.Status(30*time.Second), got.Active)
		}
		if err := s.DeleteExecutor(ctx, e.ID+1000, time.Second, "x"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("delete unknown = %v", err)
		}
		_, _ = s.SetExecutorActive(ctx, e.ID, true, "alice")
		again, err := s.RegisterExecutor(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		if again.ID != e.ID || again.Active || again.Status(30*time.Second) != store.StatusOnline {
			t.Fatalf("re-register = %+v; want id %d, inactive, online", again, e.ID)
		}

		// An online executor cannot be removed; a deleted one comes back with its id.
		if err := s.DeleteExecutor(ctx, e.ID, 30*time.Second, "bob"); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("delete online = %v, want ErrConflict", err)
		}
		if err := s.MarkExecutorStopped(ctx, e.ID, "node-1", "stop"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteExecutor(ctx, e.ID, 30*time.Second, "bob"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ExecutorHeartbeat(ctx, e.ID, store.Heartbeat{}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("heartbeat of deleted = %v, want ErrNotFound", err)
		}
		spec.ID = e.ID
		back, err := s.RegisterExecutor(ctx, spec)
		if err != nil || back.ID != e.ID || back.Active {
			t.Fatalf("re-create = %+v, %v; want id %d inactive", back, err, e.ID)
		}

		evs, err := s.ExecutorEvents(ctx, e.ID, 100)
		if err != nil {
			t.Fatal(err)
		}
		var types []string
		for i := len(evs) - 1; i >= 0; i-- {
			types = append(types, evs[i].Type)
		}
		want := []string{"REGISTERED", "ACTIVATED", "STOPPED", "ACTIVATED", "REGISTERED", "STOPPED", "REMOVED", "REGISTERED"}
		if len(types) != len(want) {
			t.Fatalf("events = %v, want %v", types, want)
		}
		for i := range want {
			if types[i] != want[i] {
				t.Fatalf("events = %v, want %v", types, want)
			}
		}
		if evs[len(evs)-2].Actor != "alice" {
			t.Fatalf("activation actor = %q", evs[len(evs)-2].Actor)
		}
	})
}

func TestExecutorOfflineByDatabaseClock(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e := registerExecutor(t, s, "n", 1)
		// Wait (bounded) until the heartbeat is older than a tiny threshold.
		deadline := time.Now().Add(5 * time.Second)
		for {
			got, err := s.GetExecutor(ctx, e.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status(50*time.Millisecond) == store.StatusOffline {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("executor never went offline; age %v", got.HeartbeatAge)
			}
			<-time.After(20 * time.Millisecond)
		}
	})
}

// TestRemovedExecutorStopping: an executor removed while it ran finds its
// row gone when it stops, and leaves no event after the removal.
func TestRemovedExecutorStopping(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e := registerExecutor(t, s, "n", 1)
		// With no offline threshold, even a fresh heartbeat is offline.
		if err := s.DeleteExecutor(ctx, e.ID, 0, "bob"); err != nil {
			t.Fatal(err)
		}
		wantErrors(t, "of a removed executor", store.ErrNotFound, map[string]func() error{
			"MarkExecutorStopped": func() error { return s.MarkExecutorStopped(ctx, e.ID, "n", "graceful shutdown") },
			"SetExecutorActive":   func() error { _, err := s.SetExecutorActive(ctx, e.ID, false, "n (shutdown)"); return err },
			"GetExecutor":         func() error { _, err := s.GetExecutor(ctx, e.ID); return err },
		})
		evs, err := s.ExecutorEvents(ctx, e.ID, 10)
		if err != nil || len(evs) != 2 || evs[0].Type != store.EventRemoved {
			t.Fatalf("events = %+v, %v; want REMOVED last", evs, err)
		}
	})
}

// TestHeartbeatAfterAReplyHearsChanges: a heartbeat given its last reply is
// one conditional write while nothing changed, and still reports an
// activation, a deactivation, a new offline threshold and a removed row.
func TestHeartbeatAfterAReplyHearsChanges(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e := registerExecutor(t, s, "n", 1)
		beat := func(last *store.HeartbeatReply, runs int) store.HeartbeatReply {
			t.Helper()
			r, err := s.ExecutorHeartbeat(ctx, e.ID, store.Heartbeat{LocalTime: time.Now(), RunningFlows: runs, Last: last})
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		first := beat(nil, 0)
		if first.Active || first.Lease != store.LeaseFor(0) {
			t.Fatalf("first reply = %+v", first)
		}
		same := beat(&first, 3)
		if same != first {
			t.Fatalf("unchanged reply = %+v, want %+v", same, first)
		}
		got, err := s.GetExecutor(ctx, e.ID)
		if err != nil || got.RunningFlows != 3 {
			t.Fatalf("the one-statement heartbeat did not write: %+v, %v", got, err)
		}

		if _, err := s.SetExecutorActive(ctx, e.ID, true, "alice"); err != nil {
			t.Fatal(err)
		}
		on := beat(&same, 0)
		if !on.Active {
			t.Fatalf("after activation: %+v", on)
		}
		if err := s.SetOfflineAfter(ctx, 90*time.Second); err != nil {
			t.Fatal(err)
		}
		slow := beat(&on, 0)
		if slow.OfflineAfter != 90*time.Second || slow.Lease != store.LeaseFor(90*time.Second) || !slow.Active {
			t.Fatalf("after a new threshold: %+v", slow)
		}
		if _, err := s.SetExecutorActive(ctx, e.ID, false, "alice"); err != nil {
			t.Fatal(err)
		}
		if off := beat(&slow, 0); off.Active {
			t.Fatalf("after deactivation: %+v", off)
		}
		if err := s.DeleteExecutor(ctx, e.ID, 0, "alice"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ExecutorHeartbeat(ctx, e.ID, store.Heartbeat{Last: &slow}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("heartbeat of a removed executor = %v, want ErrNotFound", err)
		}
	})
}
