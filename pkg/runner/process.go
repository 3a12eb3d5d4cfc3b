package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

const (
	// drainTimeout bounds how long output is still read once a job's
	// process group is gone: only a process that left the group (setsid)
	// can still hold the pipe open, and the job does not wait for it.
	drainTimeout = 2 * time.Second
	// groupGoneTimeout bounds the wait for killed group members to die.
	groupGoneTimeout = 10 * time.Second
)

// procResult is the outcome of one command process.
type procResult struct {
	exitCode    *int  // set when the process exited on its own account
	err         error // why the command failed; nil on exit code 0
	interrupted bool  // ctx ended before the process did
}

// runProcess runs command with /bin/sh -c in its own process group, stdin
// from /dev/null, and stdout and stderr both written to out. When ctx ends
// first, the group gets SIGTERM and, after the kill grace, SIGKILL. Once the
// shell has exited, whatever is left in its group is killed, so background
// children never outlive the job nor keep its output pipe open.
func (r *runner) runProcess(ctx context.Context, job, command, dir string, env []string, out io.Writer) procResult {
	pr, pw, err := os.Pipe()
	if err != nil {
		return procResult{err: fmt.Errorf("cannot create output pipe: %w", err)}
	}
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout = pw
	cmd.Stderr = pw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	pw.Close()
	if err != nil {
		pr.Close()
		return procResult{err: fmt.Errorf("cannot start command: %w", err)}
	}
	pgid := cmd.Process.Pid // Setpgid: the shell leads a new group

	var draining atomic.Bool
	copied := make(chan error, 1)
	go func() { copied <- copyOutput(pr, out, &draining) }()

	// Wait for the shell to exit without reaping it: while it is a zombie
	// its pid, which is the group id, cannot be reused, so signalling the
	// group cannot hit an unrelated process.
	exited := make(chan struct{})
	var waitErr error
	reaped := false
	go func() {
		defer close(exited)
		if waitExit(pgid) != nil {
			waitErr = cmd.Wait()
			reaped = true
		}
	}()

	res := procResult{}
	select {
	case <-exited:
	case <-ctx.Done():
		res.interrupted = true
		r.terminate(pgid, exited)
	}
	<-exited
	syscall.Kill(-pgid, syscall.SIGKILL)
	if !reaped {
		waitErr = cmd.Wait()
	}
	if !awaitGroupGone(pgid) {
		r.flowLog("job %s: processes of group %d survived SIGKILL for %s", job, pgid, groupGoneTimeout)
	}

	draining.Store(true)
	pr.SetReadDeadline(time.Now().Add(drainTimeout))
	if err := <-copied; errors.Is(err, os.ErrDeadlineExceeded) {
		r.flowLog("job %s: output still held open by a process outside its process group; stopped reading it", job)
	}
	pr.Close()

	var exitErr *exec.ExitError
	switch {
	case waitErr == nil:
		code := 0
		res.exitCode = &code
	case errors.As(waitErr, &exitErr):
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.err = fmt.Errorf("killed by signal %d (%v)", int(ws.Signal()), ws.Signal())
		} else {
			code := exitErr.ExitCode()
			res.exitCode = &code
			res.err = fmt.Errorf("exit code %d", code)
		}
	default:
		res.err = waitErr
	}
	return res
}

// terminate sends SIGTERM to the process group and SIGKILL once the kill
// grace has passed, unless the whole group is gone by then. It returns once
// the group leader has exited.
func (r *runner) terminate(pgid int, exited <-chan struct{}) {
	syscall.Kill(-pgid, syscall.SIGTERM)
	grace := time.NewTimer(r.killGrace)
	defer grace.Stop()
	select {
	case <-exited:
		// The leader is gone; the rest of the group gets what is left of
		// the grace period to exit by itself.
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for groupAlive(pgid) {
			select {
			case <-grace.C:
				syscall.Kill(-pgid, syscall.SIGKILL)
				return
			case <-tick.C:
			}
		}
	case <-grace.C:
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-exited
	}
}

// awaitGroupGone keeps killing process group pgid until no live process is
// left in it and reports whether that happened within groupGoneTimeout.
func awaitGroupGone(pgid int) bool {
	deadline := time.Now().Add(groupGoneTimeout)
	delay := time.Millisecond
	for {
		syscall.Kill(-pgid, syscall.SIGKILL)
		if !groupAlive(pgid) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(delay)
		delay = min(2*delay, 50*time.Millisecond)
	}
}

// groupAlive reports whether process group pgid has a member that is not a
// zombie. Killed members whose parent already exited are zombies until init
// reaps them, which some inits do lazily: they count as gone.
func groupAlive(pgid int) bool {
	if syscall.Kill(-pgid, 0) == syscall.ESRCH {
		return false
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return true // cannot tell
	}
	want := strconv.Itoa(pgid)
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // exited meanwhile
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) > 2 && f[2] == want && f[0] != "Z" && f[0] != "X" {
			return true
		}
	}
	return false
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

// waitExit blocks until process pid has exited, leaving it unreaped
// (waitid with WNOWAIT).
func waitExit(pid int) error {
	const pPID = 1      // P_PID
	var info [16]uint64 // siginfo_t (128 bytes); the contents are not needed
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid),
			uintptr(unsafe.Pointer(&info[0])), syscall.WEXITED|syscall.WNOWAIT, 0, 0)
		switch errno {
		case 0:
			return nil
		case syscall.EINTR:
		default:
			return errno
		}
	}
}
