package executor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/backoff"
	"github.com/crawlctl/crawlctl/pkg/internal/flow"
	"github.com/crawlctl/crawlctl/pkg/internal/runner"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

// linger is how long the writer lets job states and output pile up before
// writing them; the end of an execution, fencing and a full output buffer
// are written at once. Short jobs' start and end then share one
// transaction, with the end of the execution too, and a chain of them a
// transaction per linger; a watcher sees a job's state this much later
// at most.
const linger = 100 * time.Millisecond

// maxPendingLog is how many bytes of output may wait for the database before
// Log blocks the job's output reader (and so, through its pipe, the job).
const maxPendingLog = 8 << 20

// reporter hands the job states and log chunks of one execution attempt to
// the database in the background, so that a job never waits for a write. Its
// writer takes everything that piled up while the previous write was in
// flight and writes it in one transaction (group commit): a 40-job chain
// costs a few transactions per job at most, not one per line and state. A
// write that fails is kept and tried again with backoff until it succeeds,
// the database says the attempt was fenced, or the executor halts. The last
// write also records the end of the execution, in the same transaction.
type reporter struct {
	e       *Executor
	id      int64
	attempt int
	fence   func(error) // stops the run when the database fenced the attempt

	mu      sync.Mutex
	drained *sync.Cond // signalled when pending output shrinks or writing stops
	offsets map[string]int64
	jobs    []store.ExecutionJob
	logs    []store.LogChunk
	logSize int
	end     *store.ExecutionEnd
	live    map[string]bool // jobs whose last state is READY or RUNNING
	fenced  bool
	stopped bool // the writer returned

	kick   chan struct{}
	urgent chan struct{} // cuts the linger short
	done   chan struct{}
	err    error // why the last write failed for good; read after done
}

func newReporter(e *Executor, r *run) *reporter {
	rep := &reporter{
		e: e, id: r.id, attempt: r.attempt,
		fence:   func(err error) { r.cancel(fmt.Errorf("%v: %w", err, runner.ErrFenced)) },
		offsets: map[string]int64{},
		live:    map[string]bool{},
		kick:    make(chan struct{}, 1),
		urgent:  make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	rep.drained = sync.NewCond(&rep.mu)
	go rep.write()
	return rep
}

func (r *reporter) wake() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

func (r *reporter) hurry() {
	select {
	case r.urgent <- struct{}{}:
	default:
	}
	r.wake()
}

// JobUpdate queues a job state; it fails only once the attempt is fenced.
func (r *reporter) JobUpdate(_ context.Context, u runner.JobUpdate) error {
	if u.Status == runner.Running && u.Type != flow.TypeFlow {
		r.e.metrics.JobStarts.Inc()
	}
	j := store.ExecutionJob{Name: u.Job, Type: u.Type, Status: string(u.Status), Attempt: u.Attempt, ExitCode: u.ExitCode, Error: u.Error, Outputs: u.Outputs}
	if !u.StartTime.IsZero() {
		j.StartTime = &u.StartTime
	}
	if !u.EndTime.IsZero() {
		j.EndTime = &u.EndTime
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fenced {
		return runner.ErrFenced
	}
	r.jobs = append(r.jobs, j)
	if u.Status == runner.Ready || u.Status == runner.Running {
		r.live[u.Job] = true
	} else {
		delete(r.live, u.Job)
	}
	r.wake()
	return nil
}

// Log queues a chunk of output; it blocks while too much output waits for
// the database.
func (r *reporter) Log(_ context.Context, job string, attempt int, chunk []byte) error {
	if len(chunk) == 0 {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.logSize >= maxPendingLog && !r.fenced && !r.stopped {
		r.drained.Wait()
	}
	if r.fenced {
		return runner.ErrFenced
	}
	off := r.offsets[job] // one log per job, its attempts one after the other
	r.offsets[job] = off + int64(len(chunk))
	r.logs = append(r.logs, store.LogChunk{Job: job, Attempt: attempt, Offset: off, Data: chunk})
	r.logSize += len(chunk)
	if r.logSize >= maxPendingLog {
		r.hurry()
	}
	r.wake()
	return nil
}

// finish records the end of the attempt after everything queued before it,
// and waits for the writer. It returns nil once the end is recorded, the
// database's error otherwise (store.ErrFenced when another attempt owns the
// execution).
func (r *reporter) finish(end store.ExecutionEnd) error {
	r.mu.Lock()
	// Every job state of the attempt went through this reporter: with
	// none left READY or RUNNING, the end has no job to end.
	end.JobsEnded = len(r.live) == 0
	r.end = &end
	r.mu.Unlock()
	r.hurry()
	<-r.done
	return r.err
}

// abandon stops the writer without recording an end (the run was fenced).
func (r *reporter) abandon() {
	r.mu.Lock()
	r.fenced = true
	r.mu.Unlock()
	r.hurry()
	<-r.done
}

// write is the writer goroutine.
func (r *reporter) write() {
	defer func() {
		r.mu.Lock()
		r.stopped = true
		r.drained.Broadcast()
		r.mu.Unlock()
		close(r.done)
	}()
	t := time.NewTimer(linger)
	defer t.Stop()
	for range r.kick {
		t.Reset(linger)
		select {
		case <-t.C:
		case <-r.urgent:
		}
		r.mu.Lock()
		jobs, logs, size, end, fenced := r.jobs, r.logs, r.logSize, r.end, r.fenced
		r.jobs, r.logs = nil, nil
		r.mu.Unlock()
		if fenced {
			return
		}
		if len(jobs) > 0 || len(logs) > 0 || end != nil {
			err := r.save(jobs, logs, end)
			r.mu.Lock()
			r.logSize -= size
			r.drained.Broadcast()
			if errors.Is(err, store.ErrFenced) {
				r.fenced = true
			}
			r.mu.Unlock()
			switch {
			case errors.Is(err, store.ErrFenced):
				r.err = err
				if end == nil {
					r.fence(err)
				}
				return
			case err != nil:
				// The executor halted before the database came back.
				r.err = err
				return
			case end != nil:
				return
			}
		}
	}
}

// saveRetry paces the writes of a batch the database did not take: no bound
// on tries, only the executor's halt ends them.
var saveRetry = backoff.Policy{Base: 50 * time.Millisecond, Max: 2 * time.Second}

// save writes one batch, trying again with backoff until it is written, the
// attempt is fenced, or the executor halts. This is the one place where a
// job's progress is retried: the runner hands it over once.
func (r *reporter) save(jobs []store.ExecutionJob, logs []store.LogChunk, end *store.ExecutionEnd) error {
	return backoff.Retry(r.e.halt, saveRetry, func(failures int) error {
		ctx, cancel := context.WithTimeout(r.e.halt, 30*time.Second)
		defer cancel()
		err := r.e.commits.report(ctx, store.ReportBatch{ExecID: r.id, Attempt: r.attempt, Jobs: jobs, Logs: logs, End: end})
		if errors.Is(err, store.ErrFenced) {
			return backoff.Stop(err)
		}
		if err != nil && failures%10 == 0 {
			r.e.log.Warn().Err(err).Int64("execution", r.id).Int("attempt", r.attempt).Msg("cannot record progress yet; trying again")
		}
		return err
	})
}
