package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/store/storetest"
)

// scheduleFixture is fixture plus a schedule of flow p/f, every second,
// due at a fixed time in the past.
func scheduleFixture(t *testing.T, s *store.Store) (*store.ProjectVersion, *store.Schedule) {
	t.Helper()
	_, pv := fixture(t, s)
	sc, err := s.AddSchedule(context.Background(), store.NewSchedule{Project: "p", Flow: "f", Cron: "* * * * * ?", TimeZone: "UTC", Concurrent: "ignore",
		Misfire: "fire-once", NextFire: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	return pv, sc
}

func TestFireScheduleExactlyOnce(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		pv, sc := scheduleFixture(t, s)
		due := *sc.NextFire
		if got, err := s.DueSchedules(ctx, 10); err != nil || len(got) != 1 || !got[0].NextFire.Equal(due) {
			t.Fatalf("due = %+v, %v", got, err)
		}
		ne := store.NewExecution{ProjectID: pv.ProjectID, Project: "p", Version: 1, Flow: "f", Concurrent: "ignore", ScheduleID: sc.ID, ScheduledTime: due}
		// Eight web servers race for the same fire time: one submits.
		var wg sync.WaitGroup
		outcomes := make(chan string, 8)
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				o, _, err := s.FireSchedule(ctx, sc.ID, due, due.Add(time.Second), &ne, "submitted")
				if err != nil {
					t.Error(err)
				}
				outcomes <- o
			}()
		}
		wg.Wait()
		close(outcomes)
		n := 0
		for o := range outcomes {
			if o == store.FireSubmitted {
				n++
			} else if o != store.FireLost {
				t.Fatalf("outcome %q", o)
			}
		}
		if n != 1 {
			t.Fatalf("%d submissions for one fire time", n)
		}
		list, _ := s.ListExecutions(ctx, store.ExecutionFilter{})
		if len(list) != 1 || list[0].ScheduleID == nil || *list[0].ScheduleID != sc.ID || !list[0].ScheduledTime.Equal(due) {
			t.Fatalf("executions = %+v", list)
		}
		got, _ := s.GetSchedule(ctx, sc.ID)
		if !got.NextFire.Equal(due.Add(time.Second)) || got.FiredCount != 1 || *got.LastExecutionID != list[0].ID {
			t.Fatalf("schedule after fire = %+v", got)
		}
		// Paused schedules are not due and cannot fire.
		if err := s.SetSchedulePaused(ctx, sc.ID, true, *got.NextFire); err != nil {
			t.Fatal(err)
		}
		if o, _, _ := s.FireSchedule(ctx, sc.ID, *got.NextFire, due.Add(2*time.Second), &ne, "x"); o != store.FireLost {
			t.Fatalf("paused schedule fired: %s", o)
		}
		if err := s.DeleteSchedule(ctx, sc.ID); err != nil {
			t.Fatal(err)
		}
	})
}

// TestScheduleLifecycle: schedules read back as added, pause and resume,
// record what each fire time became, and are gone once deleted.
func TestScheduleLifecycle(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		_, pv := fixture(t, s)
		past := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		add := func(flow string, next time.Time) *store.Schedule {
			t.Helper()
			sc, err := s.AddSchedule(ctx, store.NewSchedule{Project: "p", Flow: flow, Cron: "0 0 * * * ?", TimeZone: "Europe/Paris",
				Params: map[string]string{"day": flow}, Concurrent: "skip", Misfire: "skip", Owner: "alice", NextFire: next})
			if err != nil {
				t.Fatal(err)
			}
			return sc
		}
		f := add("f", past)
		g := add("g", past.Add(time.Hour))
		future := add("h", time.Now().Add(24*time.Hour))
		if f.Params["day"] != "f" || f.TimeZone != "Europe/Paris" || f.Owner != "alice" || f.Paused || f.CreatedAt.IsZero() || f.LastFire != nil || f.LastExecutionID != nil {
			t.Fatalf("added %+v", f)
		}
		list, err := s.ListSchedules(ctx, store.Page{})
		if err != nil || len(list) != 3 || list[0].ID != f.ID || list[1].ID != g.ID || list[2].ID != future.ID || list[1].Params["day"] != "g" {
			t.Fatalf("ListSchedules = %+v, %v", list, err)
		}
		dueIDs := func(limit int) []int64 {
			t.Helper()
			due, err := s.DueSchedules(ctx, limit)
			return idsOf(t, due, err, func(sc *store.Schedule) int64 { return sc.ID })
		}
		if ids := dueIDs(10); len(ids) != 2 || ids[0] != f.ID || ids[1] != g.ID {
			t.Fatalf("due = %v, want the two past ones, earliest first", ids)
		}
		if ids := dueIDs(1); len(ids) != 1 || ids[0] != f.ID {
			t.Fatalf("due, one at most = %v", ids)
		}

		// Paused: not due; pausing again changes no row and is no error;
		// resumed with a new next fire time, due by that one.
		for range 2 {
			if err := s.SetSchedulePaused(ctx, g.ID, true, past); err != nil {
				t.Fatal(err)
			}
		}
		if ids := dueIDs(10); len(ids) != 1 || ids[0] != f.ID {
			t.Fatalf("due with g paused = %v", ids)
		}
		resumed := past.Add(-time.Hour)
		if err := s.SetSchedulePaused(ctx, g.ID, false, resumed); err != nil {
			t.Fatal(err)
		}
		if ids := dueIDs(10); len(ids) != 2 || ids[0] != g.ID {
			t.Fatalf("due after resuming g at an earlier time = %v", ids)
		}

		// A misfire skipped by policy moves the schedule on and says why.
		next := past.Add(time.Minute)
		if o, id, err := s.FireSchedule(ctx, f.ID, past, next, nil, "missed 03:04"); o != store.FireMissed || id != 0 || err != nil {
			t.Fatalf("misfire = %q, %d, %v", o, id, err)
		}
		checkSchedule(t, s, f.ID, next, 0, 1, "missed 03:04")

		// --concurrent skip while the flow runs: skipped, not submitted.
		running := submitOne(t, s, pv, "ignore")
		ne := store.NewExecution{ProjectID: pv.ProjectID, Project: "p", Version: pv.Version, Flow: "f", Concurrent: "skip", ScheduleID: f.ID, ScheduledTime: next}
		if o, id, err := s.FireSchedule(ctx, f.ID, next, next.Add(time.Minute), &ne, "fired"); o != store.FireSkipped || id != 0 || err != nil {
			t.Fatalf("fire while running = %q, %d, %v", o, id, err)
		}
		sc := checkSchedule(t, s, f.ID, next.Add(time.Minute), 0, 2, "")
		if !strings.Contains(sc.LastStatus, fmt.Sprint(running.ID)) {
			t.Fatalf("skip status %q does not name execution %d", sc.LastStatus, running.ID)
		}

		// A fire time that could not be handled: noted and moved on, once.
		next = next.Add(time.Minute)
		if err := s.RecordScheduleError(ctx, f.ID, next, next.Add(time.Minute), "project p has no flow f"); err != nil {
			t.Fatal(err)
		}
		checkSchedule(t, s, f.ID, next.Add(time.Minute), 0, 2, "error: project p has no flow f")
		if err := s.RecordScheduleError(ctx, f.ID, next, next.Add(time.Hour), "again"); err != nil {
			t.Fatal(err)
		}
		checkSchedule(t, s, f.ID, next.Add(time.Minute), 0, 2, "error: project p has no flow f")

		if err := s.DeleteSchedule(ctx, f.ID); err != nil {
			t.Fatal(err)
		}
		if list, _ := s.ListSchedules(ctx, store.Page{}); len(list) != 2 || list[0].ID != g.ID {
			t.Fatalf("after delete: %+v", list)
		}
		wantErrors(t, "of a deleted schedule", store.ErrNotFound, map[string]func() error{
			"GetSchedule":       func() error { _, err := s.GetSchedule(ctx, f.ID); return err },
			"SetSchedulePaused": func() error { return s.SetSchedulePaused(ctx, f.ID, true, past) },
			"DeleteSchedule":    func() error { return s.DeleteSchedule(ctx, f.ID) },
		})
		if o, _, err := s.FireSchedule(ctx, f.ID, next.Add(time.Minute), next.Add(time.Hour), &ne, "x"); o != store.FireLost || err != nil {
			t.Fatalf("fire of a deleted schedule = %q, %v", o, err)
		}
	})
}

// checkSchedule fails unless schedule id has these next fire time, counts
// and (when want is not "") last status; it returns the schedule.
func checkSchedule(t *testing.T, s *store.Store, id int64, next time.Time, fired, skipped int64, status string) *store.Schedule {
	t.Helper()
	sc, err := s.GetSchedule(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if sc.NextFire == nil || !sc.NextFire.Equal(next) || sc.FiredCount != fired || sc.SkippedCount != skipped || (status != "" && sc.LastStatus != status) {
		t.Fatalf("schedule = next %v fired %d skipped %d %q; want %v %d %d %q", sc.NextFire, sc.FiredCount, sc.SkippedCount, sc.LastStatus, next, fired, skipped, status)
	}
	return sc
}
