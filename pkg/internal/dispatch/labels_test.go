package dispatch

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

func labelled(id int64, active bool, l map[string]string) *store.Executor {
	e := ex(id, active, 0, 0, 0)
	e.Labels = l
	return e
}

func TestChooseLabels(t *testing.T) {
	eu := map[string]string{"region": "eu"}
	euGPU := map[string]string{"region": "eu", "gpu": "true"}
	us := map[string]string{"region": "us"}
	list := []*store.Executor{labelled(1, true, eu), labelled(2, true, euGPU), labelled(3, true, us), labelled(4, false, euGPU)}
	rnd := rand.New(rand.NewPCG(3, 4))
	counts := map[int64]int{}
	const n = 30000
	for range n {
		e, reason := Choose(&store.Execution{Selector: eu}, list, time.Minute, rnd)
		if e == nil {
			t.Fatalf("no choice: %s", reason)
		}
		counts[e.ID]++
	}
	if counts[3] != 0 || counts[4] != 0 {
		t.Fatalf("a non-matching or inactive executor was chosen: %v", counts)
	}
	chi := 0.0
	for _, id := range []int64{1, 2} {
		d := float64(counts[id]) - n/2
		chi += d * d / (n / 2)
	}
	if chi > 10.83 { // 1 degree of freedom, p = 0.001
		t.Fatalf("not uniform among the matching: %v (chi-square %.1f)", counts, chi)
	}
	if e, _ := Choose(&store.Execution{Selector: map[string]string{"gpu": "true"}}, list, time.Minute, rnd); e == nil || e.ID != 2 {
		t.Fatalf("gpu=true chose %v, want 2 (4 is inactive)", e)
	}
	e, reason := Choose(&store.Execution{Selector: map[string]string{"region": "ap"}}, list, time.Minute, rnd)
	if e != nil || reason != "waiting: no active online executor with region=ap (3 active ones lack it; label one with `crawlctl executor label REF region=ap`)" {
		t.Fatalf("got %v, %q", e, reason)
	}
	// Pinned and a selector: the pinned executor must match it too.
	pin := int64(3)
	e, reason = Choose(&store.Execution{Selector: eu, PinnedExecutorID: &pin}, list, time.Minute, rnd)
	if e != nil || !strings.Contains(reason, "pinned executor e lacks region=eu") {
		t.Fatalf("got %v, %q", e, reason)
	}
	pin = 4 // inactive but online, matching: allowed as any pin is
	if e, reason = Choose(&store.Execution{Selector: eu, PinnedExecutorID: &pin}, list, time.Minute, rnd); e == nil || e.ID != 4 {
		t.Fatalf("got %v, %q", e, reason)
	}
	pins, unmatched := BroadcastTargets(list, eu, time.Minute)
	if len(pins) != 2 || pins[0] != 1 || pins[1] != 2 || unmatched != 1 {
		t.Fatalf("broadcast = %v, %d unmatched", pins, unmatched)
	}
}
