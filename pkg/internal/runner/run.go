// Package runner runs one execution's DAG of jobs on an executor: processes,
// parameters, conditions, retries, timeouts, cancellation and log capture.
// The executor daemon calls Run for each claimed execution.
//
// # Scheduling
//
// A node starts once every dependency (a sibling in the same DAG) has ended
// and its condition holds. With the default condition (empty or all_success)
// a node whose dependencies include a FAILED, KILLED or CANCELLED one is
// CANCELLED without running; a SKIPPED dependency counts as a success, as in
// Azkaban. Any other condition that evaluates false makes the node SKIPPED.
// Command jobs run in parallel up to Execution.MaxParallel processes; no-op
// jobs and embedded-flow containers do not count against that bound.
//
// A condition combines the macros all_success, all_failed, all_done,
// one_success, one_failed and one_done (about the statuses of the node's
// dependencies: SUCCEEDED and SKIPPED count as success; FAILED, KILLED and
// CANCELLED as failure), comparisons such as ${a:key} == 'value' (==, !=, <,
// <=, >, >=; numeric when both sides are numbers), parentheses, &&, || and !.
// A condition that cannot be evaluated (a syntax error, an undefined
// parameter) fails the node.
//
// When a job fails for good (after its retries), Execution.FailureAction
// decides what happens next:
//
//   - finishCurrent (the default): running jobs continue to their end and
//     nothing new starts; every node not yet started ends CANCELLED, including
//     nodes whose condition (all_done, one_failed, ...) would have let them run.
//   - cancelImmediately: running jobs are killed (KILLED) and every node not
//     yet started ends CANCELLED.
//   - finishPossible: scheduling goes on; the failure only affects nodes
//     through their conditions, so all_success dependents are CANCELLED while
//     a one_failed or all_done node still runs. This is the only action under
//     which a node can start after a failure.
//
// While Execution.Pause is set (Azkaban's pauseFlow), nothing new starts;
// running jobs go on, and the execution waits for its resume before it
// decides anything else. A cancel still kills a paused execution.
//
// A node named in Execution.Disabled (Azkaban's disabled jobs) does not run:
// when its turn comes and its condition holds, it ends SKIPPED ("disabled at
// submit") and its dependants go on as if it had succeeded; a disabled
// embedded flow skips its whole DAG.
//
// Any FAILED or KILLED job makes the execution FAILED, whatever the conditions
// made of it downstream.
//
// An embedded flow (a node of type flow) is a container: it reports RUNNING
// when its first descendant starts, and when its DAG has ended it ends FAILED
// if a child failed, KILLED if a child was killed, CANCELLED if a child was
// cancelled and SUCCEEDED otherwise. A container that is skipped or cancelled
// before starting takes its whole DAG with it.
//
// # Jobs
//
// A command job runs its "command", then "command.1", "command.2", … in
// numeric order, each with /bin/sh -c in a process group of its own, and
// stops at the first failure. Each command runs under a job supervisor
// (package supervise, started from Execution.Supervisor): whatever the
// command leaves running when it exits, setsid daemons included, is killed;
// if the executor dies, its jobs die within a second; and with
// Execution.LeaseFile set, a job is killed at once (KILLED, "executor lease
// expired") when the executor's lease runs out, and none starts after. Other configuration keys: working.dir
// (relative to Execution.WorkDir), env.NAME, retries, retry.backoff
// (milliseconds) and timeout (a Go duration or a number of seconds, per
// attempt). A job gets Execution.Env (by default JobEnv: a few base
// variables of the executor's environment, never its CRAWLCTL_ settings and
// secrets) plus its env.NAME entries,
// JOB_NAME, JOB_PATH (the qualified name), JOB_ATTEMPT,
// JOB_OUTPUT_PROP_FILE, AZKABAN_EXEC_ID and AZKABAN_FLOW_ID; started
// through Execution.Jobs, also supervise.MarkerVar (JOB_RUN_ID), random and
// unique to the run, which replaces any value set otherwise. When it
// succeeds, a JSON object written to $JOB_OUTPUT_PROP_FILE becomes its output
// properties.
//
// A job being retried, backoff included, keeps its parallelism slot and
// counts as running: under finishCurrent it goes on retrying after another
// job failed. Configuration errors (an undefined parameter, an invalid
// timeout…) fail the job at once, without retries.
//
// # Parameters
//
// Config values may refer to parameters as ${name}. A name is looked up, highest
// precedence first, in Execution.Params (submit-time overrides), the node's
// own config, the configs of its enclosing embedded flows (inner to outer),
// the flow config, and finally the built-ins azkaban.flow.execid,
// azkaban.flow.flowid, azkaban.flow.projectname, azkaban.flow.projectversion,
// azkaban.job.id and azkaban.job.attempt. Values are resolved recursively
// and only when used; an undefined name, or a reference loop, fails the job.
// ${job:key} is the output property key of another job, named by sibling
// name or by qualified path; it must have succeeded already. Shell forms such
// as ${VAR:-x} or ${#VAR} are left to the shell, but a plain ${VAR} is a
// parameter reference: write $VAR for a shell variable.
//
// # Reporting
//
// Every status change goes to Reporter.JobUpdate and output to Reporter.Log;
// the Reporter must be safe for concurrent use. With Execution.LogDir set, a
// job's output is also appended to LogDir/<job path with ':' replaced by
// '.'>.<attempt>.log and the flow-level log to LogDir/_flow.log. Each status
// change and chunk is handed to the Reporter once: a Reporter that must not
// lose anything retries on its own. Any other Reporter error is noted in the
// flow log and dropped (the execution goes on), except ErrFenced, which
// stops the execution at once: running jobs are killed, nothing more starts
// and nothing more is reported.
package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/flow"
	"github.com/crawlctl/crawlctl/pkg/internal/supervise"
)

// JobStatus is the state of a job or embedded-flow container.
type JobStatus string

// Job statuses, named as in Azkaban.
const (
	Ready     JobStatus = "READY" // not started yet; the initial state, never reported
	Running   JobStatus = "RUNNING"
	Succeeded JobStatus = "SUCCEEDED"
	Failed    JobStatus = "FAILED"
	Killed    JobStatus = "KILLED"
	Skipped   JobStatus = "SKIPPED"
	Cancelled JobStatus = "CANCELLED"
)

// terminal reports whether s is a final status.
func (s JobStatus) terminal() bool {
	switch s {
	case Succeeded, Failed, Killed, Skipped, Cancelled:
		return true
	}
	return false
}

// Failure actions (Azkaban's failureAction).
const (
	FinishCurrent     = "finishCurrent"
	CancelImmediately = "cancelImmediately"
	FinishPossible    = "finishPossible"
)

// Execution is one run of a flow, as claimed by the executor.
type Execution struct {
	ID             int64
	Project        string
	ProjectVersion int
	Flow           *flow.Flow
	Params         map[string]string // submit-time overrides (Azkaban flowOverride): win over flow and job config
	FailureAction  string            // "" means FinishCurrent
	Disabled       []string          // job paths disabled at submit (Azkaban's disabled): they end SKIPPED when their turn comes
	// Reused are the jobs of a retry (RetryOf) that succeeded in an earlier
	// execution, by path, with their output properties: they end SKIPPED
	// at once without running, and their output properties are those given.
	Reused      map[string]map[string]string
	RetryOf     int64
	Pause       *PauseGate    // while it is set, no job starts (running ones go on); nil = never paused
	WorkDir     string        // per-execution dir already holding the project files; jobs run here (or in working.dir)
	LogDir      string        // local log files go here (created if missing); "" = no local files
	MaxParallel int           // independent jobs running at once; 0 = 8
	KillGrace   time.Duration // SIGTERM -> SIGKILL grace on cancel/timeout; 0 = 5s
	Env         []string      // base environment for jobs; nil = JobEnv(os.Environ(), nil)

	// Every job command runs under a supervisor (package supervise), so
	// that nothing a job started outlives it, and no job outlives the
	// executor.
	Supervisor string // the crawlctl binary to run supervisors from; "" = the running binary
	LeaseFile  string // the executor's lease file (supervise.WriteLease): jobs are killed, or not started, once its deadline has passed; "" = no lease
	StateDir   string // supervisors record their jobs here while they run, for supervise.KillLeftovers; "" = no records
	// Jobs, when set, starts every job command through the executor's
	// long-lived supervisor (its own binary, lease file and state
	// directory apply, not the three fields above); nil = a supervisor
	// per job.
	Jobs *supervise.Pool
}

// JobUpdate is one status change of a job or embedded-flow container.
type JobUpdate struct {
	Job       string    // qualified path: embedded names joined by ':' e.g. "embedded_flow1:shell_echo"
	Type      string    // the node type: command, noop or flow
	Status    JobStatus //
	Attempt   int       // 0 for the first try, 1 for the first retry … (Azkaban's azkaban.job.attempt)
	StartTime time.Time // zero until started
	EndTime   time.Time // zero until ended
	ExitCode  *int      // for command jobs that exited
	Error     string    // why it failed/was killed/skipped/cancelled, one line
	// Outputs are a succeeded job's output properties (nil for none), kept
	// so that a retry of the execution can reuse them.
	Outputs map[string]string
}

// Reporter receives an execution's progress. Its methods are called from
// several goroutines at once, each update and chunk once: an error other
// than ErrFenced is not retried.
type Reporter interface {
	// JobUpdate is called on every status change of a job (including the
	// embedded-flow container nodes, whose status follows their children).
	JobUpdate(ctx context.Context, u JobUpdate) error
	// Log receives output in chunks. job == "" is the flow-level log
	// (runner's own lines: "job X started (attempt 0)", "job X failed: exit
	// code 3"…). For a job, chunk is raw stdout+stderr bytes interleaved as
	// written.
	Log(ctx context.Context, job string, attempt int, chunk []byte) error
}

// ErrFenced: a Reporter returns an error wrapping this when the execution no
// longer belongs to this executor. The runner then kills every running job at
// once (no grace beyond KillGrace), starts nothing more, and Run returns
// Result{Status: "KILLED", Error: "...fenced..."} with Fenced=true.
var ErrFenced = errors.New("execution fenced: another attempt owns it")

// Result is the outcome of an execution.
type Result struct {
	Status string // "SUCCEEDED", "FAILED" or "KILLED"
	Error  string // empty on success; otherwise one line naming which job failed and why, e.g. `job "b" failed: exit code 3`
	Fenced bool
	// LeaseExpired: a job was killed, or not started, because the
	// executor's lease ran out (Execution.LeaseFile).
	LeaseExpired bool
}

// Defaults for zero Execution fields.
const (
	defaultMaxParallel = 8
	defaultKillGrace   = 5 * time.Second
)

// pathSep joins the names of embedded flows and their nodes in a job path.
const pathSep = ":"

// flowLogName is the file in Execution.LogDir that receives the flow-level log.
const flowLogName = "_flow.log"

// Run runs the execution to its end and returns the outcome. Cancelling ctx
// kills the execution: SIGTERM to every running job's process group, SIGKILL
// after KillGrace; jobs end KILLED, unstarted jobs CANCELLED, and
// Result.Status is "KILLED" with Error = context.Cause(ctx).Error() when a
// cause was given.
//
// A cancellation cause wrapping ErrFenced is handled like a Reporter
// returning ErrFenced: nothing more is reported and Result.Fenced is set.
//
// Run returns only once every job process and every goroutine it started has
// ended.
func Run(ctx context.Context, ex Execution, rep Reporter) Result {
	if rep == nil {
		rep = discardReporter{}
	}
	r, err := newRunner(ctx, ex, rep)
	if err != nil {
		return Result{Status: string(Failed), Error: err.Error()}
	}
	defer r.close()
	return r.run()
}

// node is a job or embedded-flow container of the execution.
type node struct {
	def      *flow.Node
	path     string // qualified name
	index    int    // position in runner.nodes
	parent   *node  // enclosing container; nil at the top level
	deps     []*node
	children []*node // the embedded DAG of a container

	// Scheduling state, owned by the goroutine running runner.run.
	status    JobStatus // "" until started or decided
	ready     bool      // condition checked and satisfied; waiting for a slot
	active    bool      // container whose DAG is being scheduled
	attempt   int
	startTime time.Time
	endTime   time.Time
	exitCode  *int
	errText   string
}

func (n *node) isContainer() bool { return n.def.Type == flow.TypeFlow }

// jobResult is how a job's goroutine hands its final outcome to the scheduler.
type jobResult struct {
	n        *node
	status   JobStatus
	attempt  int
	start    time.Time
	end      time.Time
	exitCode *int
	errText  string
	outputs  map[string]string
}

func (res *jobResult) update() JobUpdate {
	return JobUpdate{
		Job:       res.n.path,
		Type:      res.n.def.Type,
		Status:    res.status,
		Attempt:   res.attempt,
		StartTime: res.start,
		EndTime:   res.end,
		ExitCode:  res.exitCode,
		Error:     res.errText,
		Outputs:   res.outputs,
	}
}

// stopMode says whether scheduling goes on.
type stopMode int

const (
	stopNone  stopMode = iota
	stopNoNew          // finishCurrent after a failure: let running jobs end
	stopKill           // killed, fenced or cancelImmediately
)

// runner is the state of one Run.
type runner struct {
	ex          Execution
	rep         Reporter
	ctx         context.Context // Run's context
	repCtx      context.Context // for Reporter calls; never cancelled, so final statuses still get out
	jobsCtx     context.Context // cancelled to kill every running job
	killJobs    context.CancelCauseFunc
	maxParallel int
	killGrace   time.Duration
	baseEnv     []string
	action      string
	disabled    map[string]bool
	tmpDir      string // output property files
	logDir      string // "" when local log files are off
	warnings    []string

	flowLogMu   sync.Mutex
	flowLogFile *os.File

	outputs outputStore

	leaseHit atomic.Bool // a job was stopped by the executor's lease

	paused bool // the pause gate as the scheduling loop last saw it

	fenceOnce sync.Once
	fencedCh  chan struct{}
	fenceMu   sync.Mutex
	fenceErr  error

	events chan *jobResult
	wg     sync.WaitGroup

	// Owned by the goroutine running run.
	top          []*node
	nodes        []*node
	inFlight     int // job goroutines not yet collected
	procs        int // command jobs holding a parallelism slot
	stop         stopMode
	stopReason   string // Error of nodes cancelled because of stop
	killedByCtx  bool
	fenceSeen    bool
	killText     string
	firstFailure string
}

func newRunner(ctx context.Context, ex Execution, rep Reporter) (*runner, error) {
	if ex.Flow == nil {
		return nil, errors.New("execution has no flow")
	}
	r := &runner{
		ex:          ex,
		rep:         rep,
		ctx:         ctx,
		repCtx:      context.WithoutCancel(ctx),
		maxParallel: ex.MaxParallel,
		killGrace:   ex.KillGrace,
		baseEnv:     ex.Env,
		action:      ex.FailureAction,
		fencedCh:    make(chan struct{}),
		events:      make(chan *jobResult),
		outputs:     outputStore{m: make(map[string]map[string]string)},
	}
	if r.maxParallel <= 0 {
		r.maxParallel = defaultMaxParallel
	}
	if r.killGrace <= 0 {
		r.killGrace = defaultKillGrace
	}
	if r.baseEnv == nil {
		r.baseEnv = JobEnv(os.Environ(), nil)
	}
	r.disabled = make(map[string]bool, len(ex.Disabled))
	for _, p := range ex.Disabled {
		r.disabled[p] = true
	}
	switch r.action {
	case FinishCurrent, CancelImmediately, FinishPossible:
	case "":
		r.action = FinishCurrent
	default:
		r.warnings = append(r.warnings, fmt.Sprintf("unknown failure action %q, using %s", r.action, FinishCurrent))
		r.action = FinishCurrent
	}

	top, err := r.build(ex.Flow.Nodes, nil)
	if err != nil {
		return nil, fmt.Errorf("invalid flow %q: %w", ex.Flow.Name, err)
	}
	r.top = top

	r.tmpDir, err = os.MkdirTemp("", fmt.Sprintf("crawlctl-exec-%d-", ex.ID))
	if err != nil {
		return nil, fmt.Errorf("cannot create temporary directory: %w", err)
	}
	if ex.LogDir != "" {
		if err := os.MkdirAll(ex.LogDir, 0o755); err != nil {
			r.warnings = append(r.warnings, fmt.Sprintf("local log files disabled: %v", err))
		} else {
			r.logDir = ex.LogDir
			f, err := os.OpenFile(filepath.Join(ex.LogDir, flowLogName), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
			if err != nil {
				r.warnings = append(r.warnings, fmt.Sprintf("cannot open flow log file: %v", err))
			} else {
				r.flowLogFile = f
			}
		}
	}
	r.jobsCtx, r.killJobs = context.WithCancelCause(ctx)
	return r, nil
}

// build creates the nodes of one DAG level and, recursively, of embedded flows.
func (r *runner) build(defs []*flow.Node, parent *node) ([]*node, error) {
	byName := make(map[string]*node, len(defs))
	level := make([]*node, 0, len(defs))
	for _, def := range defs {
		if def == nil {
			return nil, errors.New("nil node")
		}
		if _, dup := byName[def.Name]; dup {
			return nil, fmt.Errorf("duplicate node %q", def.Name)
		}
		n := &node{def: def, path: def.Name, index: len(r.nodes), parent: parent}
		if parent != nil {
			n.path = parent.path + pathSep + def.Name
		}
		r.nodes = append(r.nodes, n)
		byName[def.Name] = n
		level = append(level, n)
		if n.isContainer() {
			children, err := r.build(def.Nodes, n)
			if err != nil {
				return nil, err
			}
			n.children = children
		}
	}
	for _, n := range level {
		for _, d := range n.def.DependsOn {
			dep, ok := byName[d]
			if !ok {
				return nil, fmt.Errorf("node %q depends on unknown node %q", n.path, d)
			}
			n.deps = append(n.deps, dep)
		}
	}
	return level, nil
}

// close releases what newRunner acquired.
func (r *runner) close() {
	r.killJobs(nil)
	if r.flowLogFile != nil {
		r.flowLogFile.Close()
	}
	os.RemoveAll(r.tmpDir)
}

// run is the scheduling loop. It alone changes node state; job goroutines
// report back through r.events.
func (r *runner) run() Result {
	r.flowLog("execution %d started: flow %s of project %s version %d, failure action %s",
		r.ex.ID, r.ex.Flow.Name, r.ex.Project, r.ex.ProjectVersion, r.action)
	for _, w := range r.warnings {
		r.flowLog("%s", w)
	}

	r.reuse()
	ctxDone := r.ctx.Done()
	fenced := (<-chan struct{})(r.fencedCh)
	for {
		r.checkAborts()
		if r.ctx.Err() != nil {
			ctxDone = nil
		}
		if r.fenceSeen {
			fenced = nil
		}
		pauseChanged := r.watchPause()
		for r.advance(r.top) {
		}
		// A paused execution with jobs left to start waits for its resume
		// (or its end: a cancel or a fence still stops it).
		holding := r.paused && r.stop == stopNone && !allEnded(r.top)
		if r.inFlight == 0 && !holding {
			break
		}
		select {
		case res := <-r.events:
			r.collect(res)
		case <-ctxDone:
		case <-fenced:
		case <-pauseChanged:
		}
	}
	r.wg.Wait()
	r.cancelStuck()

	res := r.result()
	if res.Error != "" {
		r.flowLog("execution finished: %s: %s", res.Status, res.Error)
	} else {
		r.flowLog("execution finished: %s", res.Status)
	}
	return res
}

// reuse ends the jobs of a retry that succeeded before (Execution.Reused)
// SKIPPED, without running them, and makes their output properties
// available to the jobs that run.
func (r *runner) reuse() {
	if len(r.ex.Reused) == 0 {
		return
	}
	for path, props := range r.ex.Reused {
		r.outputs.set(path, props)
	}
	text := fmt.Sprintf("succeeded in execution %d: not run again", r.ex.RetryOf)
	for _, n := range r.nodes {
		if _, ok := r.ex.Reused[n.path]; ok && !n.status.terminal() {
			r.endUnstarted(n, Skipped, text)
			r.flowLog("job %s skipped: %s", n.path, text)
		}
	}
}

// advance makes every scheduling decision currently possible in a DAG level
// and reports whether anything changed.
func (r *runner) advance(level []*node) bool {
	progress := false
	for _, n := range level {
		switch {
		case n.status.terminal():
		case n.active:
			if r.advance(n.children) {
				progress = true
			}
			if allEnded(n.children) {
				r.finishContainer(n)
				progress = true
			}
		case n.status == Running:
			// A job whose goroutine has not reported back yet.
		default:
			if r.consider(n) {
				progress = true
			}
		}
	}
	return progress
}

// consider decides what to do with a node that has not started.
func (r *runner) consider(n *node) bool {
	r.checkAborts()
	if r.stop != stopNone {
		r.endUnstarted(n, Cancelled, r.stopReason)
		r.flowLog("job %s cancelled: %s", n.path, r.stopReason)
		return true
	}
	if r.paused {
		return false
	}
	if !n.ready {
		for _, d := range n.deps {
			if !d.status.terminal() {
				return false
			}
		}
		verdict, text := r.decide(n)
		switch verdict {
		case Skipped, Cancelled:
			r.endUnstarted(n, verdict, text)
			r.flowLog("job %s %s: %s", n.path, lower(verdict), text)
			return true
		case Failed:
			r.endUnstarted(n, Failed, text)
			r.flowLog("job %s failed: %s", n.path, text)
			r.onFailure(n, text)
			return true
		}
		if r.disabled[n.path] {
			// Its turn has come and it would run: it is skipped instead,
			// and its dependants see a success.
			r.endUnstarted(n, Skipped, "disabled at submit")
			r.flowLog("job %s skipped: disabled at submit", n.path)
			return true
		}
		n.ready = true
	}

	switch n.def.Type {
	case flow.TypeFlow:
		n.active = true
		return true
	case flow.TypeNoop:
		r.markStarted(n.parent)
		n.startTime = time.Now()
		n.status = Running
		r.report(n)
		n.endTime = time.Now()
		n.status = Succeeded
		r.report(n)
		r.flowLog("job %s succeeded (noop)", n.path)
		return true
	case flow.TypeCommand:
		if r.procs >= r.maxParallel {
			return false
		}
		r.markStarted(n.parent)
		n.status = Running
		r.inFlight++
		r.procs++
		r.wg.Add(1)
		go r.runJob(n)
		return true
	default:
		text := fmt.Sprintf("unsupported job type %q", n.def.Type)
		r.endUnstarted(n, Failed, text)
		r.flowLog("job %s failed: %s", n.path, text)
		r.onFailure(n, text)
		return true
	}
}

// decide evaluates the condition of a node whose dependencies have all
// ended. It returns Ready to run the node, or the status to end it with and
// why.
func (r *runner) decide(n *node) (JobStatus, string) {
	cond := n.def.Condition
	if isDefaultCondition(cond) {
		for _, d := range n.deps {
			if !succeeded(d.status) {
				return Cancelled, fmt.Sprintf("dependency %q %s", d.def.Name, d.status)
			}
		}
		return Ready, ""
	}
	fail := func(err error) (JobStatus, string) {
		return Failed, fmt.Sprintf("job %q: condition %q: %v", n.path, cond, err)
	}
	expr, err := parseCondition(cond)
	if err != nil {
		return fail(err)
	}
	env := &condEnv{param: func(name string) (string, error) {
		return r.params(n, 0).param(name, 0)
	}}
	for _, d := range n.deps {
		env.deps = append(env.deps, d.status)
	}
	ok, err := expr.eval(env)
	if err != nil {
		return fail(err)
	}
	if !ok {
		return Skipped, fmt.Sprintf("condition %q not met", cond)
	}
	return Ready, ""
}

// endUnstarted gives a node that never ran its final status, and the same to
// the whole DAG of a container.
func (r *runner) endUnstarted(n *node, status JobStatus, text string) {
	n.status = status
	n.errText = text
	n.endTime = time.Now()
	r.report(n)
	if !n.isContainer() {
		return
	}
	childText := text
	switch status {
	case Skipped:
		childText = fmt.Sprintf("embedded flow %q skipped", n.path)
	case Failed:
		childText = fmt.Sprintf("embedded flow %q failed", n.path)
		status = Cancelled
	}
	for _, c := range n.children {
		if !c.status.terminal() {
			r.endUnstarted(c, status, childText)
		}
	}
}

// markStarted reports container c, and the containers enclosing it, RUNNING
// if they are not yet: one of their jobs is starting.
func (r *runner) markStarted(c *node) {
	if c == nil || c.status == Running {
		return
	}
	r.markStarted(c.parent)
	c.status = Running
	c.startTime = time.Now()
	r.report(c)
	r.flowLog("embedded flow %s started", c.path)
}

// finishContainer ends a container whose DAG has ended: FAILED if a child
// failed, else KILLED if one was killed, else CANCELLED if one was
// cancelled, else SUCCEEDED.
func (r *runner) finishContainer(c *node) {
	c.active = false
	status, text := Succeeded, ""
	for _, want := range []JobStatus{Failed, Killed, Cancelled} {
		if n := firstWithStatus(c.children, want); n != nil {
			status = want
			switch {
			case n.isContainer():
				text = n.errText
			case want == Failed:
				text = fmt.Sprintf("job %q failed: %s", n.path, trimJobPrefix(n.errText, n.path))
			default:
				text = fmt.Sprintf("job %q %s: %s", n.path, lower(want), n.errText)
			}
			break
		}
	}
	if c.startTime.IsZero() {
		c.startTime = time.Now()
	}
	c.status = status
	c.errText = text
	c.endTime = time.Now()
	r.report(c)
	if text != "" {
		r.flowLog("embedded flow %s %s: %s", c.path, lower(status), text)
	} else {
		r.flowLog("embedded flow %s %s", c.path, lower(status))
	}
	if status == Failed {
		r.onFailure(c, text)
	}
}

func firstWithStatus(nodes []*node, s JobStatus) *node {
	for _, n := range nodes {
		if n.status == s {
			return n
		}
	}
	return nil
}

// collect records the outcome of a job goroutine.
func (r *runner) collect(res *jobResult) {
	n := res.n
	n.status = res.status
	n.attempt = res.attempt
	n.startTime = res.start
	n.endTime = res.end
	n.exitCode = res.exitCode
	n.errText = res.errText
	r.inFlight--
	r.procs--
	if n.status == Failed {
		r.onFailure(n, n.errText)
	}
}

// onFailure applies the failure action after node n failed for good.
func (r *runner) onFailure(n *node, text string) {
	if r.firstFailure == "" {
		if n.isContainer() {
			r.firstFailure = text
		} else {
			r.firstFailure = fmt.Sprintf("job %q failed: %s", n.path, trimJobPrefix(text, n.path))
		}
	}
	switch r.action {
	case FinishPossible:
	case CancelImmediately:
		if r.stop < stopKill {
			r.stop = stopKill
			r.stopReason = fmt.Sprintf("not started: job %q failed", n.path)
			r.flowLog("job %s failed: killing running jobs (%s)", n.path, CancelImmediately)
			r.killJobs(fmt.Errorf("killed: job %q failed (%s)", n.path, CancelImmediately))
		}
	default:
		if r.stop < stopNoNew {
			r.stop = stopNoNew
			r.stopReason = fmt.Sprintf("not started: job %q failed", n.path)
			r.flowLog("job %s failed: letting running jobs finish, starting nothing more (%s)", n.path, FinishCurrent)
		}
	}
}

// PauseGate pauses an execution (Azkaban's pauseFlow): while it is set, no
// job or embedded flow starts, running jobs go on, and the execution does
// not end while jobs are left to start. Clearing it resumes scheduling.
// It is safe for concurrent use; the zero value is not paused.
type PauseGate struct {
	mu      sync.Mutex
	paused  bool
	changed chan struct{} // closed and replaced at every change
}

// Set pauses (true) or resumes (false) the execution.
func (g *PauseGate) Set(paused bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.paused == paused {
		return
	}
	g.paused = paused
	if g.changed != nil {
		close(g.changed)
	}
	g.changed = make(chan struct{})
}

// state is whether the gate is set, and a channel closed at its next change.
func (g *PauseGate) state() (bool, <-chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.changed == nil {
		g.changed = make(chan struct{})
	}
	return g.paused, g.changed
}

// watchPause brings r.paused up to date with the pause gate, logging a
// change, and returns a channel closed at the gate's next change (nil
// without a gate).
func (r *runner) watchPause() <-chan struct{} {
	if r.ex.Pause == nil {
		return nil
	}
	paused, changed := r.ex.Pause.state()
	if paused != r.paused {
		r.paused = paused
		if paused {
			r.flowLog("execution paused: no job starts until it is resumed")
		} else {
			r.flowLog("execution resumed")
		}
	}
	return changed
}

// checkAborts notices, once each, that Run's context was cancelled or that
// the execution was fenced.
func (r *runner) checkAborts() {
	if !r.fenceSeen && r.isFenced() {
		r.fenceSeen = true
		r.abortByFence()
	}
	if !r.killedByCtx && !r.fenceSeen && r.ctx.Err() != nil {
		r.abortByContext()
	}
}

// abortByContext handles the cancellation of Run's context.
func (r *runner) abortByContext() {
	r.killedByCtx = true
	r.killText = killText(context.Cause(r.ctx))
	r.stop = stopKill
	r.stopReason = "not started: " + r.killText
	r.flowLog("execution killed: %s", r.killText)
	// r.jobsCtx derives from r.ctx: running jobs are being killed already.
}

// abortByFence handles a Reporter that said the execution is fenced.
func (r *runner) abortByFence() {
	err := r.fenceError()
	r.stop = stopKill
	r.stopReason = "not started: " + err.Error()
	r.flowLog("execution fenced, killing running jobs: %v", err)
}

// cancelStuck ends any node the loop could not decide. Validated flows have
// none; this guards against a dependency cycle hanging the execution.
func (r *runner) cancelStuck() {
	for _, n := range r.nodes {
		if !n.status.terminal() {
			n.status = Cancelled
			n.errText = "not started: dependencies can never be satisfied"
			n.endTime = time.Now()
			r.report(n)
		}
	}
}

// result computes the execution's outcome.
func (r *runner) result() Result {
	res := r.outcome()
	res.LeaseExpired = r.leaseHit.Load()
	return res
}

func (r *runner) outcome() Result {
	if r.isFenced() {
		return Result{Status: string(Killed), Error: r.fenceError().Error(), Fenced: true}
	}
	if r.killedByCtx {
		return Result{Status: string(Killed), Error: r.killText}
	}
	if r.firstFailure != "" {
		return Result{Status: string(Failed), Error: r.firstFailure}
	}
	for _, n := range r.nodes {
		if n.status == Failed || n.status == Killed {
			return Result{Status: string(Failed), Error: fmt.Sprintf("job %q %s: %s", n.path, lower(n.status), n.errText)}
		}
	}
	return Result{Status: string(Succeeded)}
}

// report sends the current state of a scheduler-owned node.
func (r *runner) report(n *node) {
	r.update(JobUpdate{
		Job:       n.path,
		Type:      n.def.Type,
		Status:    n.status,
		Attempt:   n.attempt,
		StartTime: n.startTime,
		EndTime:   n.endTime,
		ExitCode:  n.exitCode,
		Error:     n.errText,
	})
}

// fence stops the execution because the Reporter said it is fenced.
func (r *runner) fence(err error) {
	r.fenceOnce.Do(func() {
		r.fenceMu.Lock()
		r.fenceErr = err
		r.fenceMu.Unlock()
		close(r.fencedCh)
		r.killJobs(err)
	})
}

// isFenced reports whether the execution was fenced, by the Reporter or by
// cancelling Run's context with a cause wrapping ErrFenced.
func (r *runner) isFenced() bool {
	if cause := context.Cause(r.ctx); cause != nil && errors.Is(cause, ErrFenced) {
		r.fence(cause)
	}
	select {
	case <-r.fencedCh:
		return true
	default:
		return false
	}
}

func (r *runner) fenceError() error {
	r.fenceMu.Lock()
	defer r.fenceMu.Unlock()
	return r.fenceErr
}

// Stopped is the Result Run gives an execution whose ctx was cancelled
// before it could start (while its working directory was being prepared,
// say): KILLED with the cause, or fenced. ok is false while ctx is live.
func Stopped(ctx context.Context) (res Result, ok bool) {
	if ctx.Err() == nil {
		return Result{}, false
	}
	cause := context.Cause(ctx)
	if errors.Is(cause, ErrFenced) {
		return Result{Status: string(Killed), Error: cause.Error(), Fenced: true}, true
	}
	return Result{Status: string(Killed), Error: killText(cause)}, true
}

// killText describes why jobs are being killed.
func killText(cause error) string {
	if cause == nil || cause == context.Canceled {
		return "execution killed"
	}
	return cause.Error()
}

func allEnded(nodes []*node) bool {
	for _, n := range nodes {
		if !n.status.terminal() {
			return false
		}
	}
	return true
}

// lower returns a status as a word for log lines: "failed", "skipped"...
func lower(s JobStatus) string { return strings.ToLower(string(s)) }
