package testcluster

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Pid is the daemon's process id.
func (p *Proc) Pid() int { return p.Cmd.Process.Pid }

// Freeze stops the process with SIGSTOP (its jobs, in their own process
// groups, keep running); Thaw resumes it. The cluster's cleanup thaws a
// frozen process before it stops it.
func (p *Proc) Freeze() { p.Signal(syscall.SIGSTOP) }

// Thaw resumes a frozen process with SIGCONT.
func (p *Proc) Thaw() { p.Signal(syscall.SIGCONT) }

// procStat returns the fields of /proc/pid/stat after the command name:
// state, ppid, pgrp, ...
func procStat(pid int) ([]string, bool) {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, false
	}
	i := bytes.LastIndexByte(stat, ')') // comm may hold spaces and parentheses
	if i < 0 {
		return nil, false
	}
	return strings.Fields(string(stat[i+1:])), true
}

// ProcAlive reports whether process pid exists and is not a zombie (a
// killed orphan stays a zombie until PID 1 reaps it, which some container
// inits never do).
func ProcAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	f, ok := procStat(pid)
	if !ok {
		return syscall.Kill(pid, 0) == nil
	}
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

// ProcGroup returns the process group of a live process.
func ProcGroup(pid int) (int, bool) {
	f, ok := procStat(pid)
	if !ok || len(f) < 3 {
		return 0, false
	}
	pgid, err := strconv.Atoi(f[2])
	return pgid, err == nil
}

// Background is a CLI run started with CLIStart.
type Background struct {
	Cmd    *exec.Cmd
	stdout syncBuffer
	stderr syncBuffer
	done   chan struct{}
	res    Result
}

// Done is closed when the command has exited.
func (b *Background) Done() <-chan struct{} { return b.done }

// Exited reports whether the command has exited.
func (b *Background) Exited() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

// Stderr is what the command wrote to stderr so far.
func (b *Background) Stderr() string { return b.stderr.String() }

// Stdout is what the command wrote to stdout so far.
func (b *Background) Stdout() string { return b.stdout.String() }

// Result waits for the command and returns its outcome.
func (b *Background) Result() Result {
	<-b.done
	return b.res
}

// CLIStart runs crawlctl against the first web server without waiting for
// it (e.g. a command with --wait whose progress the test watches). It is
// killed, if still running, when the test ends.
func (c *Cluster) CLIStart(args ...string) *Background {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	cmd := exec.CommandContext(ctx, c.Bin, args...)
	cmd.Dir = c.Dir
	cmd.Env = append(append(os.Environ(), "CRAWLCTL_SERVER="+c.Server()), c.Env()...)
	b := &Background{Cmd: cmd, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &b.stdout, &b.stderr
	if err := cmd.Start(); err != nil {
		cancel()
		c.t.Fatalf("start crawlctl %v: %v", args, err)
	}
	go func() {
		defer cancel()
		err := cmd.Wait()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			code = -1
		}
		b.res = Result{Code: code, Stdout: b.stdout.String(), Stderr: b.stderr.String()}
		close(b.done)
	}()
	c.t.Cleanup(func() {
		cancel()
		<-b.done
	})
	return b
}
