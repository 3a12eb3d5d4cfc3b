package executor

import (
	"bytes"
	"context"
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

	"github.com/crawlctl/crawlctl/pkg/internal/dispatch"
	"github.com/crawlctl/crawlctl/pkg/internal/flow"
	"github.com/crawlctl/crawlctl/pkg/internal/runner"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

// run is one execution running on this executor.
type run struct {
	id      int64
	attempt int
	spec    func() (*store.RunSpec, error) // what to run, possibly read ahead of the claim
	cancel  context.CancelCauseFunc
	done    chan struct{}
	// ending is set once the runner returned and the outcome is being
	// recorded: the database no longer lists it as running here.
	ending atomic.Bool
	// leaseLost is set when the lease ran out while it ran.
	leaseLost atomic.Bool
	// pause follows the execution's paused flag in the database (each poll).
	pause runner.PauseGate
	// noSuccessMail is set once the spec is read and nobody is to be
	// mailed on success.
	noSuccessMail bool
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
			if local != nil {
				claimed[it.ID] = true
			} else if ok, _ := e.tryClaim(pctx, it, nil); ok {
				claimed[it.ID] = true
			}
			continue
		case store.ExecKilling:
			if local != nil && local.attempt == it.Attempt {
				local.cancel(errors.New("cancelled"))
			}
		}
		if local != nil && local.attempt == it.Attempt {
			local.pause.Set(it.Paused)
		}
		if local == nil {
			// The database says this executor runs it, but this process does
			// not: it restarted in the middle. Its jobs died with it (their
			// supervisors kill them), so the flow is retried if it allows,
			// failed otherwise, as if the executor had been lost.
			o := store.ExecutionOwner{ID: it.ID, ExecutorID: e.ID(), Attempt: it.Attempt, Status: it.Status, FlowRetries: it.FlowRetries, Excluded: it.Excluded}
			if _, err := e.store.AbandonExecution(pctx, o, "executor restarted while the flow ran"); err != nil {
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

// tryClaim claims a DISPATCHING execution and starts it: true, nil. When this
// executor cannot take it now (full, stopping, lease expired, or — as the
// claim's conditional update finds in the database — store.ErrInactive:
// inactive while the execution is not pinned to it), or the database could
// not be asked, it returns false and an error that says why, and leaves the
// execution to the dispatcher. false, nil: the execution no longer waits for
// this attempt (claimed already, cancelled or re-queued). spec, when set,
// delivers the execution's RunSpec (read while the claim was under way);
// otherwise the run reads it.
func (e *Executor) tryClaim(ctx context.Context, it store.WorkItem, spec func() (*store.RunSpec, error)) (bool, error) {
	if reason := e.refusal(); reason != "" {
		e.log.Debug().Int64("execution", it.ID).Str("reason", reason).Msg("not claiming")
		return false, errors.New(reason)
	}
	ok, err := e.store.ClaimExecution(ctx, it.ID, e.ID(), it.Attempt)
	if err != nil {
		if !errors.Is(err, store.ErrInactive) {
			e.log.Warn().Err(err).Int64("execution", it.ID).Msg("claim failed")
		}
		return false, err
	}
	if !ok {
		return false, nil
	}
	rctx, cancel := context.WithCancelCause(context.Background())
	r := &run{id: it.ID, attempt: it.Attempt, spec: spec, cancel: cancel, done: make(chan struct{})}
	e.runs.put(r)
	e.metrics.Claims.Inc()
	e.log.Info().Int64("execution", it.ID).Int("attempt", it.Attempt).Msg("claimed execution")
	go e.execute(rctx, r)
	return true, nil
}

// refusal says why this executor takes nothing now, or "". Whether it is
// active is not its own to say: the claim asks the database.
func (e *Executor) refusal() string {
	if e.stopping.Load() {
		return "executor is shutting down"
	}
	if p := e.leaseProblem(); p != "" {
		return p
	}
	if e.cfg.MaxFlows > 0 && e.runs.len() >= e.cfg.MaxFlows {
		e.refusedFull.Store(true)
		return fmt.Sprintf("executor is full (%d of --max-flows %d running)", e.runs.len(), e.cfg.MaxFlows)
	}
	return ""
}

// execute runs one claimed execution to its end and records the outcome.
func (e *Executor) execute(ctx context.Context, r *run) {
	defer func() {
		e.runs.remove(r)
		close(r.done)
		if e.refusedFull.Swap(false) {
			e.nudge() // a slot is free for what was refused
		}
	}()
	log := e.log.With().Int64("execution", r.id).Int("attempt", r.attempt).Logger()
	rep := newReporter(e, r)
	res := e.runExecution(ctx, r, rep)
	r.ending.Store(true)
	if res.Fenced {
		rep.abandon()
		log.Warn().Msg("execution fenced; its outcome is not recorded")
		return
	}
	end := store.ExecutionEnd{Status: res.Status, Error: res.Error, NoSuccessMail: r.noSuccessMail}
	if why := e.leaseInterrupted(ctx, r, res); why != "" && res.Status != store.ExecSucceeded {
		// Not the flow's fault: it starts again once the database is back
		// (unless the cluster already gave it to another executor).
		end = store.ExecutionEnd{Interrupted: true, Requeue: dispatch.Policy(dispatch.DefaultMaxFailures), Error: "run interrupted: " + why}
	}
	if err := rep.finish(end); err != nil {
		if errors.Is(err, store.ErrFenced) {
			log.Warn().Str("status", res.Status).Msg("execution fenced at its end; its outcome is not recorded")
			return
		}
		log.Error().Err(err).Str("status", res.Status).Msg("could not record the end of the execution")
		return
	}
	e.metrics.Finished.WithLabelValues(res.Status).Inc()
	log.Info().Str("status", res.Status).Str("error", res.Error).Msg("execution ended")
}

func (e *Executor) runExecution(ctx context.Context, r *run, rep runner.Reporter) runner.Result {
	var spec *store.RunSpec
	var err error
	// failed is the outcome of a failure before the flow starts: a run
	// killed or fenced meanwhile ends as the runner would end it, not as a
	// failure of its own.
	failed := func(msg string) runner.Result {
		if res, ok := runner.Stopped(ctx); ok {
			return res
		}
		return runner.Result{Status: store.ExecFailed, Error: msg}
	}
	if r.spec != nil {
		spec, err = r.spec()
	} else {
		spec, err = e.store.ExecutionRunSpec(ctx, r.id)
	}
	if err != nil {
		return failed(err.Error())
	}
	r.noSuccessMail = !spec.SuccessEmails
	proj, err := e.project(ctx, spec)
	if err != nil {
		return failed("load project flows: " + err.Error())
	}
	fl := proj.Flow(spec.Flow)
	if fl == nil {
		return runner.Result{Status: store.ExecFailed, Error: fmt.Sprintf("flow %q not found in %s version %d", spec.Flow, spec.Project, spec.Version)}
	}
	execDir := filepath.Join(e.cfg.WorkDir, "executions", fmt.Sprintf("%d.%d", r.id, r.attempt))
	_ = os.RemoveAll(execDir)
	key := fmt.Sprintf("%s/%d-%s", spec.Project, spec.Version, spec.SHA256[:12])
	// The extracted version stays while the execution runs, whatever the
	// cache limits say.
	release := e.cache.Use(key)
	defer release()
	err = e.cache.Prepare(key, func(dir string) error {
		archive, err := e.store.ProjectArchive(ctx, spec.ProjectID, spec.Version)
		if err != nil {
			return err
		}
		// The web server enforced its size limits at upload; extraction
		// keeps the path safety checks but not the server's size limits.
		lim := flow.Limits{MaxArchiveBytes: int64(len(archive)) + 1, MaxUnpackedBytes: 1 << 50, MaxFiles: math.MaxInt32}
		return flow.Extract(bytes.NewReader(archive), int64(len(archive)), dir, lim)
	}, execDir)
	if err != nil {
		return failed("prepare working directory: " + err.Error())
	}
	defer os.RemoveAll(execDir)
	return runner.Run(ctx, runner.Execution{
		ID:             r.id,
		Project:        spec.Project,
		ProjectVersion: spec.Version,
		Flow:           fl,
		Params:         spec.Params,
		FailureAction:  spec.FailureAction,
		Disabled:       spec.Disabled,
		RetryOf:        spec.RetryOf,
		Reused:         spec.Reused,
		Pause:          &r.pause,
		WorkDir:        filepath.Join(execDir, fl.Dir), // the folder of the .flow file
		LogDir:         filepath.Join(e.logsDir(), logDirName(r.id, r.attempt)),
		Env:            e.jobEnv,
		LeaseFile:      e.leaseFile(),
		StateDir:       e.jobsDir(),
		Jobs:           e.jobs,
	}, rep)
}

// project returns the parsed flows of the execution's project version. A
// stored version never changes, so they are parsed once per executor and
// kept, keyed by the archive's checksum as well (a project deleted and
// uploaded again reuses version numbers).
func (e *Executor) project(ctx context.Context, spec *store.RunSpec) (*flow.Project, error) {
	key := fmt.Sprintf("%d/%d/%s", spec.ProjectID, spec.Version, spec.SHA256)
	if p := e.projects.get(key); p != nil {
		return p, nil
	}
	pv, err := e.store.GetProjectVersion(ctx, spec.Project, spec.Version)
	if err != nil {
		return nil, err
	}
	proj, err := flow.Decode(pv.Flows)
	if err != nil {
		return nil, err
	}
	if pv.SHA256 == spec.SHA256 {
		e.projects.put(key, proj)
	}
	return proj, nil
}

// projectCache holds parsed project versions, at most max of them.
type projectCache struct {
	mu  sync.Mutex
	max int
	m   map[string]*flow.Project
}

func (c *projectCache) get(key string) *flow.Project {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[key]
}

func (c *projectCache) put(key string, p *flow.Project) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*flow.Project{}
	}
	if len(c.m) >= c.max {
		for k := range c.m { // drop one at random
			delete(c.m, k)
			break
		}
	}
	c.m[key] = p
}

// drain waits for running executions up to DrainTimeout, then kills the
// rest. A run whose end cannot be recorded (the database is down) is given
// up on a little later.
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
			giveUp := time.AfterFunc(30*time.Second, e.haltNow)
			defer giveUp.Stop()
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
	// The dispatcher names the attempt it assigned: the executor then claims
	// with the conditional update alone, which also checks in the database
	// that it is active (or the execution is pinned here). Without it, one
	// indexed query reads this executor's pending rows first.
	it := store.WorkItem{ID: id, Status: store.ExecDispatching}
	attempt, err := strconv.Atoi(r.Form.Get("attempt"))
	if err != nil {
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
		it = items[i]
	} else {
		it.Attempt = attempt
	}
	if reason := e.refusal(); reason != "" {
		servletError(w, http.StatusServiceUnavailable, reason)
		return
	}
	// Claim right here rather than waking the poll loop: no hand-off. The
	// conditional update keeps it exclusive with the loop. What to run never
	// changes after the submit, so it is read at the same time as the claim.
	// The claim does not follow the request's context: a caller that gives
	// up must not leave a claim committed but never started.
	spec := e.readSpec(id)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 30*time.Second)
	defer cancel()
	e.claimMu.Lock()
	claimed := e.runs.get(id) != nil
	if !claimed {
		claimed, err = e.tryClaim(ctx, it, spec)
	}
	e.claimMu.Unlock()
	switch {
	case errors.Is(err, store.ErrInactive):
		servletError(w, http.StatusServiceUnavailable, "executor is inactive")
		return
	case err != nil && !claimed:
		// The database could not be asked: not a refusal, the poll
		// claims it later.
		servletError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if !claimed {
		servletError(w, http.StatusConflict, fmt.Sprintf("execution %d attempt %d is not waiting for this executor", id, it.Attempt))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{})
}

// readSpec starts reading execution id's RunSpec and returns a function that
// waits for the result.
func (e *Executor) readSpec(id int64) func() (*store.RunSpec, error) {
	type result struct {
		spec *store.RunSpec
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(e.halt, 30*time.Second)
		defer cancel()
		spec, err := e.store.ExecutionRunSpec(ctx, id)
		ch <- result{spec, err}
	}()
	return sync.OnceValues(func() (*store.RunSpec, error) {
		r := <-ch
		return r.spec, r.err
	})
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
