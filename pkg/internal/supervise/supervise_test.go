//go:build linux

package supervise

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/supervise/internal/core"
)

// helperEnv makes the test binary act as the parent of supervisors (see
// helperParent) instead of running tests.
const helperEnv = "SUPERVISE_TEST_HELPER"

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == Name {
		os.Exit(Main(os.Args[2:]))
	}
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(helperParent(mode))
	}
	// Supervisors started from a -race test binary: no one-second pause at
	// their exit.
	if _, ok := os.LookupEnv("GORACE"); !ok {
		os.Setenv("GORACE", "atexit_sleep_ms=0")
	}
	os.Exit(m.Run())
}

// Jobs that record their processes' pids (files are renamed into place, so
// a pid file that exists is complete).
const (
	// Job "a": the shell and a background child, in the job's group.
	jobA = `echo $$ > a.tmp && mv a.tmp a.pid; sleep 300 & echo $! > a2.tmp && mv a2.tmp a2.pid; wait`
	// Job "b": a daemon in a session of its own, whose parent has exited,
	// and the shell.
	jobB = `setsid sh -c 'sleep 300 & echo $! > b2.tmp && mv b2.tmp b2.pid'; echo $$ > b.tmp && mv b.tmp b.pid; sleep 300`
)

// helperParent starts supervisors running jobA and jobB in $DIR, records
// their pids in DIR/sup.pids and waits to be killed. With mode "nopdeath"
// the supervisors get no parent-death signal and must notice from their
// parent pid.
func helperParent(mode string) int {
	dir := os.Getenv("DIR")
	var pids []string
	if mode == "pool" {
		p := NewPool("", Options{})
		for _, job := range []string{jobA, jobB} {
			if _, err := p.Start(dir, nil, os.Stderr, os.Stderr, "/bin/sh", "-c", job); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		pids = append(pids, strconv.Itoa(p.Pid()))
	}
	for _, job := range []string{jobA, jobB} {
		if mode == "pool" {
			break
		}
		cmd, err := Command("", Options{}, "/bin/sh", "-c", job)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if mode == "nopdeath" {
			cmd.SysProcAttr.Pdeathsig = 0
		}
		cmd.Dir = dir
		if _, err := Start(cmd); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		pids = append(pids, strconv.Itoa(cmd.Process.Pid))
	}
	if err := writeAtomic(filepath.Join(dir, "sup.pids"), strings.Join(pids, " ")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// Live until the test kills this parent.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	<-stop
	return 0
}

func writeAtomic(path, data string) error {
	if err := os.WriteFile(path+".tmp", []byte(data), 0o644); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

// proc identifies a process: its pid and its start time.
type proc struct {
	name  string
	pid   int
	start uint64
}

// stat returns a process's state letter and start time.
func stat(pid int) (state byte, start uint64, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, 0, false
	}
	start, err = strconv.ParseUint(f[19], 10, 64)
	return f[0][0], start, err == nil
}

// status says whether p is gone: no such process (or its pid now names
// another one). A zombie is not gone: someone failed to reap it.
func (p proc) status() (bool, string) {
	state, start, ok := stat(p.pid)
	switch {
	case !ok || start != p.start:
		return true, fmt.Sprintf("%s (pid %d) gone", p.name, p.pid)
	case state == 'Z':
		return false, fmt.Sprintf("%s (pid %d) is a zombie", p.name, p.pid)
	default:
		return false, fmt.Sprintf("%s (pid %d) still alive, state %c", p.name, p.pid, state)
	}
}

// exited is like status but accepts a zombie: for processes whose parent
// is not ours to control (orphans of init).
func (p proc) exited() (bool, string) {
	if gone, what := p.status(); gone || strings.Contains(what, "zombie") {
		return true, what
	}
	return p.status()
}

// waitUntil polls cond every few milliseconds until it holds, failing the
// test after timeout with what cond last said.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, seen := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, still waiting for %s: %s", timeout, what, seen)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// allGone checks that every process is gone.
func allGone(ps ...proc) func() (bool, string) {
	return func() (bool, string) {
		for _, p := range ps {
			if ok, what := p.status(); !ok {
				return false, what
			}
		}
		return true, ""
	}
}

// pidFile waits for a job to write a pid file and returns that process,
// which must be alive.
func pidFile(t *testing.T, dir, name string) proc {
	t.Helper()
	path := filepath.Join(dir, name)
	var pid int
	waitUntil(t, 10*time.Second, "pid file "+name, func() (bool, string) {
		b, err := os.ReadFile(path)
		if err != nil {
			return false, err.Error()
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil, fmt.Sprintf("%q", b)
	})
	state, start, ok := stat(pid)
	if !ok || state == 'Z' {
		t.Fatalf("%s: process %d is not running", name, pid)
	}
	return proc{name: name, pid: pid, start: start}
}

// start starts a supervisor running script with /bin/sh -c in dir, its
// output going to dir/out.
func start(t *testing.T, o Options, dir, script string) *Job {
	t.Helper()
	cmd, err := Command("", o, "/bin/sh", "-c", script)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, out, out
	j, err := Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			j.Kill()
			cmd.Wait()
		}
	})
	return j
}

// starter starts a job: start, or startPooled.
type starter func(t *testing.T, o Options, dir, script string) *Job

// inBothForms runs test with a supervisor per job and with a Pool.
func inBothForms(t *testing.T, test func(t *testing.T, start starter)) {
	t.Parallel()
	t.Run("per-job", func(t *testing.T) {
		t.Parallel()
		test(t, start)
	})
	t.Run("pool", func(t *testing.T) {
		t.Parallel()
		test(t, startPooled)
	})
}

// startPooled is start through a Pool of the job's own.
func startPooled(t *testing.T, o Options, dir, script string) *Job {
	t.Helper()
	return startIn(t, newPool(t, o), dir, script)
}

// wait waits for the supervisor to end and returns its result.
func wait(t *testing.T, j *Job) Result {
	t.Helper()
	done := make(chan Result, 1)
	go func() { done <- j.Wait() }()
	select {
	case r := <-done:
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("supervisor did not exit")
		return Result{}
	}
}

func TestExitStatusIsPassedOn(t *testing.T) {
	inBothForms(t, func(t *testing.T, start starter) {
		for _, tc := range []struct {
			script string
			check  func(syscall.WaitStatus) bool
		}{
			{"exit 0", func(ws syscall.WaitStatus) bool { return ws.Exited() && ws.ExitStatus() == 0 }},
			{"exit 7", func(ws syscall.WaitStatus) bool { return ws.Exited() && ws.ExitStatus() == 7 }},
			{"kill -KILL $$", func(ws syscall.WaitStatus) bool { return ws.Signaled() && ws.Signal() == syscall.SIGKILL }},
			// The supervisor's own exit code must not be confused with it.
			{"exit 2", func(ws syscall.WaitStatus) bool { return ws.Exited() && ws.ExitStatus() == 2 }},
		} {
			r := wait(t, start(t, Options{}, t.TempDir(), tc.script))
			if r.Outcome != Exited || !tc.check(r.Status) || r.WaitErr != nil || r.Pgid == 0 {
				t.Errorf("%s: result %+v (status %#x)", tc.script, r, uint32(r.Status))
			}
		}
	})
}

func TestOutputAndEnvironmentReachTheJob(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd, err := Command("", Options{}, "/bin/sh", "-c", `echo "$GREETING from $(pwd -P)"; echo err >&2; cat`)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, []string{"GREETING=hello", "PATH=" + os.Getenv("PATH")}, &out, &out
	j, err := Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if r := wait(t, j); r.Outcome != Exited || r.Status != 0 {
		t.Errorf("result %+v", r)
	}
	real, _ := filepath.EvalSymlinks(dir)
	if got, want := out.String(), "hello from "+real+"\nerr\n"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
}

// With Options.Env, the job's environment is exactly that: the Go runtime
// settings the supervisor keeps for itself (GORACE here, which TestMain
// set) reach the supervisor, never the job.
func TestOptionsEnvIsTheJobsWholeEnvironment(t *testing.T) {
	t.Parallel()
	if os.Getenv("GORACE") == "" {
		t.Fatal("TestMain sets GORACE")
	}
	cmd, err := Command("", Options{Env: []string{"ONLY=this"}}, "/usr/bin/env")
	if err != nil {
		t.Fatal(err)
	}
	if !hasVar(cmd.Env, "GORACE") || !strings.Contains(strings.Join(cmd.Args, " "), "-own-env=GORACE") {
		t.Fatalf("the supervisor does not get GORACE for itself: env %q, args %q", cmd.Env, cmd.Args)
	}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	j, err := Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if r := wait(t, j); r.Outcome != Exited || r.Status != 0 {
		t.Fatalf("result %+v: %s", r, out.String())
	}
	if got := out.String(); got != "ONLY=this\n" {
		t.Errorf("the job's environment is %q, want only ONLY=this", got)
	}
}

func TestStartErrorIsReported(t *testing.T) {
	t.Parallel()
	cmd, err := Command("", Options{}, "/nonexistent/program")
	if err != nil {
		t.Fatal(err)
	}
	j, err := Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if r := wait(t, j); r.Outcome != StartFailed || !strings.Contains(r.Err, "no such file") {
		t.Errorf("result %+v", r)
	}
}

// leaveDaemons is a job that leaves a setsid daemon whose parent has
// exited (it is re-parented to the supervisor), a double-forked child left
// in the job's group, and one in a session of its own that ignores
// SIGTERM, with their pids in d1.pid, d2.pid and d3.pid; then the shell
// exits 3.
const leaveDaemons = `
	setsid sh -c 'sleep 300 & echo $! > d1.tmp && mv d1.tmp d1.pid'
	(sleep 300 & echo $! > d2.tmp && mv d2.tmp d2.pid)
	setsid sh -c 'trap "" TERM; sleep 300 & echo $! > d3.tmp && mv d3.tmp d3.pid; sleep 300' &
	while [ ! -e d3.pid ]; do sleep 0.01; done
	exit 3`

// expectDaemonsGone checks, once a leaveDaemons job is over, that it
// exited 3 and that its daemons were reaped: nothing is left, not even a
// zombie.
func expectDaemonsGone(t *testing.T, r Result, dir string) {
	t.Helper()
	if r.Outcome != Exited || !r.Status.Exited() || r.Status.ExitStatus() != 3 {
		t.Fatalf("result %+v", r)
	}
	for _, name := range []string{"d1.pid", "d2.pid", "d3.pid"} {
		pid, _ := strconv.Atoi(strings.TrimSpace(readFile(t, filepath.Join(dir, name))))
		if state, _, ok := stat(pid); ok {
			// The pid may have been reused already; that would be a
			// process not descended from the supervisor.
			t.Errorf("%s: pid %d still exists, state %c", name, pid, state)
		}
	}
}

func TestDaemonsDieWhenTheShellExits(t *testing.T) {
	inBothForms(t, func(t *testing.T, start starter) {
		dir := t.TempDir()
		expectDaemonsGone(t, wait(t, start(t, Options{}, dir, leaveDaemons)), dir)
	})
}

func TestTerminateThenKill(t *testing.T) {
	inBothForms(t, func(t *testing.T, start starter) {
		dir := t.TempDir()
		// The shell exits on SIGTERM; the daemon ignores it (from the moment
		// it has written its pid).
		j := start(t, Options{}, dir, `
		setsid sh -c 'trap "" TERM; echo $$ > d.tmp && mv d.tmp d.pid; exec sleep 300' &
		echo $$ > sh.tmp && mv sh.tmp sh.pid
		sleep 300`)
		shell, daemon := pidFile(t, dir, "sh.pid"), pidFile(t, dir, "d.pid")
		done := make(chan Result, 1)
		go func() { done <- j.Wait() }()
		if err := j.Terminate(); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, 10*time.Second, "the shell to die of SIGTERM", shell.exited)
		// The daemon ignores SIGTERM: the supervisor waits for the kill.
		select {
		case r := <-done:
			t.Fatalf("supervisor exited before the kill, leaving the daemon: %+v", r)
		default:
		}
		if ok, what := daemon.status(); ok {
			t.Fatalf("daemon died of SIGTERM: %s", what)
		}
		if err := j.Kill(); err != nil {
			t.Fatal(err)
		}
		var r Result
		select {
		case r = <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("supervisor did not exit after the kill")
		}
		if r.Outcome != Exited || !r.Status.Signaled() || r.Status.Signal() != syscall.SIGTERM {
			t.Errorf("result %+v", r)
		}
		if ok, what := allGone(shell, daemon)(); !ok {
			t.Error(what)
		}
	})
}

func TestTerminateLetsTheJobExitByItself(t *testing.T) {
	inBothForms(t, func(t *testing.T, start starter) {
		dir := t.TempDir()
		j := start(t, Options{}, dir, `trap 'exit 5' TERM; echo $$ > sh.tmp && mv sh.tmp sh.pid; sleep 300 & wait`)
		pidFile(t, dir, "sh.pid")
		if err := j.Terminate(); err != nil {
			t.Fatal(err)
		}
		if r := wait(t, j); r.Outcome != Exited || !r.Status.Exited() || r.Status.ExitStatus() != 5 {
			t.Errorf("result %+v", r)
		}
	})
}

func TestParentDeathKillsJobs(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"pdeath", "nopdeath", "pool"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			self, err := os.Executable()
			if err != nil {
				t.Fatal(err)
			}
			parent := exec.Command(self)
			parent.Env = append(os.Environ(), helperEnv+"="+mode, "DIR="+dir)
			parent.Stderr = os.Stderr
			if err := parent.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				parent.Process.Kill()
				parent.Wait()
			}()
			var ps []proc
			for _, name := range []string{"a.pid", "a2.pid", "b.pid", "b2.pid"} {
				ps = append(ps, pidFile(t, dir, name))
			}
			b := readFile(t, filepath.Join(dir, "sup.pids"))
			var sups []proc
			for i, f := range strings.Fields(b) {
				pid, _ := strconv.Atoi(f)
				_, st, ok := stat(pid)
				if !ok {
					t.Fatalf("supervisor %d is not running", pid)
				}
				sups = append(sups, proc{name: fmt.Sprintf("supervisor %d", i), pid: pid, start: st})
			}

			killed := time.Now()
			if err := parent.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			parent.Wait()
			waitUntil(t, 5*time.Second, "every job process to be gone", allGone(ps...))
			t.Logf("job processes gone %s after their executor was killed", time.Since(killed).Round(time.Millisecond))
			// The supervisors are orphans now: init may leave them zombies.
			for _, s := range sups {
				waitUntil(t, 5*time.Second, s.name+" to exit", s.exited)
			}
		})
	}
}

func TestLeaseExpiredBeforeStart(t *testing.T) {
	inBothForms(t, func(t *testing.T, start starter) {
		dir := t.TempDir()
		lease := filepath.Join(dir, "lease")
		if err := WriteLease(lease, Now()-1); err != nil {
			t.Fatal(err)
		}
		r := wait(t, start(t, Options{LeaseFile: lease}, dir, "touch ran"))
		if r.Outcome != LeaseExpiredBeforeStart || r.Pgid != 0 {
			t.Errorf("result %+v", r)
		}
		if _, err := os.Stat(filepath.Join(dir, "ran")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the job ran: %v", err)
		}
	})
}

func TestLeaseExpiryKillsAtOnce(t *testing.T) {
	inBothForms(t, func(t *testing.T, start starter) {
		dir := t.TempDir()
		lease := filepath.Join(dir, "lease")
		if err := WriteLease(lease, Now()+int64(time.Hour)); err != nil {
			t.Fatal(err)
		}
		// Everything ignores SIGTERM: only SIGKILL, without grace, ends it.
		j := start(t, Options{LeaseFile: lease}, dir, `
		trap "" TERM
		setsid sh -c 'sleep 300 & echo $! > d.tmp && mv d.tmp d.pid; sleep 300' &
		echo $$ > sh.tmp && mv sh.tmp sh.pid
		sleep 300`)
		shell, daemon := pidFile(t, dir, "sh.pid"), pidFile(t, dir, "d.pid")
		expired := time.Now()
		if err := WriteLease(lease, Now()-1); err != nil {
			t.Fatal(err)
		}
		r := wait(t, j)
		took := time.Since(expired)
		if r.Outcome != LeaseExpired || !r.Status.Signaled() || r.Status.Signal() != syscall.SIGKILL {
			t.Errorf("result %+v", r)
		}
		if took > 2*time.Second {
			t.Errorf("the job was killed %s after its lease expired", took)
		}
		t.Logf("killed %s after the lease expired", took.Round(time.Millisecond))
		if ok, what := allGone(shell, daemon)(); !ok {
			t.Error(what)
		}
	})
}

func TestNoLeaseFileMeansNoDeadline(t *testing.T) {
	inBothForms(t, func(t *testing.T, start starter) {
		dir := t.TempDir()
		garbage := filepath.Join(dir, "garbage")
		if err := os.WriteFile(garbage, []byte("soon\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, lease := range []string{filepath.Join(dir, "missing"), garbage, dir} {
			if r := wait(t, start(t, Options{LeaseFile: lease}, dir, "exit 4")); r.Outcome != Exited || r.Status.ExitStatus() != 4 {
				t.Errorf("lease file %s: result %+v", lease, r)
			}
		}
	})
}

func TestWriteLease(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "lease")
	for _, d := range []int64{Now() + int64(time.Minute), 42} {
		if err := WriteLease(path, d); err != nil {
			t.Fatal(err)
		}
		if got, ok := core.ReadLease(path); !ok || got != d {
			t.Errorf("read back %d, %v; want %d", got, ok, d)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("files left: %v", entries)
	}
}

func TestNowIsBoottime(t *testing.T) {
	a, b, c := core.Boottime(), Now(), core.Boottime()
	if a > b || b > c || c-a > int64(time.Second) {
		t.Errorf("CLOCK_BOOTTIME readings out of order: %d %d %d", a, b, c)
	}
}

func TestKillLeftovers(t *testing.T) {
	t.Parallel()
	dir, state := t.TempDir(), t.TempDir()
	// The daemon, a child of the shell in a session of its own, writes its
	// pid and its two children's once they all exist.
	j := start(t, Options{StateDir: state}, dir, `
		trap "" TERM
		setsid sh -c 'sleep 300 & a=$!; sleep 300 & echo "$$ $a $!" > d.tmp && mv d.tmp d.pid; wait' &
		sleep 300 & echo $! > bg.tmp && mv bg.tmp bg.pid
		echo $$ > sh.tmp && mv sh.tmp sh.pid
		wait`)
	ps := []proc{pidFile(t, dir, "sh.pid"), pidFile(t, dir, "bg.pid")}
	waitUntil(t, 10*time.Second, "the daemon's pids", func() (bool, string) {
		_, err := os.Stat(filepath.Join(dir, "d.pid"))
		return err == nil, fmt.Sprint(err)
	})
	for i, f := range strings.Fields(readFile(t, filepath.Join(dir, "d.pid"))) {
		pid, _ := strconv.Atoi(f)
		state, start, ok := stat(pid)
		if !ok || state == 'Z' {
			t.Fatalf("daemon process %d is not running", pid)
		}
		ps = append(ps, proc{name: fmt.Sprintf("daemon process %d", i), pid: pid, start: start})
	}
	if len(ps) != 5 {
		t.Fatalf("processes %v", ps)
	}
	shell := ps[0]
	waitUntil(t, 10*time.Second, "the supervisor's record", func() (bool, string) {
		entries, err := os.ReadDir(state)
		return err == nil && len(entries) == 1 && !strings.HasPrefix(entries[0].Name(), "."), fmt.Sprint(entries, err)
	})

	// An unrelated process whose pid and group a stale record names, with
	// other start times: it must be left alone.
	other := exec.Command("sleep", "300")
	other.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		other.Process.Kill()
		other.Wait()
	}()
	_, otherStart, _ := stat(other.Process.Pid)
	stale := fmt.Sprintf("%d %d %d %d\n", other.Process.Pid, otherStart+1, other.Process.Pid, otherStart+1)
	if err := os.WriteFile(filepath.Join(state, "stale"), []byte(stale), 0o644); err != nil {
		t.Fatal(err)
	}

	// The supervisor is killed as by the OOM killer: it cannot clean up,
	// and its job goes on.
	if err := j.Cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	j.Cmd.Wait()
	if ok, what := shell.status(); ok {
		t.Fatalf("the job died with its supervisor: %s", what)
	}

	n, err := KillLeftovers(state)
	if err != nil {
		t.Fatal(err)
	}
	// The shell and its background child are the job's group; the setsid
	// sh, a child of the shell, and its two sleeps are descendants of it.
	// (A process that was just ending, such as an mv, may be counted too.)
	if n < len(ps) {
		t.Errorf("KillLeftovers killed %d processes, want at least %d", n, len(ps))
	}
	// Their parents are gone: init may leave them zombies.
	waitUntil(t, 10*time.Second, "the job's processes to be gone", func() (bool, string) {
		for _, p := range ps {
			if ok, what := p.exited(); !ok {
				return false, what
			}
		}
		return true, ""
	})
	if state, _, ok := stat(other.Process.Pid); !ok || state == 'Z' {
		t.Errorf("the unrelated process was killed")
	}
	if entries, _ := os.ReadDir(state); len(entries) != 0 {
		t.Errorf("records left: %v", entries)
	}
	if n, err := KillLeftovers(state); n != 0 || err != nil {
		t.Errorf("second call: %d, %v", n, err)
	}
}

func TestStateRecordRemovedOnExit(t *testing.T) {
	inBothForms(t, func(t *testing.T, start starter) {
		dir, state := t.TempDir(), filepath.Join(t.TempDir(), "new")
		j := start(t, Options{StateDir: state}, dir, `echo $$ > sh.tmp && mv sh.tmp sh.pid; sleep 300`)
		pidFile(t, dir, "sh.pid")
		waitUntil(t, 10*time.Second, "the record", func() (bool, string) {
			entries, err := os.ReadDir(state)
			return err == nil && len(entries) == 1, fmt.Sprint(entries, err)
		})
		j.Kill()
		wait(t, j)
		if entries, _ := os.ReadDir(state); len(entries) != 0 {
			t.Errorf("records left: %v", entries)
		}
	})
}

func TestParseStatus(t *testing.T) {
	for in, want := range map[string]Result{
		"":                               {Outcome: Lost},
		"pgid 12\n":                      {Outcome: Lost, Pgid: 12},
		"pgid 12\nexit 256 0\n":          {Outcome: Exited, Pgid: 12, Status: 256},
		"pgid 12\nlease 9 2\n":           {Outcome: LeaseExpired, Pgid: 12, Status: 9, Survivors: 2},
		"lease-before-start\n":           {Outcome: LeaseExpiredBeforeStart},
		"stopped-before-start\n":         {Outcome: StoppedBeforeStart},
		"start-error fork/exec /x: no\n": {Outcome: StartFailed, Err: "fork/exec /x: no"},
		"pgid 12\nexit 25":               {Outcome: Lost, Pgid: 12}, // cut short
	} {
		if got := parseStatus([]byte(in)); got != want {
			t.Errorf("parseStatus(%q) = %+v, want %+v", in, got, want)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
