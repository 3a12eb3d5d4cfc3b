package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/supervise"
)

// proc identifies a process by pid and start time (field 22 of its stat).
type proc struct {
	name  string
	pid   int
	start string
}

// procStat returns the state letter and start time of a process.
func procStat(pid int) (state, start string, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", "", false
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return "", "", false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return "", "", false
	}
	return f[0], f[19], true
}

// recordProc waits for a job to write a pid file and returns that process,
// which must be running.
func recordProc(t *testing.T, ex Execution, name string) proc {
	t.Helper()
	path := inDir(ex, name)
	eventually(t, "pid file "+name, func() bool { return exists(path) })
	pid, err := strconv.Atoi(readTrim(t, path))
	if err != nil {
		t.Fatal(err)
	}
	state, start, ok := procStat(pid)
	if !ok || state == "Z" {
		t.Fatalf("%s: process %d is not running", name, pid)
	}
	return proc{name: name, pid: pid, start: start}
}

// expectDead checks that every process is gone: no process with its pid
// and start time, not even a zombie.
func expectDead(t *testing.T, ps ...proc) {
	t.Helper()
	for _, p := range ps {
		state, start, ok := procStat(p.pid)
		switch {
		case !ok || start != p.start:
		case state == "Z":
			t.Errorf("%s (pid %d) is a zombie", p.name, p.pid)
		default:
			t.Errorf("%s (pid %d) is still running, state %s", p.name, p.pid, state)
		}
	}
}

// daemonJob starts a setsid daemon that ignores SIGTERM and whose parent
// exits, and a double-forked child, records their pids and the shell's,
// then waits for the file release.
const daemonJob = `
setsid sh -c 'trap "" TERM; sleep 300 & echo $! > d1.tmp && mv d1.tmp d1.pid'
(sleep 300 & echo $! > d2.tmp && mv d2.tmp d2.pid)
echo $$ > sh.tmp && mv sh.tmp sh.pid
`

func TestDaemonsDoNotOutliveTheirJob(t *testing.T) { bothModes(t, testDaemonsDoNotOutliveTheirJob) }

func testDaemonsDoNotOutliveTheirJob(t *testing.T, perJob bool) {
	for _, end := range []string{"exit", "cancel", "timeout"} {
		t.Run(end, func(t *testing.T) {
			t.Parallel()
			job := command("a", daemonJob+waitFor("release"))
			if end == "timeout" {
				job = withConfig(job, "timeout", "2s")
			}
			ex := newExecution(t, job)
			ex.KillGrace = 300 * time.Millisecond
			ownPool(t, &ex, perJob)
			rec := newRecorder()
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			done := make(chan Result, 1)
			go func() { done <- Run(ctx, ex, rec) }()

			ps := []proc{recordProc(t, ex, "d1.pid"), recordProc(t, ex, "d2.pid"), recordProc(t, ex, "sh.pid")}
			switch end {
			case "exit":
				touch(t, inDir(ex, "release"))
			case "cancel":
				cancel(errors.New("operator cancelled"))
			}
			var res Result
			select {
			case res = <-done:
			case <-time.After(15 * time.Second):
				t.Fatal("Run did not return")
			}
			want := map[string]string{
				"exit":    "SUCCEEDED ",
				"cancel":  "KILLED operator cancelled",
				"timeout": `FAILED job "a" failed: timed out after 2s`,
			}[end]
			if got := res.Status + " " + res.Error; got != want {
				t.Errorf("result %q, want %q; flow log:\n%s", got, want, rec.flowText())
			}
			expectDead(t, ps...)
		})
	}
}

func TestLeaseExpiryKillsRunningJob(t *testing.T) { bothModes(t, testLeaseExpiryKillsRunningJob) }

func testLeaseExpiryKillsRunningJob(t *testing.T, perJob bool) {
	ex := newExecution(t,
		command("a", `trap "" TERM; echo $$ > sh.tmp && mv sh.tmp sh.pid; sleep 300`),
		command("b", "true", "a"),
	)
	ex.LeaseFile = filepath.Join(t.TempDir(), "lease")
	if err := supervise.WriteLease(ex.LeaseFile, supervise.Now()+int64(time.Hour)); err != nil {
		t.Fatal(err)
	}
	ownPool(t, &ex, perJob)
	rec := newRecorder()
	done := make(chan Result, 1)
	go func() { done <- run(t, ex, rec) }()
	sh := recordProc(t, ex, "sh.pid")
	expired := time.Now()
	if err := supervise.WriteLease(ex.LeaseFile, supervise.Now()-1); err != nil {
		t.Fatal(err)
	}
	res := <-done
	if took := time.Since(expired); took > 3*time.Second {
		t.Errorf("Run returned %s after the lease expired", took)
	}
	rec.expectStatuses(t, map[string]JobStatus{"a": Killed, "b": Cancelled})
	if u := rec.last(t, "a"); u.Error != "executor lease expired" || u.ExitCode != nil {
		t.Errorf("a: %+v", u)
	}
	if res.Status != "FAILED" || !strings.Contains(res.Error, "executor lease expired") {
		t.Errorf("result %+v", res)
	}
	expectDead(t, sh)
}

func TestExpiredLeaseStartsNothing(t *testing.T) { bothModes(t, testExpiredLeaseStartsNothing) }

func testExpiredLeaseStartsNothing(t *testing.T, perJob bool) {
	ex := newExecution(t, withConfig(command("a", "touch ran"), "retries", "2"))
	ex.LeaseFile = filepath.Join(t.TempDir(), "lease")
	if err := supervise.WriteLease(ex.LeaseFile, supervise.Now()-1); err != nil {
		t.Fatal(err)
	}
	ownPool(t, &ex, perJob)
	rec := newRecorder()
	run(t, ex, rec)
	rec.expectStatuses(t, map[string]JobStatus{"a": Killed})
	if u := rec.last(t, "a"); u.Error != "not started: executor lease expired" || u.Attempt != 0 {
		t.Errorf("a: %+v", u)
	}
	if exists(inDir(ex, "ran")) {
		t.Error("the job ran")
	}
}

func TestStateDirRecordsRunningJobs(t *testing.T) { bothModes(t, testStateDirRecordsRunningJobs) }

func testStateDirRecordsRunningJobs(t *testing.T, perJob bool) {
	ex := newExecution(t, command("a", `echo $$ > sh.tmp && mv sh.tmp sh.pid; `+waitFor("release")))
	ex.StateDir = filepath.Join(t.TempDir(), "supervisors")
	ownPool(t, &ex, perJob)
	rec := newRecorder()
	done := make(chan Result, 1)
	go func() { done <- run(t, ex, rec) }()
	sh := recordProc(t, ex, "sh.pid")
	eventually(t, "a record of the running job", func() bool {
		entries, _ := os.ReadDir(ex.StateDir)
		return len(entries) == 1
	})
	touch(t, inDir(ex, "release"))
	if res := <-done; res.Status != "SUCCEEDED" {
		t.Fatalf("result %+v", res)
	}
	if entries, _ := os.ReadDir(ex.StateDir); len(entries) != 0 {
		t.Errorf("records left: %v", entries)
	}
	expectDead(t, sh)
}

func TestMissingSupervisorFailsJob(t *testing.T) {
	t.Parallel()
	ex := newExecution(t, command("a", "true"))
	ex.Supervisor = filepath.Join(t.TempDir(), "no-such-binary")
	for _, perJob := range []bool{false, true} {
		ownPool(t, &ex, perJob)
		rec := newRecorder()
		res := run(t, ex, rec)
		if res.Status != "FAILED" || !strings.Contains(res.Error, "cannot start command") {
			t.Errorf("per job %v: result %+v", perJob, res)
		}
	}
}

func TestProcessNotStartedAfterCancel(t *testing.T) {
	t.Parallel()
	ex := newExecution(t, command("a", "true"))
	r, err := newRunner(context.Background(), ex, discardReporter{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out strings.Builder
	p := r.runProcess(ctx, "a", "echo ran > ran", ex.WorkDir, os.Environ(), &out)
	if !p.interrupted || p.exitCode != nil {
		t.Errorf("result %+v", p)
	}
	if exists(inDir(ex, "ran")) {
		t.Error("the command ran")
	}
}
