package store_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/store/storetest"
)

func TestWebSessions(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		if _, err := s.AddUser(ctx, "ann", "operator", "hash"); err != nil {
			t.Fatal(err)
		}
		if err := s.AddSession(ctx, "nobody", "h0", "1.2.3.4"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("session of an unknown user: %v", err)
		}
		if err := s.AddSession(ctx, "ann", "h1", "1.2.3.4"); err != nil {
			t.Fatal(err)
		}
		if err := s.AddSession(ctx, "ann", "h1", "1.2.3.4"); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("same hash twice: %v", err)
		}
		u, err := s.SessionUser(ctx, "h1", time.Hour)
		if err != nil || u.Name != "ann" || u.Role != "operator" {
			t.Fatalf("session user: %+v %v", u, err)
		}
		if _, err := s.SessionUser(ctx, "other", time.Hour); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown session: %v", err)
		}
		// Idle for longer than the expiry: refused, by the database clock.
		if _, err := s.ExecRaw(ctx, "UPDATE web_sessions SET last_used = ? WHERE session_hash = 'h1'", time.Now().UTC().Add(-2*time.Hour).Format("2006-01-02 15:04:05.000000")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SessionUser(ctx, "h1", time.Hour); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("expired session: %v", err)
		}
		// Used 90 s ago with a 10 min expiry: accepted, and its use is written.
		if _, err := s.ExecRaw(ctx, "UPDATE web_sessions SET last_used = ? WHERE session_hash = 'h1'", time.Now().UTC().Add(-90*time.Second).Format("2006-01-02 15:04:05.000000")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SessionUser(ctx, "h1", 10*time.Minute); err != nil {
			t.Fatal(err)
		}
		if age := lastUsedAge(t, s, "h1"); age > 30*time.Second {
			t.Fatalf("a use after %s did not slide the expiry: last use %s ago", store.SessionTouchEvery, age)
		}
		// A deleted user's sessions stop working.
		if err := s.DeleteUser(ctx, "ann"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SessionUser(ctx, "h1", time.Hour); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("session of a deleted user: %v", err)
		}
		if n, err := s.DeleteIdleSessions(ctx, 0); err != nil || n != 1 {
			t.Fatalf("delete idle sessions: %d %v", n, err)
		}
	})
}

func lastUsedAge(t *testing.T, s *store.Store, hash string) time.Duration {
	t.Helper()
	rows, err := s.QueryRaw(context.Background(), "SELECT last_used FROM web_sessions WHERE session_hash = ?", hash)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if !rows.Next() {
		t.Fatal("no session row")
	}
	var v any
	if err := rows.Scan(&v); err != nil {
		t.Fatal(err)
	}
	var used time.Time
	switch x := v.(type) {
	case time.Time:
		used = x
	case string:
		used, err = time.Parse("2006-01-02 15:04:05.999999999", x)
	case []byte:
		used, err = time.Parse("2006-01-02 15:04:05.999999999", string(x))
	}
	if err != nil {
		t.Fatal(err)
	}
	now, err := s.Now(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return now.Sub(used)
}

func TestCreatedProjectsAndFlowViews(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		p, err := s.CreateProject(ctx, "p", "crawls things")
		if err != nil || p.Description != "crawls things" || p.LatestVersion != 0 {
			t.Fatalf("create: %+v %v", p, err)
		}
		if _, err := s.CreateProject(ctx, "p", "again"); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("second create: %v", err)
		}
		// The first upload becomes version 1 of the created project.
		pv, err := s.AddProjectVersion(ctx, store.NewProjectVersion{Project: "p", SHA256: "x", Format: "flow2.0", Flows: "{}", Archive: []byte("zip")})
		if err != nil || pv.Version != 1 || pv.ProjectID != p.ID {
			t.Fatalf("upload: %+v %v", pv, err)
		}
		alerts := store.Alerts{SuccessEmails: []string{"a@x"}, FailureEmails: []string{"b@x", "c@x"}, NotifyFailureFirst: true}
		var ids []int64
		for i := 0; i < 3; i++ {
			ex, err := submitQueued(ctx, s, store.NewExecution{ProjectID: pv.ProjectID, Project: "p", Version: 1, Flow: "f", Params: map[string]string{},
				Concurrent: "ignore", FailureAction: "finishCurrent", SubmitUser: "u", Disabled: []string{"j", "ef:k"}, Alerts: alerts})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, ex.ID)
		}
		ex, err := s.GetExecution(ctx, ids[0])
		if err != nil || !reflect.DeepEqual(ex.Disabled, []string{"j", "ef:k"}) || !reflect.DeepEqual(ex.Alerts, alerts) || ex.UpdatedAt.IsZero() {
			t.Fatalf("stored options: %+v %+v %v", ex.Disabled, ex.Alerts, err)
		}
		other := submitOne(t, s, pv, "ignore") // flow "f" too, without options
		if ex, _ := s.GetExecution(ctx, other.ID); len(ex.Disabled) != 0 || len(ex.Alerts.FailureEmails) != 0 {
			t.Fatalf("no options: %+v", ex)
		}
		ids = append(ids, other.ID)
		spec, err := s.ExecutionRunSpec(ctx, ids[0])
		if err != nil || !reflect.DeepEqual(spec.Disabled, []string{"j", "ef:k"}) {
			t.Fatalf("run spec: %+v %v", spec, err)
		}

		list, total, err := s.FlowExecutions(ctx, "p", "f", 1, 2)
		if err != nil || total != 4 || len(list) != 2 || list[0].ID != ids[2] || list[1].ID != ids[1] {
			t.Fatalf("page 2 of the flow's executions: total %d %v", total, err)
		}
		if _, err := s.CancelExecution(ctx, ids[1], "u", ""); err != nil {
			t.Fatal(err)
		}
		running, err := s.UnfinishedExecutionIDs(ctx, "p", "f")
		if err != nil || !reflect.DeepEqual(running, []int64{ids[0], ids[2], ids[3]}) {
			t.Fatalf("unfinished: %v %v", running, err)
		}
		if none, err := s.UnfinishedExecutionIDs(ctx, "p", "g"); err != nil || len(none) != 0 {
			t.Fatalf("unfinished of another flow: %v %v", none, err)
		}

		// A flow's schedule is set, then replaced in place.
		if _, err := s.FlowSchedule(ctx, "p", "f"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("no schedule yet: %v", err)
		}
		next := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
		ns := store.NewSchedule{Project: "p", Flow: "f", Cron: "0 0 * * * ?", TimeZone: "UTC", Params: map[string]string{"a": "1"}, Concurrent: "skip",
			Misfire: "fire-once", Owner: "u", NextFire: next, Options: store.ScheduleOptions{FailureAction: "finishPossible", Disabled: []string{"j"}, Alerts: alerts}}
		sc, replaced, err := s.SetFlowSchedule(ctx, ns)
		if err != nil || replaced || sc.Options.FailureAction != "finishPossible" || !reflect.DeepEqual(sc.Options.Alerts, alerts) {
			t.Fatalf("set: %+v %v %v", sc, replaced, err)
		}
		ns.Cron, ns.Options = "0 30 * * * ?", store.ScheduleOptions{}
		sc2, replaced, err := s.SetFlowSchedule(ctx, ns)
		if err != nil || !replaced || sc2.ID != sc.ID || sc2.Cron != "0 30 * * * ?" || sc2.Options.FailureAction != "" {
			t.Fatalf("replace: %+v %v %v", sc2, replaced, err)
		}
		got, err := s.FlowSchedule(ctx, "p", "f")
		if err != nil || got.ID != sc.ID {
			t.Fatalf("flow schedule: %+v %v", got, err)
		}
		ns.Project = "nope"
		if _, _, err := s.SetFlowSchedule(ctx, ns); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("schedule of an unknown project: %v", err)
		}
	})
}

func TestPauseExecution(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e, pv := fixture(t, s)
		ex := running(t, s, e, pv)
		queued := submitOne(t, s, pv, "ignore")
		if err := s.SetExecutionPaused(ctx, queued.ID, true); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("pausing a queued execution: %v", err)
		}
		if err := s.SetExecutionPaused(ctx, 99999, true); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("pausing no execution: %v", err)
		}
		paused := func() (bool, bool) {
			got, err := s.GetExecution(ctx, ex.ID)
			if err != nil {
				t.Fatal(err)
			}
			work, err := s.ExecutorWork(ctx, e.ID)
			if err != nil || len(work) != 1 {
				t.Fatalf("work: %+v %v", work, err)
			}
			return got.Paused, work[0].Paused
		}
		for _, want := range []bool{true, true, false, false} {
			if err := s.SetExecutionPaused(ctx, ex.ID, want); err != nil {
				t.Fatalf("set paused %v: %v", want, err)
			}
			if row, work := paused(); row != want || work != want {
				t.Fatalf("after setting paused %v: the row says %v, the executor's work %v", want, row, work)
			}
		}
	})
}
