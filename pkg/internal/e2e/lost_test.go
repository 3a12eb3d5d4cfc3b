package e2e

import (
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

// jobGone waits until no process of the run (its shell, or anything left in
// its process group) is alive.
func jobGone(t *testing.T, c *testcluster.Cluster, w *liveWatch, r runMarker, timeout time.Duration, what string) {
	t.Helper()
	g := w.group(r.PID)
	c.WaitFor(timeout, what, func() (bool, string) {
		alive := testcluster.ProcAlive(r.PID) || (g > 0 && testcluster.GroupAlive(g))
		now := r
		for _, x := range readRuns(t, filepath.Dir(filepath.Dir(r.File)))[r.Exec] {
			if x.File == r.File {
				now = x
			}
		}
		return !alive, fmt.Sprintf("%s: shell alive %v, group %d alive %v", now, testcluster.ProcAlive(r.PID), g, g > 0 && testcluster.GroupAlive(g))
	})
}

// TestJobDiesWithItsExecutor: kill -9 of an executor kills its jobs within
// seconds; the reaper then fails the execution ("executor lost") and ends
// its job rows. With flow.retries the retry runs on another executor and
// never overlaps the first run.
func TestJobDiesWithItsExecutor(t *testing.T) {
	c, a, dir, w := markedCluster(t, func(dir string) map[string]string {
		return map[string]string{
			"pair":  markedPair(dir, "", forever),
			"retry": "config:\n  flow.retries: 1\n" + markedJob(dir, forever, forTicks(5)),
		}
	})

	// No retries: FAILED, "executor lost", nothing left running, job rows final.
	id := submit(t, c, "p", "pair")
	run := waitRuns(t, c, dir, id, 1, 30*time.Second)[0]
	c.WaitFor(5*time.Second, "the job's process group", func() (bool, string) { return w.group(run.PID) > 0, run.String() })
	waitJobRunning(t, c, id, 30*time.Second)
	a.Signal(syscall.SIGKILL)
	<-a.Done()
	jobGone(t, c, w, run, 8*time.Second, "the job of the killed executor to die")
	e := waitStatus(t, c, id, 30*time.Second, "FAILED", "SUCCEEDED", "KILLED")
	if e.Status != "FAILED" || !strings.Contains(e.Error, "executor lost") {
		t.Fatalf("execution of the killed executor: %s", toJSON(e))
	}
	checkJobsEnded(t, e)

	// flow.retries: 1 — the retry runs elsewhere, after the first run died.
	b := c.StartExecutor("b")
	c.MustCLI("executor", "activate", "b")
	id = submit(t, c, "p", "retry")
	first := waitRuns(t, c, dir, id, 1, 30*time.Second)[0]
	c.WaitFor(5*time.Second, "the job's process group", func() (bool, string) { return w.group(first.PID) > 0, first.String() })
	other := c.StartExecutor("c")
	c.MustCLI("executor", "activate", "c")
	b.Signal(syscall.SIGKILL)
	<-b.Done()
	jobGone(t, c, w, first, 8*time.Second, "the first run to die with its executor")
	e = waitStatus(t, c, id, 40*time.Second, "SUCCEEDED", "FAILED", "KILLED")
	if e.Status != "SUCCEEDED" || e.ExecutorName != "c" || e.Attempt != 2 {
		t.Fatalf("the retried execution: %s", toJSON(e))
	}
	checkJobsEnded(t, execDetailOf(c, id).execJSON)
	runs := readRuns(t, dir)[strconv.FormatInt(id, 10)]
	if len(runs) != 2 || runs[0].Ended || !runs[1].Ended || !runs[0].ranOn(b) || !runs[1].ranOn(other) {
		t.Fatalf("want a killed run on b, then a complete one on c; got %v", runs)
	}
	checkNoOverlap(t, readRuns(t, dir))
	w.check(t)
}

// jobSupervisor returns the pid of the executor's serving job supervisor.
func jobSupervisor(t *testing.T, c *testcluster.Cluster, executor int) int {
	t.Helper()
	var pid int
	c.WaitFor(5*time.Second, "the executor's job supervisor", func() (bool, string) {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			p, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			if !strings.Contains(string(cmd), "\x00-serve\x00") {
				continue
			}
			st, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
			i := strings.LastIndexByte(string(st), ')')
			if f := strings.Fields(string(st[i+1:])); i > 0 && len(f) > 1 && f[1] == strconv.Itoa(executor) {
				pid = p
				return true, ""
			}
		}
		return false, "none found"
	})
	return pid
}

// TestJobDiesWithItsSupervisor: an executor whose job supervisor is killed
// (as by the OOM killer) kills the jobs that ran under it and fails them,
// saying so; the next job runs under a new supervisor.
func TestJobDiesWithItsSupervisor(t *testing.T) {
	c, a, dir, w := markedCluster(t, func(dir string) map[string]string {
		return map[string]string{
			"one": markedJob(dir, "", forever),
			"ok":  oneJob("true"),
		}
	})

	id := submit(t, c, "p", "one")
	run := waitRuns(t, c, dir, id, 1, 30*time.Second)[0]
	c.WaitFor(5*time.Second, "the job's process group", func() (bool, string) { return w.group(run.PID) > 0, run.String() })
	waitJobRunning(t, c, id, 30*time.Second)
	sup := jobSupervisor(t, c, a.Pid())
	if err := syscall.Kill(sup, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	jobGone(t, c, w, run, 5*time.Second, "the job of the killed supervisor to die")
	e := waitStatus(t, c, id, 30*time.Second, "FAILED", "SUCCEEDED", "KILLED")
	if e.Status != "FAILED" {
		t.Fatalf("execution whose supervisor was killed: %s", toJSON(e))
	}
	if !strings.Contains(e.Error, "job supervisor died") || len(e.Jobs) != 1 || e.Jobs[0].Status != "FAILED" {
		t.Errorf("execution whose supervisor was killed: %s", toJSON(e))
	}
	checkJobsEnded(t, e)

	next := submit(t, c, "p", "ok")
	if e := waitStatus(t, c, next, 30*time.Second, "FAILED", "SUCCEEDED", "KILLED"); e.Status != "SUCCEEDED" || e.ExecutorName != "a" {
		t.Fatalf("the next execution: %s", toJSON(e))
	}
	if now := jobSupervisor(t, c, a.Pid()); now == sup {
		t.Errorf("the killed supervisor %d is still there", sup)
	}
	w.check(t)
}

func execDetailOf(c *testcluster.Cluster, id int64) execDetail {
	var e execDetail
	c.Read(&e, execution(id))
	return e
}

// TestLeaseStopsAFrozenExecutorsJobs: an executor that cannot heartbeat
// (here: frozen by SIGSTOP) past its lease has its jobs killed even though
// it cannot run itself, before the reaper lets the flow run elsewhere; once
// thawed it does not record its outcome over the re-run, nor start anything.
func TestLeaseStopsAFrozenExecutorsJobs(t *testing.T) {
	c := testcluster.New(t)
	c.StartWeb()
	f := c.StartExecutor("frozen")
	spare := c.StartExecutor("spare")
	c.MustCLI("executor", "activate", "frozen")
	dir := t.TempDir()
	w := watchRuns(t, c, dir)
	c.MustCLI("project", "upload", writeProject(t, map[string]string{
		"retry": "config:\n  flow.retries: 1\n" + markedJob(dir, forever, forTicks(10)),
	}), "--name", "p")

	id := submit(t, c, "p", "retry")
	waitStatus(t, c, id, 30*time.Second, "RUNNING")
	first := waitRuns(t, c, dir, id, 1, 30*time.Second)[0]
	c.WaitFor(5*time.Second, "the job's process group", func() (bool, string) { return w.group(first.PID) > 0, first.String() })
	c.MustCLI("executor", "activate", "spare")

	f.Freeze()
	frozen := time.Now()
	// The lease (2/3 of the offline threshold) ends the job while the
	// executor is still frozen, and before any re-run starts.
	jobGone(t, c, w, first, 3*c.Offline, "the frozen executor's job to be killed by its lease")
	t.Logf("the frozen executor's job died %s after the freeze (lease %s)", time.Since(frozen).Round(time.Millisecond), c.Offline*2/3)

	e := waitStatus(t, c, id, 40*time.Second, "SUCCEEDED", "FAILED", "KILLED")
	if e.Status != "SUCCEEDED" || e.ExecutorName != "spare" || e.Attempt != 2 {
		t.Fatalf("the re-run: %s", toJSON(e))
	}

	f.Thaw()
	waitHeartbeats(t, c, "frozen", 3, 30*time.Second)
	e = waitStatus(t, c, id, time.Second, "SUCCEEDED")
	if e.ExecutorName != "spare" || e.Attempt != 2 || e.Error != "" {
		t.Fatalf("after the frozen executor came back: %s", toJSON(e))
	}
	checkJobsEnded(t, e)
	runs := readRuns(t, dir)[strconv.FormatInt(id, 10)]
	if len(runs) != 2 || runs[0].Ended || !runs[1].Ended || !runs[0].ranOn(f) || !runs[1].ranOn(spare) {
		t.Fatalf("want a killed run on frozen, then a complete one on spare; got %v", runs)
	}
	checkNoOverlap(t, readRuns(t, dir))
	w.check(t)
	if testcluster.ProcAlive(first.PID) {
		t.Fatalf("the frozen executor's job (pid %d) is alive again", first.PID)
	}
}

// TestJobRowsEndWithTheirExecution: however an execution ends — cancelled,
// killed by a drain, failed by the reaper while its executor was frozen and
// then fenced off — none of its job rows is left READY or RUNNING, and the
// stale executor does not change them when it comes back.
func TestJobRowsEndWithTheirExecution(t *testing.T) {
	c := testcluster.New(t)
	c.StartWeb()
	k := c.StartExecutor("k")
	d := c.StartExecutor("d", "--drain-timeout", "1s")
	z := c.StartExecutor("z")
	dir := t.TempDir()
	w := watchRuns(t, c, dir)
	c.MustCLI("project", "upload", writeProject(t, map[string]string{"pair": markedPair(dir, "", forever)}), "--name", "p")

	// Pinned, so each runs where the test wants it (pinned flows may use
	// an inactive executor).
	ids := map[string]int64{}
	runs := map[string]runMarker{}
	for _, p := range []*testcluster.Proc{k, d, z} {
		ids[p.Name] = submit(t, c, "p", "pair", "--executor", p.Name)
	}
	for _, p := range []*testcluster.Proc{k, d, z} {
		runs[p.Name] = waitRuns(t, c, dir, ids[p.Name], 1, 30*time.Second)[0]
		waitJobRunning(t, c, ids[p.Name], 30*time.Second)
	}

	// Cancel.
	c.MustCLI("exec", "cancel", strconv.FormatInt(ids["k"], 10))
	e := waitStatus(t, c, ids["k"], 30*time.Second, "KILLED", "FAILED", "SUCCEEDED")
	if e.Status != "KILLED" {
		t.Fatalf("cancelled: %s", toJSON(e))
	}
	checkJobsEnded(t, e)
	jobGone(t, c, w, runs["k"], 10*time.Second, "the cancelled job to die")

	// Drain timeout.
	d.Signal(syscall.SIGTERM)
	if code := d.ExitCode(); code != 0 {
		t.Errorf("d exited %d after SIGTERM", code)
	}
	e = waitStatus(t, c, ids["d"], 30*time.Second, "KILLED", "FAILED", "SUCCEEDED")
	if e.Status != "KILLED" || !strings.Contains(e.Error, "drain") {
		t.Fatalf("killed by the drain: %s", toJSON(e))
	}
	checkJobsEnded(t, e)
	jobGone(t, c, w, runs["d"], 10*time.Second, "the drained job to die")

	// Reaped while frozen, then fenced off when it comes back.
	z.Freeze()
	e = waitStatus(t, c, ids["z"], 30*time.Second, "FAILED", "KILLED", "SUCCEEDED")
	if e.Status != "FAILED" || !strings.Contains(e.Error, "executor lost") {
		t.Fatalf("reaped: %s", toJSON(e))
	}
	checkJobsEnded(t, e)
	z.Thaw()
	waitHeartbeats(t, c, "z", 3, 30*time.Second)
	jobGone(t, c, w, runs["z"], 10*time.Second, "the fenced job to die")
	e = showExec(c, ids["z"])
	if e.Status != "FAILED" || !strings.Contains(e.Error, "executor lost") {
		t.Fatalf("after the fenced executor came back: %s", toJSON(e))
	}
	checkJobsEnded(t, e)
	w.check(t)
}

// markedCluster starts a web server and one active executor "a", watches
// the run markers under a fresh directory, and uploads project p with the
// flows that flows returns for that directory.
func markedCluster(t *testing.T, flows func(dir string) map[string]string) (*testcluster.Cluster, *testcluster.Proc, string, *liveWatch) {
	t.Helper()
	c := testcluster.New(t)
	c.StartWeb()
	a := c.StartExecutor("a")
	c.MustCLI("executor", "activate", "a")
	dir := t.TempDir()
	w := watchRuns(t, c, dir)
	c.MustCLI("project", "upload", writeProject(t, flows(dir)), "--name", "p")
	return c, a, dir, w
}
