package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/testcluster"
)

// TestActivationTakesEffectAtOnce runs the daemons with their default
// timers (5s heartbeats): an executor learns of its (de)activation long
// after the operator's command returns unless the claim itself asks the
// database. Flows submitted right after `executor activate` must run on the
// activated executors, without a single refusal, and flows submitted right
// after `executor deactivate` never on the deactivated one.
func TestActivationTakesEffectAtOnce(t *testing.T) {
	c := testcluster.New(t, func(o *testcluster.Options) { o.Timers = testcluster.ProductionTimers })
	c.StartWeb()
	for _, n := range []string{"a", "b", "late"} {
		c.StartExecutor(n)
	}
	c.MustCLI("project", "upload", writeProject(t, map[string]string{"one": oneJob("true")}), "--name", "p")

	const n = 20
	phase := func(what string, want ...string) {
		t.Helper()
		var ids []int64
		for i := 0; i < n; i++ {
			ids = append(ids, submit(t, c, "p", "one"))
		}
		got := waitAllEnded(t, c, ids, 60*time.Second, "SUCCEEDED")
		for _, id := range ids {
			e := got[id]
			ok := false
			for _, w := range want {
				ok = ok || e.ExecutorName == w
			}
			if !ok {
				t.Errorf("%s: execution %d ran on %q, want one of %v", what, id, e.ExecutorName, want)
			}
			if e.DispatchFailures != 0 || e.Attempt != 1 {
				t.Errorf("%s: execution %d: %d dispatch failure(s), attempt %d; want none and 1: %s", what, id, e.DispatchFailures, e.Attempt, toJSON(e))
			}
		}
		t.Logf("%s: %v", what, byExecutor(got, ids))
	}

	c.MustCLI("executor", "activate", "a", "b")
	phase("right after activating a and b", "a", "b")
	c.MustCLI("executor", "deactivate", "a")
	phase("right after deactivating a", "b")
	c.MustCLI("executor", "activate", "late")
	c.MustCLI("executor", "deactivate", "b")
	phase("right after activating late and deactivating b", "late")
}

// TestDeactivateWaitCountsTheDatabase: `executor deactivate REF --wait`
// waits for the executor's executions as the database has them, not for
// the count its last heartbeat reported (5s old at worst with the default
// timers), and says on stderr what it waits for.
func TestDeactivateWaitCountsTheDatabase(t *testing.T) {
	c := testcluster.New(t, func(o *testcluster.Options) { o.Timers = testcluster.ProductionTimers })
	c.StartWeb()
	c.StartExecutor("x")
	c.StartExecutor("y")
	c.MustCLI("executor", "activate", "x")
	gate := filepath.Join(t.TempDir(), "gate")
	c.MustCLI("project", "upload", writeProject(t, map[string]string{
		"hold": oneJob(fmt.Sprintf("while [ ! -e %s ]; do sleep 0.05; done", gate)),
	}), "--name", "p")

	// An idle executor: returns at once.
	if r := c.CLI("executor", "deactivate", "y", "--wait"); r.Code != 0 {
		t.Fatalf("deactivate --wait of an idle executor: %+v", r)
	}

	id := submit(t, c, "p", "hold")
	if e := waitStatus(t, c, id, 30*time.Second, "RUNNING"); e.ExecutorName != "x" {
		t.Fatalf("the flow runs on %q, want x", e.ExecutorName)
	}
	// At once, before x's next heartbeat can have counted the flow.
	w := c.CLIStart("executor", "deactivate", "x", "--wait")
	started := time.Now()
	// It keeps waiting while the flow runs, across a heartbeat of x (the
	// count that heartbeat carries must not matter), and says so.
	waitHeartbeats(t, c, "x", 1, 30*time.Second)
	c.WaitFor(30*time.Second, "deactivate --wait to report progress on stderr", func() (bool, string) {
		if w.Exited() {
			r := w.Result()
			t.Fatalf("deactivate --wait returned (exit %d) while execution %d still runs on x: %s\nstdout: %s\nstderr: %s",
				r.Code, id, toJSON(showExec(c, id)), r.Stdout, r.Stderr)
		}
		return regexp.MustCompile(`\bx\b`).MatchString(w.Stderr()), fmt.Sprintf("stderr so far: %q", w.Stderr())
	})
	if w.Exited() {
		t.Fatalf("deactivate --wait returned while execution %d still runs on x: %+v", id, w.Result())
	}
	if e := listExecutors(c)["x"]; e.Active {
		t.Fatalf("x still active while deactivate --wait runs: %s", toJSON(e))
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.Done():
	case <-time.After(60 * time.Second):
		t.Fatalf("deactivate --wait still waiting 60s after the flow was released; stderr: %s; execution: %s", w.Stderr(), toJSON(showExec(c, id)))
	}
	r := w.Result()
	// When it returns, the flow has ended in the database.
	if e := showExec(c, id); e.Status != "SUCCEEDED" {
		t.Fatalf("deactivate --wait returned (exit %d) with execution %d %s", r.Code, id, e.Status)
	}
	if r.Code != 0 || !strings.Contains(r.Stdout, "deactivated") {
		t.Fatalf("deactivate --wait: %+v", r)
	}
	t.Logf("deactivate --wait returned after %s; stderr:\n%s", time.Since(started).Round(time.Millisecond), r.Stderr)
}
