package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync/atomic"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/supervise"
)

// drainTimeout bounds how long output is still read once a job's
// supervisor has reported it over: it has killed every process of the job,
// so only a process started outside that tree (by another daemon) can
// still hold the pipe open, and the job does not wait for it.
const drainTimeout = 2 * time.Second

// Job outcomes when the executor's lease ran out (see Execution.LeaseFile).
const (
	leaseKilledText  = "executor lease expired"
	leaseRefusedText = "not started: executor lease expired"
)

// procResult is the outcome of one command process.
type procResult struct {
	exitCode    *int  // set when the process exited on its own account
	err         error // why the command failed; nil on exit code 0
	interrupted bool  // ctx ended before the process did
	// leaseText is set when the job was killed, or not started, because
	// the executor's lease ran out.
	leaseText string
}

// runProcess runs command with /bin/sh -c under a job supervisor (package
// supervise; the executor's long-lived one when Execution.Jobs is set, else
// one of its own): the shell leads a process group of its own, stdin is
// /dev/null, and stdout and stderr both go to out. When ctx ends first, the
// job gets SIGTERM and, after the kill grace, SIGKILL. Once the shell has
// exited, whatever it left behind (background children, setsid daemons) is
// killed, so nothing outlives the job nor keeps its output pipe open; and
// if the executor dies, its jobs die with it. Nothing is started when ctx
// has ended already.
func (r *runner) runProcess(ctx context.Context, job, command, dir string, env []string, out io.Writer) procResult {
	if ctx.Err() != nil {
		return procResult{interrupted: true}
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return procResult{err: fmt.Errorf("cannot create output pipe: %w", err)}
	}
	if ctx.Err() != nil {
		pr.Close()
		pw.Close()
		return procResult{interrupted: true}
	}
	var sup *supervise.Job
	argv := []string{"/bin/sh", "-c", command}
	if r.ex.Jobs != nil {
		sup, err = r.ex.Jobs.Start(dir, env, pw, pw, argv...)
	} else {
		var cmd *exec.Cmd
		cmd, err = supervise.Command(r.ex.Supervisor, supervise.Options{
			LeaseFile: r.ex.LeaseFile,
			StateDir:  r.ex.StateDir,
			Env:       env,
		}, argv...)
		if err == nil {
			cmd.Dir, cmd.Stdout, cmd.Stderr = dir, pw, pw
			sup, err = supervise.Start(cmd)
		}
	}
	pw.Close()
	if err != nil {
		pr.Close()
		return procResult{err: fmt.Errorf("cannot start command: %w", err)}
	}

	var draining atomic.Bool
	copied := make(chan error, 1)
	go func() { copied <- copyOutput(pr, out, &draining) }()

	exited := make(chan struct{})
	var sr supervise.Result
	go func() {
		defer close(exited)
		sr = sup.Wait()
	}()

	res := procResult{}
	select {
	case <-exited:
	case <-ctx.Done():
		res.interrupted = true
		r.terminate(sup, exited)
	}
	<-exited
	if sr.Survivors > 0 {
		r.flowLog("job %s: %d of its processes survived SIGKILL", job, sr.Survivors)
	}

	draining.Store(true)
	pr.SetReadDeadline(time.Now().Add(drainTimeout))
	if err := <-copied; errors.Is(err, os.ErrDeadlineExceeded) {
		r.flowLog("job %s: output still held open by a process the job did not start; stopped reading it", job)
	}
	pr.Close()

	switch sr.Outcome {
	case supervise.Exited:
		ws := sr.Status
		switch {
		case ws.Signaled():
			res.err = fmt.Errorf("killed by signal %d (%v)", int(ws.Signal()), ws.Signal())
		case ws.ExitStatus() == 0:
			code := 0
			res.exitCode = &code
		default:
			code := ws.ExitStatus()
			res.exitCode = &code
			res.err = fmt.Errorf("exit code %d", code)
		}
	case supervise.LeaseExpired:
		res.leaseText = leaseKilledText
		res.err = errors.New(leaseKilledText)
	case supervise.LeaseExpiredBeforeStart:
		res.leaseText = leaseRefusedText
		res.err = errors.New(leaseRefusedText)
	case supervise.StartFailed:
		res.err = fmt.Errorf("cannot start command: %s", sr.Err)
	case supervise.StoppedBeforeStart:
		res.err = errors.New("not started: stopped before it started")
	default:
		if sr.WaitErr != nil {
			res.err = fmt.Errorf("job supervisor failed: %w", sr.WaitErr)
		} else {
			res.err = errors.New("job supervisor ended without reporting the job's outcome")
		}
	}
	return res
}

// terminate asks the supervisor to stop the job: SIGTERM to the job's
// processes, then SIGKILL once the kill grace has passed unless they are
// all gone by then. It returns once the supervisor has reported the job
// over. The supervisor itself is never killed: that would leave the job
// without it.
func (r *runner) terminate(sup *supervise.Job, exited <-chan struct{}) {
	sup.Terminate()
	grace := time.NewTimer(r.killGrace)
	defer grace.Stop()
	select {
	case <-exited:
	case <-grace.C:
		sup.Kill()
		<-exited
	}
}

// copyOutput copies the job's output pipe to out until EOF. Once draining is
// set, a read that waits drainTimeout without data ends the copy with
// os.ErrDeadlineExceeded.
func copyOutput(pr *os.File, out io.Writer, draining *atomic.Bool) error {
	buf := make([]byte, 32<<10)
	for {
		if draining.Load() {
			pr.SetReadDeadline(time.Now().Add(drainTimeout))
		}
		n, err := pr.Read(buf)
		if n > 0 {
			out.Write(buf[:n])
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
