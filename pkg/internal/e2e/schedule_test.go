package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/testcluster"
)

type scheduleJSON struct {
	ID           int64       `json:"id"`
	Paused       bool        `json:"paused"`
	NextFires    []time.Time `json:"next_fires"`
	LastStatus   string      `json:"last_status"`
	FiredCount   int64       `json:"fired_count"`
	SkippedCount int64       `json:"skipped_count"`
}

type schedExec struct {
	ID            int64      `json:"id"`
	Status        string     `json:"status"`
	ScheduleID    *int64     `json:"schedule_id"`
	ScheduledTime *time.Time `json:"scheduled_time"`
}

func addSchedule(t *testing.T, c *testcluster.Cluster, args ...string) int64 {
	t.Helper()
	var sc scheduleJSON
	c.JSON(&sc, append([]string{"schedule", "add"}, args...)...)
	if sc.ID == 0 || len(sc.NextFires) != 3 {
		t.Fatalf("schedule add: %+v", sc)
	}
	return sc.ID
}

// runsOf lists the executions a schedule submitted.
func runsOf(c *testcluster.Cluster, id int64) []schedExec {
	var all []schedExec
	c.Read(&all, executions("", 1000))
	var out []schedExec
	for _, e := range all {
		if e.ScheduleID != nil && *e.ScheduleID == id {
			out = append(out, e)
		}
	}
	return out
}

// dbNow reads the database clock, through one connection pool per test.
func dbNow(t *testing.T, c *testcluster.Cluster) time.Time {
	t.Helper()
	clocksMu.Lock()
	db, ok := clocks[t]
	if !ok {
		db = openDB(t, c.DSN)
		clocks[t] = db
		t.Cleanup(func() { clocksMu.Lock(); delete(clocks, t); clocksMu.Unlock() })
	}
	clocksMu.Unlock()
	now, err := db.s.Now(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return now
}

var (
	clocksMu sync.Mutex
	clocks   = map[*testing.T]*sqlDB{}
)

func TestScheduleFiresPausesResumesAndIsRemoved(t *testing.T) {
	c := testcluster.New(t)
	c.StartWeb()
	c.StartExecutor("s")
	c.MustCLI("executor", "activate", "s")
	c.MustCLI("project", "upload", writeProject(t, map[string]string{"tick": oneJob("true")}), "--name", "p")
	id := addSchedule(t, c, "p", "tick", "--cron", "*/1 * * * * ?", "--concurrent", "ignore")

	start := dbNow(t, c)
	c.WaitFor(20*time.Second, "five runs", func() (bool, string) {
		n := len(runsOf(c, id))
		return n >= 5, fmt.Sprintf("%d runs", n)
	})
	elapsed := dbNow(t, c).Sub(start)
	runs := runsOf(c, id)
	// About once per second: never more runs than seconds elapsed (+1 for the edge).
	if float64(len(runs)) > elapsed.Seconds()+1.5 {
		t.Fatalf("%d runs in %s: more than one per second", len(runs), elapsed)
	}
	seen := map[int64]bool{}
	for _, r := range runs {
		if r.ScheduledTime == nil || r.ScheduledTime.Nanosecond() != 0 || seen[r.ScheduledTime.Unix()] {
			t.Fatalf("bad or repeated fire time in %+v", runs)
		}
		seen[r.ScheduledTime.Unix()] = true
	}
	// The newest run may still be running: wait until the list shows one
	// that ended.
	c.WaitFor(10*time.Second, "schedule list to show the schedule and a succeeded last execution", func() (bool, string) {
		table := c.MustCLI("schedule", "list")
		return strings.Contains(table, "*/1 * * * * ?") && strings.Contains(table, "SUCCEEDED"), table
	})

	c.MustCLI("schedule", "pause", strconv.FormatInt(id, 10))
	paused := len(runsOf(c, id))
	pausedAt := dbNow(t, c)
	c.WaitFor(10*time.Second, "three seconds of pause", func() (bool, string) {
		return dbNow(t, c).Sub(pausedAt) > 3*time.Second, ""
	})
	if n := len(runsOf(c, id)); n > paused {
		t.Fatalf("%d runs while paused", n-paused)
	}
	c.MustCLI("schedule", "resume", strconv.FormatInt(id, 10))
	c.WaitFor(10*time.Second, "runs after resume", func() (bool, string) {
		n := len(runsOf(c, id))
		return n >= paused+2, fmt.Sprintf("%d runs", n)
	})
	c.MustCLI("schedule", "rm", strconv.FormatInt(id, 10))
	removed := len(runsOf(c, id))
	removedAt := dbNow(t, c)
	c.WaitFor(10*time.Second, "two seconds after rm", func() (bool, string) {
		return dbNow(t, c).Sub(removedAt) > 2*time.Second, ""
	})
	if n := len(runsOf(c, id)); n > removed {
		t.Fatalf("%d runs after rm", n-removed)
	}
	if r := c.CLI("schedule", "show", strconv.FormatInt(id, 10)); r.Code != 2 {
		t.Fatalf("show of a removed schedule: %+v", r)
	}
	// Bad expressions name the field.
	r := c.CLI("schedule", "add", "p", "tick", "--cron", "0 0 25 * * ?")
	if r.Code != 2 || !strings.Contains(r.Stderr, "hour") {
		t.Fatalf("bad cron: %+v", r)
	}
}

func TestScheduleFiresOnceAcrossWebServers(t *testing.T) {
	c := testcluster.New(t)
	c.StartWeb()
	c.StartWeb()
	c.StartExecutor("s")
	c.MustCLI("executor", "activate", "s")
	c.MustCLI("project", "upload", writeProject(t, map[string]string{"tick": oneJob("true")}), "--name", "p")
	id := addSchedule(t, c, "p", "tick", "--cron", "* * * * * ?", "--concurrent", "ignore")
	start := dbNow(t, c)
	c.WaitFor(30*time.Second, "ten seconds of firing", func() (bool, string) {
		return dbNow(t, c).Sub(start) > 10*time.Second, ""
	})
	c.MustCLI("schedule", "pause", strconv.FormatInt(id, 10))
	runs := runsOf(c, id)
	seen := map[int64]int{}
	for _, r := range runs {
		seen[r.ScheduledTime.Unix()]++
	}
	for ts, n := range seen {
		if n != 1 {
			t.Fatalf("fire time %s produced %d executions", time.Unix(ts, 0).UTC(), n)
		}
	}
	if len(seen) < 8 {
		t.Fatalf("only %d fire times in 10 s", len(seen))
	}
}

func TestMisfirePolicies(t *testing.T) {
	c := testcluster.New(t)
	web := c.StartWeb("--misfire-threshold", "1s")
	c.StartExecutor("s")
	c.MustCLI("executor", "activate", "s")
	c.MustCLI("project", "upload", writeProject(t, map[string]string{"a": oneJob("true"), "b": oneJob("true")}), "--name", "p")
	once := addSchedule(t, c, "p", "a", "--cron", "* * * * * ?", "--concurrent", "ignore", "--misfire", "fire-once")
	skip := addSchedule(t, c, "p", "b", "--cron", "* * * * * ?", "--concurrent", "ignore", "--misfire", "skip")
	c.WaitFor(20*time.Second, "both schedules running", func() (bool, string) {
		return len(runsOf(c, once)) > 0 && len(runsOf(c, skip)) > 0, ""
	})

	web.Signal(syscall.SIGTERM)
	<-web.Done()
	db := openDB(t, c.DSN)
	latest := func(id int64) time.Time {
		var last time.Time
		for _, r := range runsOfDB(t, db, id) {
			if r.After(last) {
				last = r
			}
		}
		return last
	}
	beforeOnce, beforeSkip := latest(once), latest(skip)
	stopped := dbNow(t, c)
	c.WaitFor(15*time.Second, "three fire times to pass with no web server", func() (bool, string) {
		return dbNow(t, c).Sub(stopped) > 3500*time.Millisecond, ""
	})
	restart := dbNow(t, c)
	c.Restart(web)
	c.WaitFor(20*time.Second, "both schedules back", func() (bool, string) {
		return latest(once).After(restart) && latest(skip).After(restart), ""
	})
	count := func(id int64, after time.Time) int {
		n := 0
		for _, ts := range runsOfDB(t, db, id) {
			if ts.After(after) && ts.Before(restart) {
				n++
			}
		}
		return n
	}
	if n := count(once, beforeOnce); n != 1 {
		t.Fatalf("fire-once: %d runs for the fire times missed while down, want 1", n)
	}
	if n := count(skip, beforeSkip); n != 0 {
		t.Fatalf("skip: %d runs for the fire times missed while down, want 0", n)
	}
	var sc scheduleJSON
	c.Read(&sc, schedule(skip))
	if sc.SkippedCount == 0 {
		t.Fatalf("skip policy recorded nothing: %+v", sc)
	}
}

// runsOfDB reads the fire times of a schedule's executions straight from the
// database (the web server may be down).
func runsOfDB(t *testing.T, db *sqlDB, id int64) []time.Time {
	t.Helper()
	list, err := db.s.ListExecutions(context.Background(), storeFilter())
	if err != nil {
		t.Fatal(err)
	}
	var out []time.Time
	for _, e := range list {
		if e.ScheduleID != nil && *e.ScheduleID == id && e.ScheduledTime != nil {
			out = append(out, *e.ScheduledTime)
		}
	}
	return out
}

func TestScheduleSkipsWhileRunning(t *testing.T) {
	c := testcluster.New(t)
	c.StartWeb()
	c.StartExecutor("s")
	c.MustCLI("executor", "activate", "s")
	gate := filepath.Join(t.TempDir(), "gate")
	c.MustCLI("project", "upload", writeProject(t, map[string]string{"long": oneJob(fmt.Sprintf("while [ ! -e %s ]; do sleep 0.05; done", gate))}), "--name", "p")
	id := addSchedule(t, c, "p", "long", "--cron", "* * * * * ?") // concurrent skip is the default
	c.WaitFor(20*time.Second, "three skipped fire times", func() (bool, string) {
		var sc scheduleJSON
		c.Read(&sc, schedule(id))
		return sc.SkippedCount >= 3, toJSON(sc)
	})
	if n := len(runsOf(c, id)); n != 1 {
		t.Fatalf("%d executions piled up, want 1", n)
	}
	var sc scheduleJSON
	c.Read(&sc, schedule(id))
	if !strings.Contains(sc.LastStatus, "still") {
		t.Fatalf("last status %q does not say the flow is still running", sc.LastStatus)
	}
	c.MustCLI("schedule", "pause", strconv.FormatInt(id, 10))
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCLIUnderCron runs the CLI as cron does: empty environment, stdout to a
// file, no terminal.
func TestCLIUnderCron(t *testing.T) {
	c := testcluster.New(t)
	c.StartWeb()
	c.StartExecutor("s")
	c.MustCLI("executor", "activate", "s")
	c.MustCLI("project", "upload", writeProject(t, map[string]string{"ok": oneJob("echo fine"), "bad": oneJob("exit 7")}), "--name", "p")
	run := func(args ...string) (int, string) {
		t.Helper()
		out := filepath.Join(t.TempDir(), "out")
		f, err := os.Create(out)
		if err != nil {
			t.Fatal(err)
		}
		// A crontab sets the token as a variable; nothing else is inherited.
		cmd := exec.Command("env", append([]string{"-i", "CRAWLCTL_TOKEN=" + c.Token, c.Bin}, args...)...)
		cmd.Stdout, cmd.Stderr = f, f
		err = cmd.Run()
		f.Close()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(out)
		if strings.ContainsAny(string(b), "\x1b\r") {
			t.Fatalf("terminal control characters in cron output: %q", b)
		}
		return code, string(b)
	}
	if code, out := run("flow", "run", "p", "ok", "--wait", "--server", c.Server()); code != 0 || !strings.Contains(out, "SUCCEEDED") {
		t.Fatalf("ok: %d %q", code, out)
	}
	if code, out := run("flow", "run", "p", "ok", "--wait", "-q", "--server", c.Server()); code != 0 || out != "" {
		t.Fatalf("-q: %d %q", code, out)
	}
	if code, out := run("flow", "run", "p", "bad", "--wait", "--server", c.Server()); code != 1 || !strings.Contains(out, "exit code 7") {
		t.Fatalf("bad: %d %q", code, out)
	}
	if code, out := run("flow", "run", "p", "ok", "--wait", "--server", "http://127.0.0.1:1", "--connect-timeout", "2s"); code != 3 || !strings.Contains(out, "cannot reach") {
		t.Fatalf("unreachable: %d %q", code, out)
	}
}
