package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/store/storetest"
)

func TestFireScheduleExactlyOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		_, pv := fixture(t, s)
		due := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		sc, err := s.AddSchedule(ctx, store.NewSchedule{Project: "p", Flow: "f", Cron: "* * * * * ?", TimeZone: "UTC", Concurrent: "ignore", Misfire: "fire-once", NextFire: due})
		if err != nil {
			t.Fatal(err)
		}
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
