// Package supervise keeps a job from outliving its executor, and anything
// the job started from outliving the job.
//
// Every job command runs under a supervisor: the crawlctl binary itself,
// re-executed. It comes in two forms with the same guarantees.
//
// # One supervisor per executor (Pool)
//
// An executor on Linux starts one long-lived supervisor, on first use:
//
//	crawlctl __job-supervisor -serve [-parent=PID] [-lease=FILE] [-state=DIR]
//
// with a unix socket (SOCK_SEQPACKET, one of a socketpair) as file
// descriptor 3. It makes itself a child subreaper and takes requests on
// the socket: start (the argv, working directory and whole environment of
// a job, with the job's stdout and stderr passed as descriptors,
// SCM_RIGHTS), terminate and kill. For a start it forks and execs the
// command itself, in a process group of its own, with stdin /dev/null, and
// replies with its pid, then, once the job is over, with its raw wait
// status (or why it did not run: lease expired, start failed). Starting a
// job thus costs one fork/exec and a message each way instead of a second
// process with the Go runtime.
//
// Pool.Start adds MarkerVar (JOB_RUN_ID) to each job's environment, a
// random value of its own. Because the supervisor is a subreaper, whatever
// a job leaves behind (background children, setsid or double-forked
// daemons) ends up below it, next to the other jobs' processes. When a
// job's command exits, its leftovers are killed and reaped before the job
// is reported over, and only its own: the job's processes are those in its
// process group (while that group id is still the job's), those whose
// environment (/proc/PID/environ) carries its marker, and the descendants
// of either; a process below another job's running command is that job's.
// Checking costs nothing when the supervisor has no children but the jobs'
// running commands (read from /proc/self/task/*/children); otherwise it
// scans /proc. A process adopted by the supervisor that carries no marker
// (it exec'd with an empty environment, or overwrote it) belongs to no
// job: it is killed as soon as no job runs, and at the latest when the
// supervisor stops.
//
// Job.Terminate sends SIGTERM to the job's process group and every process
// of the job; once the command has exited the rest may still exit by
// themselves until Job.Kill, which kills them all at once.
//
// The lease file (see below) is read before every start and every 250 ms;
// past the deadline every job is killed at once and reported as
// LeaseExpired (LeaseExpiredBeforeStart for a start refused).
//
// If the executor dies (kill -9, OOM), the supervisor sees end-of-file on
// the socket at once (or its parent-death signal, or at the latest 250 ms
// later its parent pid changing) and kills every process below it at once,
// then exits. Closing the pool does the same.
//
// If the supervisor itself dies (SIGKILL, OOM), the executor sees
// end-of-file: it kills the process group of every job it had started
// there and every process carrying one of their markers, ends those jobs
// as Lost with the reason in Result.WaitErr, and starts a new supervisor
// for later jobs.
//
// A request too large for one message (core.MaxMessage, or what the
// system's socket buffers allow) goes to a supervisor of its own.
//
// # One supervisor per job (Command, Start)
//
// The other form, used where a Pool is not (systems other than Linux), is
//
//	crawlctl __job-supervisor [-parent=PID] [-lease=FILE] [-state=DIR] [-own-env=NAMES] -- /bin/sh -c CMD
//
// The supervisor makes itself a child subreaper, starts the command in a
// process group of its own with the supervisor's stdin, stdout, stderr and
// environment (less the variables named by -own-env, which were its own),
// and waits. Because it is a subreaper, whatever the job leaves behind
// (background children, setsid or double-forked daemons) ends up as its
// child; once the command's process has exited, every remaining descendant
// is killed and reaped, and the supervisor exits. It never leaves zombies.
//
// The supervisor ends the job early when:
//
//   - it gets SIGTERM (or SIGINT): the job's process group and every
//     descendant get SIGTERM; once the command has exited, the rest may
//     still exit by themselves until a kill is asked for;
//   - it gets SIGUSR1: everything is killed (SIGKILL) at once;
//   - its parent, the executor, dies (kill -9, OOM): it learns it from the
//     parent-death signal (SIGHUP) or, at the latest 250 ms later, from its
//     parent pid changing, and kills everything at once;
//   - the lease runs out: the lease file holds a deadline in CLOCK_BOOTTIME
//     nanoseconds (see Now and WriteLease). It is read before the command
//     starts (an expired lease means it does not start) and every 250 ms
//     while it runs; past the deadline everything is killed at once, with
//     no grace, so that a frozen or partitioned executor's jobs stop before
//     the cluster runs the flow elsewhere. A missing or unreadable file
//     means no deadline.
//
// The caller must never SIGKILL the supervisor: that would leave the job
// running without it. SIGTERM then, after a grace period, SIGUSR1 is the
// way to stop a job (Job.Terminate, Job.Kill).
//
// The outcome goes back to the caller on file descriptor 3 (StatusFD), not
// in the supervisor's exit code: the command's raw wait status, or why it
// did not run. Start and Job.Wait speak this protocol.
//
// # Records of running jobs
//
// A supervisor that is SIGKILLed together with its executor cannot clean
// up, and the executor cannot either. With a state directory, a
// supervisor of either form records, for each job while it runs, its own
// pid and start time and the job's process group; KillLeftovers, called
// when an executor starts, kills whatever such records still describe.
//
// The whole of this is Linux-specific (subreaper, parent-death signal,
// /proc). Elsewhere the supervisor only signals the job's process group.
package supervise

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/supervise/internal/core"
)

// Name is the hidden first argument that turns the crawlctl binary into a
// job supervisor. A program that can be re-executed as a supervisor calls
// Main(os.Args[2:]) when os.Args[1] is Name; linking this package does that
// already, at initialization.
const Name = core.Name

// StatusFD is the file descriptor on which a supervisor reports to its
// parent.
const StatusFD = core.StatusFD

// Signals understood by a supervisor.
const (
	// TermSignal asks for a graceful stop: SIGTERM to the whole job.
	TermSignal = core.TermSignal
	// KillSignal asks for everything to be killed now.
	KillSignal = core.KillSignal
)

// Main runs a supervisor; args are what follows Name on the command line.
// It returns the process exit status: 0 once it has done its work (the
// job's own outcome goes to StatusFD, see Job.Wait), 2 on a usage error.
func Main(args []string) int { return core.Main(args) }

// Options configure a supervisor.
type Options struct {
	// LeaseFile holds the lease deadline (see WriteLease); "" = no lease.
	LeaseFile string
	// StateDir receives a record of the running job while it runs (see
	// KillLeftovers); "" = none.
	StateDir string
	// Env is the job's environment, exactly; nil = this process's. The
	// supervisor itself also gets this process's Go runtime settings
	// (RuntimeEnv) that Env does not set, and removes them again before it
	// starts the job.
	Env []string
}

// RuntimeEnv lists the Go runtime's settings a supervisor keeps from its
// caller's environment for itself (under the race detector, GORACE spares
// every supervisor a pause at exit), without handing them to the job.
var RuntimeEnv = []string{"GORACE", "GODEBUG", "GOTRACEBACK", "GOCOVERDIR"}

// Command returns a command that runs argv under a supervisor started from
// the crawlctl binary at path ("" = the running binary, /proc/self/exe),
// with o.Env as the job's environment. The caller sets Dir, Stdin, Stdout
// and Stderr, which the job inherits, and starts it with Start; it leaves
// Env alone (it holds the supervisor's own). ExtraFiles must stay empty.
func Command(path string, o Options, argv ...string) (*exec.Cmd, error) {
	if len(argv) == 0 {
		return nil, errors.New("no command to supervise")
	}
	if path == "" {
		// The running binary itself, even after an upgrade replaced the
		// file on disk: a supervisor must speak its executor's protocol.
		path = "/proc/self/exe"
		if _, err := os.Stat(path); err != nil {
			p, err := os.Executable()
			if err != nil {
				return nil, fmt.Errorf("cannot find the crawlctl binary to supervise the job: %w", err)
			}
			path = p
		}
	} else if !filepath.IsAbs(path) {
		// exec.Cmd would look for a relative path from the job's directory.
		p, err := filepath.Abs(path)
		if err != nil {
			return nil, err
		}
		path = p
	}
	args := make([]string, 0, 6+len(argv))
	args = append(args, path, Name, "-parent="+strconv.Itoa(os.Getpid()))
	if o.LeaseFile != "" {
		args = append(args, "-lease="+o.LeaseFile)
	}
	if o.StateDir != "" {
		args = append(args, "-state="+o.StateDir)
	}
	var env []string
	if o.Env != nil {
		env = append(make([]string, 0, len(o.Env)+len(RuntimeEnv)), o.Env...)
		var own []string
		for _, name := range RuntimeEnv {
			if v, ok := os.LookupEnv(name); ok && !hasVar(o.Env, name) {
				env = append(env, name+"="+v)
				own = append(own, name)
			}
		}
		if len(own) > 0 {
			args = append(args, "-own-env="+strings.Join(own, ","))
		}
	}
	args = append(args, "--")
	args = append(args, argv...)
	return &exec.Cmd{Path: path, Args: args, Env: env, SysProcAttr: sysProcAttr()}, nil
}

// hasVar reports whether env sets name.
func hasVar(env []string, name string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, name+"=") {
			return true
		}
	}
	return false
}

// Job is a job started under a supervisor of its own (Start; Cmd is the
// supervisor) or through a Pool (Cmd is nil).
type Job struct {
	Cmd    *exec.Cmd
	status *os.File

	// Through a Pool:
	srv    *server
	id     uint64
	marker string
	pid    int           // the command's pid, once the supervisor said it; guarded by srv.mu
	done   chan struct{} // closed once res is set
	res    Result
}

// Start starts a supervisor prepared by Command.
func Start(cmd *exec.Cmd) (*Job, error) {
	if len(cmd.ExtraFiles) != 0 {
		return nil, errors.New("supervise: ExtraFiles must be empty")
	}
	sr, sw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("cannot create status pipe: %w", err)
	}
	cmd.ExtraFiles = []*os.File{sw}
	err = startLocked(cmd)
	sw.Close()
	cmd.ExtraFiles = nil
	if err != nil {
		sr.Close()
		return nil, err
	}
	return &Job{Cmd: cmd, status: sr}, nil
}

// Terminate asks the supervisor for a graceful stop: SIGTERM to the job's
// process group and every process of the job; once the command has
// exited, the rest may still exit by themselves until Kill.
func (j *Job) Terminate() error {
	if j.srv != nil {
		return j.srv.send(core.ReqTerm, j.id)
	}
	return j.Cmd.Process.Signal(TermSignal)
}

// Kill asks the supervisor to kill every process of the job now.
func (j *Job) Kill() error {
	if j.srv != nil {
		return j.srv.send(core.ReqKill, j.id)
	}
	return j.Cmd.Process.Signal(KillSignal)
}

// Outcome says how a supervised job ended.
type Outcome int

const (
	// Lost: the supervisor ended without reporting (it was killed, or
	// failed). Wait then kills the job's process group, if it was told it
	// (a Pool's job: every process of the job).
	Lost Outcome = iota
	// Exited: the command ran; Result.Status is its wait status.
	Exited
	// LeaseExpired: the command was killed because the lease ran out;
	// Result.Status is its wait status.
	LeaseExpired
	// LeaseExpiredBeforeStart: the lease had run out; nothing was started.
	LeaseExpiredBeforeStart
	// StoppedBeforeStart: a stop was asked before the command started;
	// nothing was started.
	StoppedBeforeStart
	// StartFailed: the command could not be started; Result.Err says why.
	StartFailed
)

// Result is what a supervisor reported.
type Result struct {
	Outcome Outcome
	Status  syscall.WaitStatus // for Exited and LeaseExpired
	Err     string             // for StartFailed
	// Pgid is the job's process group (0 if it never started).
	Pgid int
	// Survivors counts processes still alive when the supervisor gave up
	// waiting for them to die after SIGKILL.
	Survivors int
	// WaitErr is the supervisor's own exit status as an error, from
	// exec.Cmd.Wait; for a Pool's job that was Lost, why.
	WaitErr error
}

// Wait waits for the supervisor to exit and returns what it reported.
func (j *Job) Wait() Result {
	if j.srv != nil {
		<-j.done
		return j.res
	}
	waitErr := j.Cmd.Wait()
	// The supervisor is the only writer (the descriptor is close-on-exec
	// for the job), so the pipe is at EOF now; the deadline is a guard.
	j.status.SetReadDeadline(time.Now().Add(time.Second))
	data, _ := io.ReadAll(j.status)
	j.status.Close()
	res := parseStatus(data)
	res.WaitErr = waitErr
	if res.Outcome == Lost && res.Pgid > 0 {
		// The supervisor died without cleaning up: kill what can still be
		// found of the job.
		syscall.Kill(-res.Pgid, syscall.SIGKILL)
	}
	return res
}

// Status records, one line each, on StatusFD:
//
//	pgid PGID               the command started
//	exit STATUS SURVIVORS   it ended; STATUS is the raw wait status
//	lease STATUS SURVIVORS  it was killed because the lease ran out
//	lease-before-start      the lease had run out; nothing started
//	stopped-before-start    stop asked before the command started
//	start-error TEXT        the command could not be started
func parseStatus(data []byte) Result {
	var res Result
	for _, line := range bytes.Split(data, []byte{'\n'}) {
		kind, rest, _ := strings.Cut(string(line), " ")
		f := strings.Fields(rest)
		switch kind {
		case core.RecPgid:
			if len(f) == 1 {
				res.Pgid, _ = strconv.Atoi(f[0])
			}
		case core.RecExit, core.RecLease:
			if len(f) != 2 {
				continue
			}
			ws, err1 := strconv.ParseUint(f[0], 10, 32)
			n, err2 := strconv.Atoi(f[1])
			if err1 != nil || err2 != nil {
				continue
			}
			res.Status, res.Survivors = syscall.WaitStatus(ws), n
			res.Outcome = Exited
			if kind == core.RecLease {
				res.Outcome = LeaseExpired
			}
		case core.RecLeaseNotStart:
			res.Outcome = LeaseExpiredBeforeStart
		case core.RecStopNotStart:
			res.Outcome = StoppedBeforeStart
		case core.RecStartError:
			res.Outcome, res.Err = StartFailed, rest
		}
	}
	return res
}

// WriteLease sets the lease deadline (CLOCK_BOOTTIME nanoseconds, see Now)
// in the file at path, atomically.
func WriteLease(path string, deadline int64) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(strconv.FormatInt(deadline, 10)+"\n"), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
