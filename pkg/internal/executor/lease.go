package executor

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/runner"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/supervise"
)

// The lease is what keeps a flow from running twice. The reaper declares an
// executor lost once its last heartbeat is older than the cluster's offline
// threshold (database clock) and may then run its flows elsewhere. So an
// executor holds a lease of two thirds of that threshold, counted from the
// moment it sent its last successful heartbeat: when the lease runs out (the
// database is out of reach, or the executor was frozen) it kills its running
// jobs and claims nothing until a heartbeat succeeds again. The lease
// deadline is also written to a file that every job's supervisor watches,
// so jobs die on time even while this process cannot run (SIGSTOP).
//
// Times are CLOCK_BOOTTIME nanoseconds: monotonic, shared by every process
// on the host, and unaffected by wall-clock steps.

// errLeaseExpired is the cause a run is cancelled with when the lease ran out.
var errLeaseExpired = errors.New("executor lease expired")

// leaseNow reads the clock the job supervisors compare the lease with.
func leaseNow() int64 { return supervise.Now() }

type lease struct {
	mu       sync.Mutex
	deadline int64         // CLOCK_BOOTTIME ns; 0 before the first renewal
	dur      time.Duration // the lease last granted
	renewed  int64         // when the last renewing heartbeat was sent
	lost     bool          // expiry already acted upon
}

// duration is the current lease length.
func (l *lease) duration() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dur == 0 {
		return store.LeaseFor(0)
	}
	return l.dur
}

// expired reports whether a lease was held and has run out at now, and how
// long ago the last renewing heartbeat was sent.
func (l *lease) expired(now int64) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.deadline != 0 && now > l.deadline, time.Duration(now - l.renewed)
}

// renewLease extends the lease after a heartbeat (or the registration) sent
// at sent succeeded. If the lease had run out meanwhile (the executor was
// frozen or cut off), the runs are cancelled first: the cluster may already
// have given them to another executor, and a renewed lease must not let
// them start another job.
func (e *Executor) renewLease(sent int64, offline time.Duration) {
	if gone, ago := e.lease.expired(leaseNow()); gone {
		e.expireLease(ago)
	}
	d := store.LeaseFor(offline)
	e.lease.mu.Lock()
	e.lease.deadline, e.lease.dur, e.lease.renewed = sent+d.Nanoseconds(), d, sent
	wasLost := e.lease.lost
	e.lease.lost = false
	deadline := e.lease.deadline
	e.lease.mu.Unlock()
	if wasLost {
		e.log.Info().Dur("lease", d).Msg("lease renewed: claiming work again")
	}
	if 2*e.cfg.Heartbeat > d && e.leaseWarned.CompareAndSwap(false, true) {
		e.log.Warn().Dur("heartbeat", e.cfg.Heartbeat).Dur("lease", d).
			Msg("--heartbeat leaves little room in the lease (2/3 of the web servers' --offline-after): one slow heartbeat will kill running jobs; lower --heartbeat or raise --offline-after")
	}
	if err := supervise.WriteLease(e.leaseFile(), deadline); err != nil {
		e.log.Warn().Err(err).Msg("could not write the lease file; jobs keep running on the executor's own lease checks")
	}
}

// leaseValid says why this executor may not start anything now, or "".
func (e *Executor) leaseProblem() string {
	if gone, ago := e.lease.expired(leaseNow()); gone {
		return fmt.Sprintf("executor lease expired: no heartbeat reached the database for %s", ago.Round(time.Second))
	}
	return ""
}

// expireLease kills every run: the lease ran out ago after the last renewing
// heartbeat. Each run ends as interrupted and is queued again once the
// database can be reached (unless the cluster already moved it on).
func (e *Executor) expireLease(ago time.Duration) {
	e.lease.mu.Lock()
	first := !e.lease.lost
	e.lease.lost = true
	e.lease.mu.Unlock()
	runs := e.runs.all()
	if first {
		e.log.Error().Dur("since_heartbeat", ago).Int("running", len(runs)).
			Msg("lease expired: no heartbeat reached the database in time; killing running jobs and claiming nothing until one does")
	}
	cause := fmt.Errorf("%w: no heartbeat reached the database for %s", errLeaseExpired, ago.Round(time.Second))
	for _, r := range runs {
		r.leaseLost.Store(true)
		if !r.ending.Load() {
			r.cancel(cause)
		}
	}
}

// leaseInterrupted says why the run r, whose runner returned res, was
// interrupted by the lease, or "": the lease cancelled it, or a job
// supervisor killed (or did not start) a job because the lease had run out,
// which it may do before this process notices the expiry.
func (e *Executor) leaseInterrupted(ctx context.Context, r *run, res runner.Result) string {
	if cause := context.Cause(ctx); errors.Is(cause, errLeaseExpired) {
		return cause.Error()
	}
	if res.LeaseExpired || r.leaseLost.Load() {
		return errLeaseExpired.Error() + ": no heartbeat reached the database in time"
	}
	return ""
}

// leaseLoop acts on an expired lease as soon as it expires.
func (e *Executor) leaseLoop(ctx context.Context) {
	defer e.wg.Done()
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if gone, ago := e.lease.expired(leaseNow()); gone {
			e.expireLease(ago)
		}
	}
}

// leaseFile is where the lease deadline is written for the job supervisors.
func (e *Executor) leaseFile() string {
	return filepath.Join(e.cfg.WorkDir, "lease."+strconv.Itoa(e.Port()))
}
