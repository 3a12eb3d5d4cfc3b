package testcluster

import (
	"os/exec"
	"strings"
	"testing"
	"time"
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

func TestProcAlive(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	if !ProcAlive(pid) {
		t.Fatal("a running sleep is not alive")
	}
	if g, ok := ProcGroup(pid); !ok || g <= 0 {
		t.Fatalf("process group of a running sleep: %d %v", g, ok)
	}
	_ = cmd.Process.Kill()
	// Not reaped yet: a zombie, which does not count as alive.
	WaitFor(t, 10*time.Second, "the killed sleep to be a zombie", func() (bool, string) {
		return !ProcAlive(pid), "still alive"
	})
	_ = cmd.Wait()
	if ProcAlive(pid) || ProcAlive(0) || ProcAlive(-1) {
		t.Fatal("a reaped process (or pid <= 0) is alive")
	}
}
