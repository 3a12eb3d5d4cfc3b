package testcluster

import (
	"strings"
	"testing"
)

func TestRaceReports(t *testing.T) {
	log := `{"level":"info","message":"started"}
==================
WARNING: DATA RACE
Write at 0x00c000123 by goroutine 7:
  main.f()
Previous read at 0x00c000123 by goroutine 6:
  main.g()
==================
{"level":"info","message":"between"}
==================
WARNING: DATA RACE
Read at 0x00c000456 by goroutine 9:
  main.h()
==================
Found 2 data race(s)
`
	got := RaceReports(log)
	if len(got) != 2 {
		t.Fatalf("found %d reports, want 2: %q", len(got), got)
	}
	if !strings.Contains(got[0], "main.f()") || !strings.Contains(got[0], "main.g()") || strings.Contains(got[0], "main.h()") {
		t.Fatalf("first report: %q", got[0])
	}
	if !strings.HasPrefix(got[1], "==================\nWARNING: DATA RACE") || !strings.Contains(got[1], "main.h()") || strings.Contains(got[1], "between") {
		t.Fatalf("second report: %q", got[1])
	}
	if RaceReports(`{"level":"info","message":"no race here"}`) != nil {
		t.Fatal("found a race in a clean log")
	}
	// A report cut short (the process was killed mid-write) still counts.
	if got := RaceReports("WARNING: DATA RACE\nWrite at"); len(got) != 1 {
		t.Fatalf("truncated report: %q", got)
	}
}
