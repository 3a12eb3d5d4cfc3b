package executor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crawlctl/crawlctl/pkg/flow"
	"github.com/crawlctl/crawlctl/pkg/runner"
	"github.com/crawlctl/crawlctl/pkg/store"
)

// run is one execution running on this executor.
type run struct {
	id      int64
	attempt int
	cancel  context.CancelCauseFunc
	done    chan struct{}
	// ending is set once the runner returned and the outcome is being
	// recorded: the database no longer lists it as running here.
	ending atomic.Bool
}

// runSet tracks the executions running here.
type runSet struct {
	mu sync.Mutex
	m  map[int64]*run
}

func newRunSet() *runSet { return &runSet{m: map[int64]*run{}} }

func (s *runSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

func (s *runSet) get(id int64) *run {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[id]
}

func (s *runSet) all() []*run {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*run, 0, len(s.m))
	for _, r := range s.m {
		out = append(out, r)
	}
	return out
}

func (s *runSet) put(r *run) {
	s.mu.Lock()
	s.m[r.id] = r
	s.mu.Unlock()
}

func (s *runSet) remove(r *run) {
	s.mu.Lock()
	if s.m[r.id] == r {
		delete(s.m, r.id)
	}
	s.mu.Unlock()
}

// claimLoop looks for this executor's work whenever nudged and at least every
// Poll interval, so a lost HTTP nudge or cancel only delays work.
func (e *Executor) claimLoop(ctx context.Context) {
	defer e.wg.Done()
	t := time.NewTicker(e.cfg.Poll)
	defer t.Stop()
	for {
		e.poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-e.wake:
		}
	}
}

// poll reconciles the database's view of this executor's executions with the
// runs in this process: claim what is DISPATCHING to it, kill what is KILLING,
// stop what it no longer owns (fencing), and end what it owns but does not
// run (it restarted mid-run).
func (e *Executor) poll(ctx context.Context) {
	// No claim (the servlet's) may land between the query and the
	// reconciliation below, or a fresh run would look fenced or orphaned.
	e.claimMu.Lock()
	defer e.claimMu.Unlock()
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	items, err := e.store.ExecutorWork(pctx, e.ID())
	if err != nil {
		if ctx.Err() == nil {
			e.log.Warn().Err(err).Msg("poll for work failed")
		}
		return
	}
	owned := map[int64]store.WorkItem{}
	claimed := map[int64]bool{} // claimed by this poll, after the query
	for _, it := range items {
		local := e.runs.get(it.ID)
		switch it.Status {
		case store.ExecDispatching:
			// A local run of a row still DISPATCHING is being claimed.
			if local != nil || e.tryClaim(pctx, it) {
				claimed[it.ID] = true
			}
			continue
		case store.ExecKilling:
			if local != nil && local.attempt == it.Attempt {
				local.cancel(errors.New("cancelled"))
			}
		}
		if local == nil {
			// The database says this executor runs it, but this process does
			// not: it restarted in the middle. The processes died with it.
			status, msg := store.ExecFailed, "executor restarted while the flow ran"
			if it.Status == store.ExecKilling {
				status, msg = store.ExecKilled, "cancelled"
			}
			if err := e.store.FinishExecution(pctx, it.ID, e.ID(), it.Attempt, status, msg); err != nil && !errors.Is(err, store.ErrFenced) {
				e.log.Warn().Err(err).Int64("execution", it.ID).Msg("could not end orphaned execution")
			}
			continue
		}
		owned[it.ID] = it
	}
	for _, r := range e.runs.all() {
		if it, ok := owned[r.id]; (ok && it.Attempt == r.attempt) || claimed[r.id] || r.ending.Load() {
			continue
		}
		e.log.Warn().Int64("execution", r.id).Int("attempt", r.attempt).Msg("execution fenced: it was given to another attempt; killing its processes")
		r.cancel(runner.ErrFenced)
	}
}

// registered only after a successful claim, so this is always false.

// tryClaim claims a DISPATCHING execution and starts it, unless this executor
// cannot take it now (inactive and not pinned, full, stopping): then it is
// left for the dispatcher's claim timeout to re-queue elsewhere. It reports
// whether it claimed.
func (e *Executor) tryClaim(ctx context.Context, it store.WorkItem) bool {
	if reason := e.refusal(it); reason != "" {
		e.log.Debug().Int64("execution", it.ID).Str("reason", reason).Msg("not claiming")
		return false
	}
	ok, err := e.store.ClaimExecution(ctx, it.ID, e.ID(), it.Attempt)
	if err != nil {
		e.log.Warn().Err(err).Int64("execution", it.ID).Msg("claim failed")
		return false
	}
	if !ok {
		return false
	}
	rctx, cancel := context.WithCancelCause(context.Background())
	r := &run{id: it.ID, attempt: it.Attempt, cancel: cancel, done: make(chan struct{})}
	e.runs.put(r)
	e.metrics.Claims.Inc()
	e.log.Info().Int64("execution", it.ID).Int("attempt", it.Attempt).Msg("claimed execution")
	go e.execute(rctx, r)
	return true
}

// refusal says why this executor will not take it now, or "".
func (e *Executor) refusal(it store.WorkItem) string {
	if e.stopping.Load() {
		return "executor is shutting down"
	}
	if e.cfg.MaxFlows > 0 && e.runs.len() >= e.cfg.MaxFlows {
		return fmt.Sprintf("executor is full (%d of --max-flows %d running)", e.runs.len(), e.cfg.MaxFlows)
	}
	if !e.active.Load() && !it.Pinned {
		return "executor is inactive"
	}
	return ""
}

// execute runs one claimed execution to its end and records the outcome.
func (e *Executor) execute(ctx context.Context, r *run) {
	defer func() {
		e.runs.remove(r)
		close(r.done)
		e.nudge() // a slot is free
	}()
	log := e.log.With().Int64("execution", r.id).Int("attempt", r.attempt).Logger()
	res := e.runExecution(ctx, r)
	r.ending.Store(true)
	if res.Fenced {
		log.Warn().Msg("execution fenced; its outcome is not recorded")
		return
	}
	fctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := 0; ; i++ {
		err := e.store.FinishExecution(fctx, r.id, e.ID(), r.attempt, res.Status, res.Error)
		if err == nil || errors.Is(err, store.ErrFenced) || i >= 5 || fctx.Err() != nil {
			if err != nil {
				log.Error().Err(err).Str("status", res.Status).Msg("could not record the end of the execution")
			}
			break
		}
		select {
		case <-time.After(backoff(500*time.Millisecond, i+1)):
		case <-fctx.Done():
		}
	}
	e.metrics.Finished.WithLabelValues(res.Status).Inc()
	log.Info().Str("status", res.Status).Str("error", res.Error).Msg("execution ended")
}

func (e *Executor) runExecution(ctx context.Context, r *run) runner.Result {
	ex, err := e.store.GetExecution(ctx, r.id)
	if err != nil {
		return runner.Result{Status: store.ExecFailed, Error: "load execution: " + err.Error()}
	}
	pv, err := e.store.GetProjectVersion(ctx, ex.Project, ex.Version)
	if err != nil {
		return runner.Result{Status: store.ExecFailed, Error: "load project: " + err.Error()}
	}
	var proj flow.Project
	if err := json.Unmarshal([]byte(pv.Flows), &proj); err != nil {
		return runner.Result{Status: store.ExecFailed, Error: "load project flows: " + err.Error()}
	}
	fl := proj.Flow(ex.Flow)
	if fl == nil {
		return runner.Result{Status: store.ExecFailed, Error: fmt.Sprintf("flow %q not found in %s version %d", ex.Flow, ex.Project, ex.Version)}
	}
	execDir := filepath.Join(e.cfg.WorkDir, "executions", fmt.Sprintf("%d.%d", r.id, r.attempt))
	_ = os.RemoveAll(execDir)
	cache := runner.WorkDirCache{Root: filepath.Join(e.cfg.WorkDir, "projects")}
	key := fmt.Sprintf("%s/%d-%s", ex.Project, ex.Version, pv.SHA256[:12])
	err = cache.Prepare(key, func(dir string) error {
		archive, err := e.store.ProjectArchive(ctx, pv.ProjectID, pv.Version)
		if err != nil {
			return err
		}
		// The web server enforced its size limits at upload; extraction
		// keeps the path safety checks but not the server's size limits.
		lim := flow.Limits{MaxArchiveBytes: int64(len(archive)) + 1, MaxUnpackedBytes: 1 << 50, MaxFiles: math.MaxInt32}
		return flow.Extract(bytes.NewReader(archive), int64(len(archive)), dir, lim)
	}, execDir)
	if err != nil {
		return runner.Result{Status: store.ExecFailed, Error: "prepare working directory: " + err.Error()}
	}
	defer os.RemoveAll(execDir)
	rep := &reporter{e: e, id: r.id, attempt: r.attempt, offsets: map[string]int64{}}
	return runner.Run(ctx, runner.Execution{
		ID:             r.id,
		Project:        ex.Project,
		ProjectVersion: ex.Version,
		Flow:           fl,
		Params:         ex.Params,
		FailureAction:  ex.FailureAction,
		WorkDir:        filepath.Join(execDir, fl.Dir), // the folder of the .flow file
		LogDir:         filepath.Join(e.cfg.WorkDir, "logs", fmt.Sprintf("%d.%d", r.id, r.attempt)),
	}, rep)
}

// reporter writes job states and logs of one execution attempt to the
// database; a stale attempt turns into runner.ErrFenced.
type reporter struct {
	e       *Executor
	id      int64
	attempt int
	mu      sync.Mutex
	offsets map[string]int64
}

func (r *reporter) JobUpdate(ctx context.Context, u runner.JobUpdate) error {
	if u.Status == runner.Running && u.Type != flow.TypeFlow {
		r.e.metrics.JobStarts.Inc()
	}
	j := store.ExecutionJob{Name: u.Job, Type: u.Type, Status: string(u.Status), Attempt: u.Attempt, ExitCode: u.ExitCode, Error: u.Error}
	if !u.StartTime.IsZero() {
		j.StartTime = &u.StartTime
	}
	if !u.EndTime.IsZero() {
		j.EndTime = &u.EndTime
	}
	err := r.e.store.UpsertJob(ctx, r.id, r.e.ID(), r.attempt, j)
	if errors.Is(err, store.ErrFenced) {
		return fmt.Errorf("%v: %w", err, runner.ErrFenced)
	}
	return err
}

func (r *reporter) Log(ctx context.Context, job string, attempt int, chunk []byte) error {
	if len(chunk) == 0 {
		return nil
	}
	r.mu.Lock()
	off := r.offsets[job]
	r.offsets[job] = off + int64(len(chunk))
	r.mu.Unlock()
	return r.e.store.AppendLog(ctx, r.id, r.attempt, job, attempt, off, chunk)
}

// drain waits for running executions up to DrainTimeout, then kills the rest.
func (e *Executor) drain() {
	runs := e.runs.all()
	if len(runs) == 0 {
		return
	}
	e.log.Info().Int("running", len(runs)).Dur("drain_timeout", e.cfg.DrainTimeout).Msg("waiting for running flows to finish")
	deadline := time.After(e.cfg.DrainTimeout)
	for _, r := range runs {
		select {
		case <-r.done:
		case <-deadline:
			for _, r := range e.runs.all() {
				r.cancel(fmt.Errorf("executor shutting down: drain timeout %s exceeded", e.cfg.DrainTimeout))
			}
			for _, r := range runs {
				<-r.done
			}
			return
		}
	}
}

func (e *Executor) servletExecute(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.Form.Get("execid"), 10, 64)
	if err != nil {
		servletError(w, http.StatusBadRequest, "Parameter execid not set or not a number")
		return
	}
	// One indexed query: this executor's pending rows (few), not the
	// execution with its jobs.
	items, err := e.store.ExecutorWork(r.Context(), e.ID())
	if err != nil {
		servletError(w, http.StatusServiceUnavailable, "database unavailable: "+err.Error())
		return
	}
	i := slices.IndexFunc(items, func(it store.WorkItem) bool { return it.ID == id && it.Status == store.ExecDispatching })
	if i < 0 {
		servletError(w, http.StatusConflict, fmt.Sprintf("execution %d is not waiting for this executor", id))
		return
	}
	if reason := e.refusal(items[i]); reason != "" {
		servletError(w, http.StatusServiceUnavailable, reason)
		return
	}
	// Claim right here rather than waking the poll loop: no hand-off. The
	// conditional update keeps it exclusive with the loop.
	if e.runs.get(id) == nil {
		e.claimMu.Lock()
		e.tryClaim(r.Context(), items[i])
		e.claimMu.Unlock()
	}
	writeJSON(w, http.StatusOK, map[string]string{})
}

func (e *Executor) servletCancel(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.Form.Get("execid"), 10, 64)
	if err != nil {
		servletError(w, http.StatusBadRequest, "Parameter execid not set or not a number")
		return
	}
	user := r.Form.Get("user")
	if user == "" {
		user = "executor-http " + r.RemoteAddr
	}
	ex, err := e.store.CancelExecution(r.Context(), id, user, "")
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			servletError(w, http.StatusNotFound, err.Error())
			return
		}
		servletError(w, http.StatusConflict, err.Error())
		return
	}
	if local := e.runs.get(id); local != nil {
		local.cancel(errors.New(ex.KillReason))
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "success"})
}

func (e *Executor) servletLog(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.Form.Get("execid"), 10, 64)
	if err != nil {
		servletError(w, http.StatusBadRequest, "Parameter execid not set or not a number")
		return
	}
	job := ""
	if r.Form.Get("type") == "job" {
		job = r.Form.Get("jobId")
		if job == "" {
			servletError(w, http.StatusBadRequest, "Parameter jobId not set")
			return
		}
	}
	offset, _ := strconv.ParseInt(r.Form.Get("offset"), 10, 64)
	length, _ := strconv.Atoi(r.Form.Get("length"))
	data, next, err := e.store.ReadLog(r.Context(), id, job, offset, length)
	if err != nil {
		servletError(w, http.StatusNotFound, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"offset": offset, "length": next - offset, "data": string(data)})
}
