package testcluster

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/procstat"
	"github.com/crawlctl/crawlctl/pkg/internal/testcluster/harness"
)

// ProcAlive reports whether process pid exists and is not a zombie (see
// package procstat).
func ProcAlive(pid int) bool { return procstat.Alive(pid) }

// ProcGroup returns the process group of a live process.
func ProcGroup(pid int) (int, bool) { return procstat.Group(pid) }

// Background is a CLI run started with CLIStart.
type Background struct {
	Cmd    *exec.Cmd
	stdout harness.Output
	stderr harness.Output
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
