package harness

import (
	"slices"
	"testing"
	"time"
)

func TestTimerFlags(t *testing.T) {
	if got, want := ShortTimers.webFlags(), []string{"--offline-after", "4s", "--claim-timeout", "3s", "--dispatch-poll", "200ms"}; !slices.Equal(got, want) {
		t.Errorf("short web flags %q, want %q", got, want)
	}
	if got, want := ShortTimers.executorFlags(), []string{"--drain-timeout", "5s", "--heartbeat", "500ms", "--poll", "500ms"}; !slices.Equal(got, want) {
		t.Errorf("short executor flags %q, want %q", got, want)
	}
	// The daemons' own defaults: no timer flag but the drain timeout.
	if got := ProductionTimers.webFlags(); len(got) != 0 {
		t.Errorf("production web flags %q, want none", got)
	}
	if got, want := ProductionTimers.executorFlags(), []string{"--drain-timeout", "5s"}; !slices.Equal(got, want) {
		t.Errorf("production executor flags %q, want %q", got, want)
	}
	if ProductionTimers.offlineAfter() != ProductionOfflineAfter || ProductionTimers.claimTimeout() != ProductionClaimTimeout {
		t.Error("production timers do not report the daemons' defaults")
	}
	tm := ShortTimers
	tm.OfflineAfter = 3 * time.Second
	if tm.offlineAfter() != 3*time.Second {
		t.Errorf("offline after %s, want 3s", tm.offlineAfter())
	}
}

func TestOutputTail(t *testing.T) {
	o := &Output{}
	if got := o.Tail(3); got != nil {
		t.Fatalf("tail of nothing: %q", got)
	}
	o.Write([]byte("a\nb\nc\n"))
	if got := o.Tail(2); !slices.Equal(got, []string{"b", "c"}) {
		t.Fatalf("tail: %q", got)
	}
	if o.String() != "a\nb\nc\n" {
		t.Fatalf("String: %q", o.String())
	}
}
