package runner

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestPauseHoldsNewJobsOnly: a paused execution lets its running job end
// but starts nothing until it is resumed; a paused execution can still be
// cancelled.
func TestPauseHoldsNewJobsOnly(t *testing.T) {
	t.Parallel()
	ex := newExecution(t, command("a", waitFor("a.go")), command("b", "true", "a"))
	gate := &PauseGate{}
	ex.Pause = gate
	rec := newRecorder()
	done := make(chan Result, 1)
	go func() { done <- Run(context.Background(), ex, rec) }()

	eventually(t, "a running", func() bool { return rec.index("a", Running) >= 0 })
	gate.Set(true)
	eventually(t, "the pause seen", func() bool { return strings.Contains(rec.flowText(), "execution paused") })
	touch(t, inDir(ex, "a.go"))
	eventually(t, "a collected", func() bool { return strings.Contains(rec.flowText(), "job a succeeded") })
	resumed := time.Now()
	if len(rec.of("b")) != 0 {
		t.Fatal("b started while the execution was paused")
	}
	gate.Set(false)
	res := <-done
	if res.Status != "SUCCEEDED" {
		t.Fatalf("result %+v", res)
	}
	if start := rec.last(t, "b").StartTime; start.Before(resumed) {
		t.Fatalf("b started at %s, before the resume at %s", start, resumed)
	}
	if !strings.Contains(rec.flowText(), "execution resumed") {
		t.Fatalf("flow log: %s", rec.flowText())
	}

	// Paused before it starts, then cancelled: nothing runs, it ends KILLED.
	ex2 := newExecution(t, command("c", "echo ran > c.out"))
	ex2.Pause = &PauseGate{}
	ex2.Pause.Set(true)
	rec2 := newRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	done2 := make(chan Result, 1)
	go func() { done2 <- Run(ctx, ex2, rec2) }()
	eventually(t, "the pause seen", func() bool { return strings.Contains(rec2.flowText(), "execution paused") })
	cancel()
	if res := <-done2; res.Status != "KILLED" {
		t.Fatalf("a paused execution cancelled: %+v", res)
	}
	rec2.expectStatuses(t, map[string]JobStatus{"c": Cancelled})
	if exists(inDir(ex2, "c.out")) {
		t.Fatal("a job of a paused execution ran")
	}
}
