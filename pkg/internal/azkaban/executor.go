package azkaban

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/crawlctl/crawlctl/pkg/internal/flow"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/submission"
)

// executor is Azkaban's ExecutorServlet (/executor).
func (a *API) executor(w http.ResponseWriter, r *request) {
	switch ajax := r.param("ajax"); ajax {
	case "executeFlow":
		a.executeFlow(w, r)
	case "fetchexecflow":
		a.fetchExecFlow(w, r)
	case "fetchexecflowupdate":
		a.fetchExecFlowUpdate(w, r)
	case "fetchExecJobLogs":
		a.fetchLogs(w, r, true)
	case "fetchExecFlowLogs":
		a.fetchLogs(w, r, false)
	case "cancelFlow":
		a.cancelFlow(w, r)
	case "pauseFlow":
		a.setPaused(w, r, true)
	case "resumeFlow":
		a.setPaused(w, r, false)
	case "retryFailedJobs":
		a.retryFailedJobs(w, r)
	case "getRunning":
		a.getRunning(w, r)
	case "reloadExecutors":
		if !r.who.has(permAdmin) {
			writeJSON(w, http.StatusOK, map[string]any{"status": "error", "error": "Only Admins are allowed to refresh the executors"})
			return
		}
		// Nothing to reload: every web server reads the executors from the
		// database whenever it dispatches.
		writeJSON(w, http.StatusOK, map[string]any{"status": "success"})
	default:
		unsupported(w, "/executor", "ajax", ajax)
	}
}

func (a *API) executeFlow(w http.ResponseWriter, r *request) {
	name, ok := r.required(w, "project")
	if !ok {
		return
	}
	ret := map[string]any{"project": name}
	answer := func(msg string) {
		ret["error"] = msg
		writeJSON(w, http.StatusOK, ret)
	}
	p, err := a.project(r, name)
	if err != nil {
		a.serverError(w, "read project", err)
		return
	}
	if p == nil {
		answer("Project '" + name + "' doesn't exist.")
		return
	}
	if !r.who.has(permExecute) {
		answer(r.who.permissionError(permExecute, name))
		return
	}
	flowName, ok := r.required(w, "flow")
	if !ok {
		return
	}
	ret["flow"] = flowName
	f, ok := a.latestFlow(w, r, name, flowName)
	if !ok {
		return
	}
	if f == nil {
		answer("Flow '" + flowName + "' cannot be found in project " + name)
		return
	}
	o, err := parseOptions(r, f)
	if err != nil {
		answer("Error parsing flow options: " + err.Error())
		return
	}
	ne, err := submission.Prepare(r.Context(), a.st, submission.Request{Project: name, Flow: flowName, Params: o.params, Concurrent: o.concurrent,
		FailureAction: o.failureAction, Priority: o.priority, User: r.who.User, Disabled: o.disabled, Alerts: o.alerts})
	var ie *submission.InputError
	if errors.As(err, &ie) {
		answer("Error submitting flow " + flowName + ". " + ie.Msg)
		return
	}
	if err != nil {
		a.serverError(w, "Error submitting flow "+flowName, err)
		return
	}
	if o.useExecutor > 0 {
		if _, err := a.st.GetExecutor(r.Context(), o.useExecutor); errors.Is(err, store.ErrNotFound) {
			answer(fmt.Sprintf("Error submitting flow %s. Executor with id %d does not exist.", flowName, o.useExecutor))
			return
		} else if err != nil {
			a.serverError(w, "read executor", err)
			return
		}
		ne.PinnedExecutorID = o.useExecutor
	}
	ex, err := a.b.Submit(r.Context(), ne)
	var are *store.AlreadyRunningError
	if errors.As(err, &are) {
		ret["execid"] = -1
		answer("Error submitting flow " + flowName + ". Flow " + flowName + " is already running. Skipping execution.")
		return
	}
	if err != nil {
		a.serverError(w, "Error submitting flow "+flowName, err)
		return
	}
	a.log.Info().Str("project", name).Str("flow", flowName).Int64("execution", ex.ID).Str("by", r.who.User).Msg("flow submitted")
	ret["execid"] = ex.ID
	ret["message"] = fmt.Sprintf("Execution queued successfully with exec id %d", ex.ID)
	writeJSON(w, http.StatusOK, ret)
}

// readableExecution loads the execution of the execid parameter and checks
// that the caller holds perm.
func (a *API) readableExecution(w http.ResponseWriter, r *request, perm string) (*store.Execution, bool) {
	ex, ok := a.execution(w, r)
	if !ok {
		return nil, false
	}
	if !r.who.has(perm) {
		writeJSON(w, http.StatusOK, map[string]any{"error": r.who.permissionError(perm, ex.Project)})
		return nil, false
	}
	return ex, true
}

// executedFlow is the definition of the flow an execution runs (nil if its
// project version no longer holds it).
func (a *API) executedFlow(w http.ResponseWriter, r *request, ex *store.Execution) (*flow.Flow, bool) {
	proj, _, _, err := a.loadFlows(r, ex.Project, ex.Version)
	if err != nil {
		a.serverError(w, "read flows", err)
		return nil, false
	}
	if proj == nil {
		return nil, true
	}
	return proj.Flow(ex.Flow), true
}

func (a *API) fetchExecFlow(w http.ResponseWriter, r *request) {
	ex, ok := a.readableExecution(w, r, permRead)
	if !ok {
		return
	}
	f, ok := a.executedFlow(w, r, ex)
	if !ok {
		return
	}
	nodes := []map[string]any{}
	if f != nil {
		nodes = execNodes(f.Nodes, "", jobsByPath(ex), ex.Ended())
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"execid": ex.ID, "project": ex.Project, "projectId": ex.ProjectID, "submitUser": ex.SubmitUser, "submitTime": millis(&ex.SubmitTime),
		"id": ex.Flow, "flow": ex.Flow, "flowId": ex.Flow, "nestedId": ex.Flow, "type": "flow",
		"status": execStatus(ex), "startTime": millis(ex.StartTime), "endTime": millis(ex.EndTime), "updateTime": millis(&ex.UpdatedAt),
		"attempt": flowAttempt(ex), "nodes": nodes,
	})
}

func (a *API) fetchExecFlowUpdate(w http.ResponseWriter, r *request) {
	ex, ok := a.readableExecution(w, r, permRead)
	if !ok {
		return
	}
	since, ok := r.requiredInt(w, "lastUpdateTime")
	if !ok {
		return
	}
	f, ok := a.executedFlow(w, r, ex)
	if !ok {
		return
	}
	out := map[string]any{}
	updated := millis(&ex.UpdatedAt)
	if f != nil {
		if nodes := updateNodes(f.Nodes, "", jobsByPath(ex), ex.Ended(), since); len(nodes) > 0 {
			out["flow"], out["nodes"] = ex.Flow, nodes
		}
	}
	if updated > since || out["nodes"] != nil {
		out["id"], out["attempt"] = ex.Flow, flowAttempt(ex)
	}
	out["status"], out["startTime"], out["endTime"], out["updateTime"] = execStatus(ex), millis(ex.StartTime), millis(ex.EndTime), updated
	writeJSON(w, http.StatusOK, out)
}

// maxLogChunk bounds one log read.
const maxLogChunk = 1 << 20

func (a *API) fetchLogs(w http.ResponseWriter, r *request, ofJob bool) {
	ex, ok := a.readableExecution(w, r, permRead)
	if !ok {
		return
	}
	job := ""
	if ofJob {
		if job, ok = r.required(w, "jobId"); !ok {
			return
		}
	}
	offset, ok := r.requiredInt(w, "offset")
	if !ok {
		return
	}
	length, ok := r.requiredInt(w, "length")
	if !ok {
		return
	}
	if ofJob {
		f, ok := a.executedFlow(w, r, ex)
		if !ok {
			return
		}
		known := false
		if f != nil {
			f.Walk(func(path string, _ *flow.Node) { known = known || path == job })
		}
		if !known {
			writeJSON(w, http.StatusOK, map[string]any{"error": fmt.Sprintf("Job %s doesn't exist in %d", job, ex.ID)})
			return
		}
	}
	if length <= 0 || offset < 0 {
		writeJSON(w, http.StatusOK, map[string]any{"data": "", "offset": max(offset, 0), "length": 0})
		return
	}
	data, _, err := a.st.ReadLog(r.Context(), ex.ID, job, offset, int(min(length, maxLogChunk)))
	if err != nil {
		a.serverError(w, "read log", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": htmlEscape.Replace(string(data)), "offset": offset, "length": len(data)})
}

func (a *API) cancelFlow(w http.ResponseWriter, r *request) {
	ex, ok := a.readableExecution(w, r, permExecute)
	if !ok {
		return
	}
	if ex.Ended() {
		writeJSON(w, http.StatusOK, map[string]any{"error": fmt.Sprintf("Execution %d of flow %s isn't running.", ex.ID, ex.Flow)})
		return
	}
	_, err := a.b.Cancel(r.Context(), ex.ID, r.who.User)
	if errors.Is(err, store.ErrConflict) {
		writeJSON(w, http.StatusOK, map[string]any{"error": fmt.Sprintf("Execution %d of flow %s isn't running.", ex.ID, ex.Flow)})
		return
	}
	if err != nil {
		a.serverError(w, "cancel execution", err)
		return
	}
	a.log.Info().Int64("execution", ex.ID).Str("by", r.who.User).Msg("execution cancelled")
	writeJSON(w, http.StatusOK, map[string]any{})
}

// setPaused is pauseFlow and resumeFlow: a paused execution lets its
// running jobs finish but starts no job until it is resumed. The executor
// sees the change on its next poll of the database.
func (a *API) setPaused(w http.ResponseWriter, r *request, paused bool) {
	ex, ok := a.readableExecution(w, r, permExecute)
	if !ok {
		return
	}
	err := a.st.SetExecutionPaused(r.Context(), ex.ID, paused)
	if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
		writeJSON(w, http.StatusOK, map[string]any{"error": fmt.Sprintf("Execution %d of flow %s isn't running.", ex.ID, ex.Flow)})
		return
	}
	if err != nil {
		a.serverError(w, "pause execution", err)
		return
	}
	a.log.Info().Int64("execution", ex.ID).Bool("paused", paused).Str("by", r.who.User).Msg("execution pause changed")
	writeJSON(w, http.StatusOK, map[string]any{})
}

// retryFailedJobs, for a FAILED or KILLED execution, runs it again as a
// new execution that reuses the jobs that succeeded (their output
// properties included) and starts from the failed, killed and cancelled
// ones: the REST API's failed-only retry. It answers the new execution's
// id and a message where Azkaban answers {} (its clients look only for
// "error"). Retrying within a still-running execution is refused: crawlctl
// cannot run a failed job again inside a running execution.
func (a *API) retryFailedJobs(w http.ResponseWriter, r *request) {
	ex, ok := a.readableExecution(w, r, permExecute)
	if !ok {
		return
	}
	switch {
	case ex.Status == store.ExecSucceeded:
		writeJSON(w, http.StatusOK, map[string]any{"error": "Flow has already finished. Please re-execute."})
		return
	case !ex.Ended():
		writeJSON(w, http.StatusOK, map[string]any{"error": fmt.Sprintf("Execution %d of flow %s is still running: crawlctl cannot run its failed jobs again within it. "+
			"Once it has ended, retryFailedJobs runs it again as a new execution that reuses the jobs that succeeded.", ex.ID, ex.Flow)})
		return
	}
	nex, err := a.b.Retry(r.Context(), ex.ID, true, r.who.User)
	var are *store.AlreadyRunningError
	if errors.As(err, &are) {
		writeJSON(w, http.StatusOK, map[string]any{"error": "Flow " + ex.Flow + " is already running. Skipping execution."})
		return
	}
	if err != nil {
		a.serverError(w, "retry execution", err)
		return
	}
	a.log.Info().Int64("execution", nex.ID).Int64("retry_of", ex.ID).Str("by", r.who.User).Msg("failed jobs retried")
	writeJSON(w, http.StatusOK, map[string]any{"execid": nex.ID, "message": fmt.Sprintf("Retrying the failed jobs as execution %d", nex.ID)})
}

func (a *API) getRunning(w http.ResponseWriter, r *request) {
	p, name, flowName, ok := a.namedFlow(w, r, "project")
	if !ok {
		return
	}
	if p == nil {
		writeJSON(w, http.StatusOK, map[string]any{"error": "Project " + name + " doesn't exist."})
		return
	}
	if !r.who.has(permExecute) {
		writeJSON(w, http.StatusOK, map[string]any{"error": r.who.permissionError(permExecute, name)})
		return
	}
	ids, err := a.st.UnfinishedExecutionIDs(r.Context(), name, flowName)
	if err != nil {
		a.serverError(w, "list running executions", err)
		return
	}
	if len(ids) == 0 {
		writeJSON(w, http.StatusOK, map[string]any{})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"execIds": ids})
}
