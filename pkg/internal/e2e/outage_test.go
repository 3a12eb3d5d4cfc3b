package e2e

import (
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/testcluster"
)

// TestExecutorSurvivesDatabaseOutage stops a private MariaDB under a running
// web server and executor, and checks that the executor keeps running, says
// what is wrong, and recovers by itself when the database comes back.
func TestExecutorSurvivesDatabaseOutage(t *testing.T) {
	db := testcluster.StartMariaDB(t)
	t.Setenv("CRAWLCTL_TEST_MYSQL_DSN", db.ServerDSN())
	c := testcluster.New(t, func(o *testcluster.Options) { o.Timers.OfflineAfter = 3 * time.Second })
	c.StartWeb()
	ex := c.StartExecutor("steady")
	c.MustCLI("executor", "activate", "steady")
	waitExecutor(t, c, "steady", "online", func(e executorJSON) bool { return e.Status == "online" })

	db.Stop()
	c.WaitFor(20*time.Second, "the executor to report the outage", func() (bool, string) {
		return strings.Contains(ex.Log.String(), "heartbeat failed"), "no heartbeat failure logged yet"
	})
	select {
	case <-ex.Done():
		t.Fatalf("executor exited during the outage:\n%s", ex.Log.String())
	default:
	}
	if r := c.CLI("executor", "list"); r.Code != 3 {
		t.Fatalf("executor list during the outage: exit %d (%s), want 3", r.Code, r.Stderr)
	}

	db.Start()
	waitExecutor(t, c, "steady", "online again", func(e executorJSON) bool { return e.Status == "online" && e.Active })
	c.WaitFor(20*time.Second, "the executor to log its recovery", func() (bool, string) {
		return strings.Contains(ex.Log.String(), "heartbeat recovered"), "not yet"
	})
	// And it still runs work.
	c.MustCLI("project", "upload", writeProject(t, map[string]string{"one": oneJob("true")}), "--name", "p")
	id := submit(t, c, "p", "one")
	waitStatus(t, c, id, 30*time.Second, "SUCCEEDED")
}

// TestGracefulStopDrains: SIGTERM lets a short flow finish, and kills one
// that outlives --drain-timeout with the reason.
func TestGracefulStopDrains(t *testing.T) {
	c := testcluster.New(t)
	c.StartWeb()
	ex := c.StartExecutor("drainer", "--drain-timeout", "3s")
	c.MustCLI("executor", "activate", "drainer")
	c.MustCLI("project", "upload", writeProject(t, map[string]string{
		"short": oneJob("sleep 1"),
		"long":  oneJob("sleep 300"),
	}), "--name", "p")
	short := submit(t, c, "p", "short")
	long := submit(t, c, "p", "long")
	waitStatus(t, c, short, 20*time.Second, "RUNNING")
	waitStatus(t, c, long, 20*time.Second, "RUNNING")
	ex.Signal(syscall.SIGTERM)
	// No new work once stopping.
	waitExecutor(t, c, "drainer", "inactive", func(e executorJSON) bool { return !e.Active })
	if code := ex.ExitCode(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	if e := showExec(c, short); e.Status != "SUCCEEDED" {
		t.Fatalf("the short flow did not finish during the drain: %+v", e)
	}
	e := showExec(c, long)
	if e.Status != "KILLED" || !strings.Contains(e.Error, "drain timeout") {
		t.Fatalf("the long flow after the drain: %s %q", e.Status, e.Error)
	}
	if out := c.MustCLI("exec", "show", strconv.FormatInt(long, 10)); !strings.Contains(out, "KILLED") {
		t.Fatalf("exec show: %s", out)
	}
	waitExecutor(t, c, "drainer", "stopped", func(e executorJSON) bool { return e.Status == "stopped" })
}
