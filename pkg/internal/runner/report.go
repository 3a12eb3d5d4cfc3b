package runner

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// reportTimeout bounds one Reporter call, for Reporters that honour their
// context.
const reportTimeout = 30 * time.Second

// call invokes a Reporter method once: retrying is the Reporter's own
// business (the executor's keeps a failed write and tries it again until it
// is recorded). It returns the Reporter's error. After ErrFenced it makes no
// more calls and returns nil: the execution is stopping and nobody is
// listening.
func (r *runner) call(f func(ctx context.Context) error) error {
	if r.isFenced() {
		return nil
	}
	ctx, cancel := context.WithTimeout(r.repCtx, reportTimeout)
	defer cancel()
	err := f(ctx)
	if errors.Is(err, ErrFenced) {
		r.fence(err)
		return nil
	}
	return err
}

// update reports a status change, noting in the flow log when it could not.
func (r *runner) update(u JobUpdate) {
	err := r.call(func(ctx context.Context) error { return r.rep.JobUpdate(ctx, u) })
	if err != nil {
		r.flowLog("cannot report status %s of job %s: %v", u.Status, u.Job, err)
	}
}

// flowLog writes one line of the flow-level log, prefixed with the UTC time,
// to the Reporter and the local flow log file.
func (r *runner) flowLog(format string, args ...any) {
	line := []byte(time.Now().UTC().Format(time.RFC3339) + " " + fmt.Sprintf(format, args...) + "\n")
	r.flowLogMu.Lock()
	if r.flowLogFile != nil {
		r.flowLogFile.Write(line)
	}
	r.flowLogMu.Unlock()
	// A flow-log line that cannot be delivered is only kept locally: reporting
	// the failure through the same channel would not fare better.
	r.call(func(ctx context.Context) error { return r.rep.Log(ctx, "", 0, line) })
}

// discardReporter is used when Run is given a nil Reporter.
type discardReporter struct{}

func (discardReporter) JobUpdate(context.Context, JobUpdate) error     { return nil }
func (discardReporter) Log(context.Context, string, int, []byte) error { return nil }
