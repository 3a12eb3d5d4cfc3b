package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/dispatch"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/store/storetest"
)

// idsOf returns the ids of list, failing the test on err.
func idsOf[T any](t *testing.T, list []T, err error, id func(T) int64) []int64 {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, v := range list {
		ids = append(ids, id(v))
	}
	return ids
}

// wantErrors fails unless each call returns an error that is want.
func wantErrors(t *testing.T, what string, want error, calls map[string]func() error) {
	t.Helper()
	for name, call := range calls {
		if err := call(); !errors.Is(err, want) {
			t.Errorf("%s %s = %v, want %v", name, what, err, want)
		}
	}
}

// TestExecutionRunSpec: an executor gets what it needs to run the version
// that was submitted, even after newer uploads; an execution that is gone,
// or whose parameters cannot be read, is refused rather than run.
func TestExecutionRunSpec(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		_, pv := fixture(t, s)
		ex := submitOne(t, s, pv, "ignore")
		if _, err := s.AddProjectVersion(ctx, store.NewProjectVersion{Project: "p", SHA256: "newer", Format: "flow2.0", Flows: "{}", Archive: []byte("v2")}); err != nil {
			t.Fatal(err)
		}
		spec, err := s.ExecutionRunSpec(ctx, ex.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := store.RunSpec{ProjectID: pv.ProjectID, Project: "p", Version: pv.Version, SHA256: pv.SHA256, Flow: "f", Params: map[string]string{"k": "v"}, FailureAction: "finishCurrent"}
		if spec.ProjectID != want.ProjectID || spec.Project != want.Project || spec.Version != want.Version || spec.SHA256 != want.SHA256 ||
			spec.Flow != want.Flow || spec.FailureAction != want.FailureAction || len(spec.Params) != 1 || spec.Params["k"] != "v" {
			t.Fatalf("run spec = %+v, want %+v", spec, want)
		}

		noVersion, err := submitQueued(ctx, s, store.NewExecution{ProjectID: pv.ProjectID, Project: "p", Version: 9, Flow: "f", Concurrent: "ignore"})
		if err != nil {
			t.Fatal(err)
		}
		wantErrors(t, "of ExecutionRunSpec", store.ErrNotFound, map[string]func() error{
			"an unknown execution":        func() error { _, err := s.ExecutionRunSpec(ctx, ex.ID+1000); return err },
			"a version that is not there": func() error { _, err := s.ExecutionRunSpec(ctx, noVersion.ID); return err },
		})
		// A row an operator broke by hand.
		if _, err := s.ExecRaw(ctx, "UPDATE executions SET params = 'not json' WHERE id = ?", ex.ID); err != nil {
			t.Fatal(err)
		}
		if spec, err := s.ExecutionRunSpec(ctx, ex.ID); err == nil || errors.Is(err, store.ErrNotFound) {
			t.Fatalf("run spec with unreadable parameters = %+v, %v; want an error", spec, err)
		}
	})
}

// TestExecutionCountsAndLists: counts by status and the filtered, newest
// first lists follow the executions through their states.
func TestExecutionCountsAndLists(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		_, pv := fixture(t, s)
		if c, err := s.ExecutionCounts(ctx); err != nil || len(c) != 0 {
			t.Fatalf("counts of an empty database = %v, %v", c, err)
		}
		var ids []int64
		for _, flow := range []string{"f", "g", "f", "g"} {
			ex, err := submitQueued(ctx, s, store.NewExecution{ProjectID: pv.ProjectID, Project: "p", Version: pv.Version, Flow: flow, Concurrent: "ignore"})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, ex.ID)
		}
		if as, err := dispatch.AssignDue(ctx, s, 1, pickFirst(t, s)); err != nil || len(as) != 1 || as[0].ExecutionID != ids[0] {
			t.Fatalf("assign = %+v, %v", as, err)
		}
		if _, err := s.CancelExecution(ctx, ids[1], "bob", ""); err != nil {
			t.Fatal(err)
		}
		counts, err := s.ExecutionCounts(ctx)
		want := map[string]int64{store.ExecDispatching: 1, store.ExecKilled: 1, store.ExecQueued: 2}
		if err != nil || len(counts) != len(want) {
			t.Fatalf("counts = %v, %v; want %v", counts, err, want)
		}
		for st, n := range want {
			if counts[st] != n {
				t.Fatalf("counts = %v; want %v", counts, want)
			}
		}

		cases := []struct {
			name string
			f    store.ExecutionFilter
			want []int64
		}{
			{"all, newest first", store.ExecutionFilter{}, []int64{ids[3], ids[2], ids[1], ids[0]}},
			{"status in any case", store.ExecutionFilter{Status: "queued"}, []int64{ids[3], ids[2]}},
			{"flow", store.ExecutionFilter{Flow: "g"}, []int64{ids[3], ids[1]}},
			{"project and flow", store.ExecutionFilter{Project: "p", Flow: "f"}, []int64{ids[2], ids[0]}},
			{"other project", store.ExecutionFilter{Project: "q"}, nil},
			{"limit", store.ExecutionFilter{Limit: 2}, []int64{ids[3], ids[2]}},
		}
		for _, c := range cases {
			list, err := s.ListExecutions(ctx, c.f)
			if got := idsOf(t, list, err, func(e *store.Execution) int64 { return e.ID }); !slices.Equal(got, c.want) {
				t.Errorf("%s: %v, want %v", c.name, got, c.want)
			}
		}
	})
}

// TestExecutorViews: the list of executors, the load counted from the
// executions (not from heartbeats) that dispatch chooses by, and the
// events the reaper leaves.
func TestExecutorViews(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		if list, err := s.ListExecutors(ctx); err != nil || len(list) != 0 {
			t.Fatalf("executors of an empty database = %+v, %v", list, err)
		}
		e, pv := fixture(t, s)
		idle, err := s.RegisterExecutor(ctx, store.ExecutorSpec{Name: "idle", Host: "h", Port: 2, MaxFlows: 3, TLS: true})
		if err != nil {
			t.Fatal(err)
		}
		list, err := s.ListExecutors(ctx)
		if err != nil || len(list) != 2 || list[0].ID != e.ID || !list[0].Active || list[1].ID != idle.ID || list[1].Active || !list[1].TLS || list[1].MaxFlows != 3 {
			t.Fatalf("ListExecutors = %+v, %v", list, err)
		}

		// e holds one DISPATCHING, one RUNNING, one KILLING; one QUEUED and
		// one ended execution hold no slot. Its heartbeat says otherwise.
		running(t, s, e, pv)
		killing := running(t, s, e, pv)
		if _, err := s.CancelExecution(ctx, killing.ID, "bob", ""); err != nil {
			t.Fatal(err)
		}
		assignOne(t, s, pv, store.NewExecution{})
		ended := assignOne(t, s, pv, store.NewExecution{})
		if _, err := s.CancelExecution(ctx, ended.ExecutionID, "bob", ""); err != nil {
			t.Fatal(err)
		}
		submitOne(t, s, pv, "queue")
		if _, err := s.ExecutorHeartbeat(ctx, e.ID, store.Heartbeat{LocalTime: time.Now(), RunningFlows: 7}); err != nil {
			t.Fatal(err)
		}
		loaded, err := s.ExecutorsWithLoad(ctx, store.Page{})
		if err != nil || len(loaded) != 2 || loaded[0].ID != e.ID || loaded[0].RunningFlows != 3 || loaded[1].RunningFlows != 0 {
			t.Fatalf("ExecutorsWithLoad = %+v, %v; want e with 3, idle with 0", loaded, err)
		}

		if err := s.RecordLost(ctx, idle.ID, "no heartbeat for 45s"); err != nil {
			t.Fatal(err)
		}
		evs, err := s.ExecutorEvents(ctx, idle.ID, 1)
		if err != nil || len(evs) != 1 || evs[0].Type != store.EventLost || evs[0].Actor != "reaper" || evs[0].Message != "no heartbeat for 45s" || evs[0].Time.IsZero() {
			t.Fatalf("last event of the lost executor = %+v, %v", evs, err)
		}
		all, err := s.ExecutorEvents(ctx, 0, 100)
		if err != nil || len(all) < 3 || all[0].ID != evs[0].ID || !slices.ContainsFunc(all, func(ev store.ExecutorEvent) bool { return ev.ExecutorID == e.ID }) {
			t.Fatalf("everyone's events = %+v, %v", all, err)
		}
	})
}
