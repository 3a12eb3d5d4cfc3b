package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/testcluster"
)

// TestAttemptCountsStarts: an execution's attempt, as exec show prints it,
// is how many times the flow started — 1 for a flow that ran once, however
// often it was dispatched before; 0 for one that never started — and
// executor_name is where it ran (none for a flow that never started).
func TestAttemptCountsStarts(t *testing.T) {
	c := testcluster.New(t)
	c.StartWeb()
	s := c.StartExecutor("s")
	c.StartExecutor("t")
	d := c.StartExecutor("d", "--drain-timeout", "2m")
	c.MustCLI("executor", "activate", "s")
	dir := t.TempDir()
	ledger, gate := filepath.Join(dir, "ledger"), filepath.Join(dir, "gate")
	c.MustCLI("project", "upload", writeProject(t, map[string]string{
		"one":  oneJob(`echo "${azkaban.flow.execid}" >> ` + ledger),
		"hold": oneJob(fmt.Sprintf("while [ ! -e %s ]; do sleep 0.05; done", gate)),
	}), "--name", "p")
	ranTimes := func(id int64) int {
		b, _ := os.ReadFile(ledger)
		n := 0
		for _, l := range strings.Fields(string(b)) {
			if l == strconv.FormatInt(id, 10) {
				n++
			}
		}
		return n
	}

	// Ran once, dispatched once.
	id := submit(t, c, "p", "one")
	e := waitStatus(t, c, id, 30*time.Second, "SUCCEEDED", "FAILED")
	if e.Status != "SUCCEEDED" || e.Attempt != 1 || e.ExecutorName != "s" {
		t.Fatalf("a flow that ran once: %s", toJSON(e))
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(c.MustCLI("exec", "show", strconv.FormatInt(id, 10), "-o", "json")), &raw); err != nil {
		t.Fatal(err)
	}
	if raw["attempt"] != float64(1) {
		t.Fatalf("exec show -o json: attempt %v, want 1: %v", raw["attempt"], raw)
	}

	// Dispatched to s, which is frozen and never claims; re-queued (a new
	// fencing attempt) and run on t: still attempt 1, and s, thawed, does
	// not run it again when it gets its late order.
	s.Freeze()
	id = submit(t, c, "p", "one")
	c.WaitFor(20*time.Second, "the flow dispatched to the frozen s", func() (bool, string) {
		e := showExec(c, id)
		return e.Status == "DISPATCHING" && e.ExecutorName == "s", toJSON(e)
	})
	c.MustCLI("executor", "activate", "t")
	e = waitStatus(t, c, id, 30*time.Second, "SUCCEEDED", "FAILED")
	if e.Status != "SUCCEEDED" || e.ExecutorName != "t" || e.Attempt != 1 {
		t.Fatalf("a flow re-queued away from a frozen executor and run once: %s", toJSON(e))
	}
	s.Thaw()
	waitHeartbeats(t, c, "s", 2, 30*time.Second)
	if e := showExec(c, id); e.Status != "SUCCEEDED" || e.ExecutorName != "t" || e.Attempt != 1 || ranTimes(id) != 1 {
		t.Fatalf("after the frozen executor came back: ran %d time(s); %s", ranTimes(id), toJSON(e))
	}

	// Never started: pinned to d while d drains, it is refused until the
	// dispatcher gives up. Attempt 0, no executor.
	hold := submit(t, c, "p", "hold", "--executor", "d")
	waitStatus(t, c, hold, 30*time.Second, "RUNNING")
	d.Signal(syscall.SIGTERM)
	waitExecutor(t, c, "d", "inactive while it drains", func(e executorJSON) bool { return !e.Active && e.Status == "online" })
	id = submit(t, c, "p", "one", "--executor", "d")
	e = waitStatus(t, c, id, 60*time.Second, "SUCCEEDED", "FAILED", "KILLED")
	if e.Status != "FAILED" || e.ExecutorName != "" || e.ExecutorID != nil || e.Attempt != 0 || e.Error == "" || ranTimes(id) != 0 {
		t.Fatalf("a flow that failed to dispatch (ran %d times): %s", ranTimes(id), toJSON(e))
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if e := waitStatus(t, c, hold, 30*time.Second, "SUCCEEDED", "FAILED", "KILLED"); e.Status != "SUCCEEDED" || e.Attempt != 1 {
		t.Fatalf("the flow d drained: %s", toJSON(e))
	}
	if code := d.ExitCode(); code != 0 {
		t.Fatalf("d exited %d after its drain", code)
	}
}
