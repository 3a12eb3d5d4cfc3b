//go:build linux

package supervise

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// newPool returns a pool closed when the test ends.
func newPool(t *testing.T, o Options) *Pool {
	t.Helper()
	p := NewPool("", o)
	t.Cleanup(func() { p.Close() })
	return p
}

// startIn starts script with /bin/sh -c in dir through p, its output going
// to dir/out.
func startIn(t *testing.T, p *Pool, dir, script string) *Job {
	t.Helper()
	out, err := os.Create(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	j, err := p.Start(dir, nil, out, out, "/bin/sh", "-c", script)
	if err != nil {
		t.Fatal(err)
	}
	if j.srv == nil {
		t.Fatal("the job did not go to the serving supervisor")
	}
	return j
}

func TestPoolOutputAndEnvironmentReachTheJob(t *testing.T) {
	t.Parallel()
	p := newPool(t, Options{})
	dir := t.TempDir()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	j, err := p.Start(dir, []string{"GREETING=hello", "PATH=" + os.Getenv("PATH"), MarkerVar + "=mine"}, pw, pw,
		"sh", "-c", `echo "$GREETING from $(pwd -P)"; echo err >&2; cat; env | grep -c `+MarkerVar+`=; env | grep -c GORACE`)
	pw.Close()
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan string)
	go func() {
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := pr.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				out <- b.String()
				return
			}
		}
	}()
	r := wait(t, j)
	if r.Outcome != Exited || !r.Status.Exited() || r.Status.ExitStatus() != 1 {
		t.Errorf("result %+v", r)
	}
	real, _ := filepath.EvalSymlinks(dir)
	// stdin is /dev/null; the job has exactly one marker, its own; the
	// supervisor's runtime settings do not reach it.
	if got, want := <-out, "hello from "+real+"\nerr\n1\n0\n"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
}

func TestPoolStartErrorIsReported(t *testing.T) {
	t.Parallel()
	p := newPool(t, Options{})
	for _, argv := range [][]string{{"/nonexistent/program"}, {"no-such-program-anywhere"}} {
		j, err := p.Start(t.TempDir(), nil, os.Stderr, os.Stderr, argv...)
		if err != nil {
			t.Fatal(err)
		}
		if r := wait(t, j); r.Outcome != StartFailed || !strings.Contains(r.Err, "no such file") && !strings.Contains(r.Err, "not found") {
			t.Errorf("%s: result %+v", argv[0], r)
		}
	}
}

// Two jobs run at once; A leaves daemons (setsid, double-forked, one in a
// session of its own that ignores SIGTERM) and exits: A's processes die,
// B's keep running.
func TestPoolOneJobsDaemonsDieAndTheOtherJobRunsOn(t *testing.T) {
	t.Parallel()
	p := newPool(t, Options{})
	dirA, dirB := t.TempDir(), t.TempDir()
	jb := startIn(t, p, dirB, `
		setsid sh -c 'sleep 300 & echo $! > d.tmp && mv d.tmp d.pid'
		echo $$ > sh.tmp && mv sh.tmp sh.pid
		sleep 300`)
	bShell, bDaemon := pidFile(t, dirB, "sh.pid"), pidFile(t, dirB, "d.pid")
	expectDaemonsGone(t, wait(t, startIn(t, p, dirA, leaveDaemons)), dirA)
	for _, q := range []proc{bShell, bDaemon} {
		if gone, what := q.status(); gone {
			t.Fatalf("B's process died with A: %s", what)
		}
	}
	// B goes on, and its own daemon dies with it.
	if err := jb.Kill(); err != nil {
		t.Fatal(err)
	}
	if r := wait(t, jb); r.Outcome != Exited || !r.Status.Signaled() {
		t.Errorf("B: result %+v", r)
	}
	if ok, what := allGone(bShell, bDaemon)(); !ok {
		t.Error(what)
	}
}

// A process adopted by the supervisor without a marker belongs to no job:
// it is killed once no job runs.
func TestPoolUnmarkedOrphanDiesWhenNoJobRuns(t *testing.T) {
	t.Parallel()
	p := newPool(t, Options{})
	dirA, dirB := t.TempDir(), t.TempDir()
	jb := startIn(t, p, dirB, `echo $$ > sh.tmp && mv sh.tmp sh.pid; sleep 300`)
	pidFile(t, dirB, "sh.pid")
	ja := startIn(t, p, dirA, `(exec env -i /bin/sh -c 'sleep 300 & echo $! > d.tmp && mv d.tmp d.pid; wait' &)
		while [ ! -e d.pid ]; do sleep 0.01; done`)
	orphan := pidFile(t, dirA, "d.pid")
	if r := wait(t, ja); r.Outcome != Exited || r.Status != 0 {
		t.Fatalf("A: result %+v", r)
	}
	jb.Kill()
	wait(t, jb)
	waitUntil(t, 5*time.Second, "the unmarked orphan to die", allGone(orphan))
}

func TestPoolLease(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lease := filepath.Join(dir, "lease")
	if err := WriteLease(lease, Now()+int64(time.Hour)); err != nil {
		t.Fatal(err)
	}
	p := newPool(t, Options{LeaseFile: lease})
	dirA, dirB := t.TempDir(), t.TempDir()
	// Everything ignores SIGTERM: only SIGKILL, without grace, ends it.
	ja := startIn(t, p, dirA, `
		trap "" TERM
		setsid sh -c 'sleep 300 & echo $! > d.tmp && mv d.tmp d.pid; sleep 300' &
		echo $$ > sh.tmp && mv sh.tmp sh.pid
		sleep 300`)
	jb := startIn(t, p, dirB, `trap "" TERM; echo $$ > sh.tmp && mv sh.tmp sh.pid; sleep 300`)
	ps := []proc{pidFile(t, dirA, "sh.pid"), pidFile(t, dirA, "d.pid"), pidFile(t, dirB, "sh.pid")}
	expired := time.Now()
	if err := WriteLease(lease, Now()-1); err != nil {
		t.Fatal(err)
	}
	for _, j := range []*Job{ja, jb} {
		r := wait(t, j)
		if r.Outcome != LeaseExpired || !r.Status.Signaled() || r.Status.Signal() != syscall.SIGKILL {
			t.Errorf("result %+v", r)
		}
	}
	took := time.Since(expired)
	if took > 2*time.Second {
		t.Errorf("the jobs were killed %s after the lease expired", took)
	}
	if ok, what := allGone(ps...)(); !ok {
		t.Error(what)
	}
	// Nothing starts on an expired lease.
	r := wait(t, startIn(t, p, dir, "touch ran"))
	if r.Outcome != LeaseExpiredBeforeStart || r.Pgid != 0 {
		t.Errorf("result %+v", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the job ran: %v", err)
	}
}

// A serving supervisor killed as by the OOM killer: its jobs are killed
// and reported lost, and the next job gets a new supervisor.
func TestPoolSupervisorKilledMidJob(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	p := newPool(t, Options{StateDir: state})
	dir := t.TempDir()
	j := startIn(t, p, dir, `
		setsid sh -c 'sleep 300 & echo $! > d.tmp && mv d.tmp d.pid; sleep 300' &
		echo $$ > sh.tmp && mv sh.tmp sh.pid
		sleep 300`)
	ps := []proc{pidFile(t, dir, "sh.pid"), pidFile(t, dir, "d.pid")}
	waitUntil(t, 10*time.Second, "the job's record", func() (bool, string) {
		entries, err := os.ReadDir(state)
		return err == nil && len(entries) == 1 && !strings.HasPrefix(entries[0].Name(), "."), fmt.Sprint(entries, err)
	})
	first := p.Pid()
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	r := wait(t, j)
	if r.Outcome != Lost || r.WaitErr == nil || !strings.Contains(r.WaitErr.Error(), "killed") {
		t.Errorf("result %+v", r)
	}
	// Orphans of init now: they may be zombies for a moment.
	waitUntil(t, 5*time.Second, "the job's processes to die", func() (bool, string) {
		for _, q := range ps {
			if ok, what := q.exited(); !ok {
				return false, what
			}
		}
		return true, ""
	})
	r = wait(t, startIn(t, p, t.TempDir(), "exit 6"))
	if r.Outcome != Exited || r.Status.ExitStatus() != 6 {
		t.Errorf("next job: result %+v", r)
	}
	if second := p.Pid(); second == first || second == 0 {
		t.Errorf("supervisor pid %d after %d", second, first)
	}
}

func TestPoolStateRecords(t *testing.T) {
	t.Parallel()
	state := filepath.Join(t.TempDir(), "new")
	p := newPool(t, Options{StateDir: state})
	dir := t.TempDir()
	j := startIn(t, p, dir, `echo $$ > sh.tmp && mv sh.tmp sh.pid; sleep 300`)
	shell := pidFile(t, dir, "sh.pid")
	waitUntil(t, 10*time.Second, "the record", func() (bool, string) {
		entries, err := os.ReadDir(state)
		return err == nil && len(entries) == 1 && !strings.HasPrefix(entries[0].Name(), "."), fmt.Sprint(entries, err)
	})
	f := strings.Fields(readFile(t, filepath.Join(state, mustOne(t, state))))
	if len(f) != 4 || f[0] != strconv.Itoa(p.Pid()) || f[2] != strconv.Itoa(shell.pid) || f[3] != strconv.FormatUint(shell.start, 10) {
		t.Errorf("record %q; supervisor %d, shell %+v", f, p.Pid(), shell)
	}
	j.Kill()
	wait(t, j)
	if entries, _ := os.ReadDir(state); len(entries) != 0 {
		t.Errorf("records left: %v", entries)
	}
}

func mustOne(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Fatalf("%s: %v %v", dir, entries, err)
	}
	return entries[0].Name()
}

// Closing the pool kills what runs, at once.
func TestPoolCloseKillsJobs(t *testing.T) {
	t.Parallel()
	p := NewPool("", Options{})
	dir := t.TempDir()
	startIn(t, p, dir, `trap "" TERM; setsid sh -c 'sleep 300 & echo $! > d.tmp && mv d.tmp d.pid; sleep 300' & echo $$ > sh.tmp && mv sh.tmp sh.pid; sleep 300`)
	ps := []proc{pidFile(t, dir, "sh.pid"), pidFile(t, dir, "d.pid")}
	p.Close()
	waitUntil(t, 5*time.Second, "the job's processes to die", func() (bool, string) {
		for _, q := range ps {
			if ok, what := q.exited(); !ok {
				return false, what
			}
		}
		return true, ""
	})
	if _, err := p.Start(dir, nil, os.Stderr, os.Stderr, "true"); err == nil {
		t.Error("a closed pool started a job")
	}
}
