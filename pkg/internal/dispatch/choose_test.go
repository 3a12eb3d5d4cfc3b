package dispatch

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

func ex(id int64, active bool, age time.Duration, running, max int) *store.Executor {
	return &store.Executor{ID: id, Name: "e", Host: "h", Port: int(id), Active: active, HeartbeatAge: age, RunningFlows: running, MaxFlows: max}
}

func TestChooseEligibility(t *testing.T) {
	off := 30 * time.Second
	pin := func(id int64) *int64 { return &id }
	cases := []struct {
		name      string
		exec      store.Execution
		executors []*store.Executor
		want      int64 // 0 = none
		reason    string
	}{
		{"only active online", store.Execution{}, []*store.Executor{ex(1, false, 0, 0, 0), ex(2, true, time.Minute, 0, 0), ex(3, true, time.Second, 0, 0)}, 3, ""},
		{"none active", store.Execution{}, []*store.Executor{ex(1, false, 0, 0, 0)}, 0, "no active online executor"},
		{"all full", store.Execution{}, []*store.Executor{ex(1, true, 0, 2, 2)}, 0, "full"},
		{"stopped is not online", store.Execution{}, []*store.Executor{{ID: 1, Active: true, Stopped: true}}, 0, "no active online"},
		{"excluded avoided", store.Execution{Excluded: []int64{1}}, []*store.Executor{ex(1, true, 0, 0, 0), ex(2, true, 0, 0, 0)}, 2, ""},
		{"excluded reused when alone", store.Execution{Excluded: []int64{1}}, []*store.Executor{ex(1, true, 0, 0, 0)}, 1, ""},
		{"pinned inactive but online", store.Execution{PinnedExecutorID: pin(1)}, []*store.Executor{ex(1, false, 0, 0, 0), ex(2, true, 0, 0, 0)}, 1, ""},
		{"pinned offline waits", store.Execution{PinnedExecutorID: pin(1)}, []*store.Executor{ex(1, true, time.Hour, 0, 0), ex(2, true, 0, 0, 0)}, 0, "offline"},
		{"pinned gone", store.Execution{PinnedExecutorID: pin(9)}, []*store.Executor{ex(1, true, 0, 0, 0)}, 0, "no longer exists"},
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, reason := Choose(&tc.exec, tc.executors, off, rnd)
			if tc.want == 0 {
				if got != nil || !strings.Contains(reason, tc.reason) {
					t.Fatalf("got %v %q; want none and %q", got, reason, tc.reason)
				}
				return
			}
			if got == nil || got.ID != tc.want {
				t.Fatalf("got %v (%q), want executor %d", got, reason, tc.want)
			}
		})
	}
}

// TestChooseIsUniform: with 4 eligible executors, each gets close to a
// quarter of 40,000 choices (a chi-square test at p < 0.001 would reject a
// fair die with probability 0.1%; the bound below is far looser).
func TestChooseIsUniform(t *testing.T) {
	list := []*store.Executor{ex(1, true, 0, 0, 0), ex(2, true, 0, 0, 0), ex(3, true, 0, 0, 0), ex(4, true, 0, 0, 0), ex(5, false, 0, 0, 0)}
	rnd := rand.New(rand.NewPCG(7, 11))
	counts := map[int64]int{}
	const n = 40000
	for i := 0; i < n; i++ {
		e, _ := Choose(&store.Execution{}, list, time.Minute, rnd)
		counts[e.ID]++
	}
	if counts[5] != 0 {
		t.Fatalf("inactive executor chosen %d times", counts[5])
	}
	chi := 0.0
	for id := int64(1); id <= 4; id++ {
		d := float64(counts[id]) - n/4
		chi += d * d / (n / 4)
	}
	if chi > 16.27 { // chi-square, 3 degrees of freedom, p = 0.001
		t.Fatalf("choices are not uniform: %v (chi-square %.1f)", counts, chi)
	}
}
