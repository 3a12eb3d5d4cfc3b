package azkaban

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/flow"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/submission"
)

// execStatus is an execution's status by Azkaban's names: a queued
// execution is QUEUED, one on its way to an executor PREPARING, a paused
// one PAUSED; the others have the same name in both.
func execStatus(e *store.Execution) string {
	switch {
	case e.Status == store.ExecDispatching:
		return "PREPARING"
	case e.Status == store.ExecRunning && e.Paused:
		return "PAUSED"
	}
	return e.Status
}

// millis is t in epoch milliseconds, -1 when unset (Azkaban's convention).
func millis(t *time.Time) int64 {
	if t == nil || t.IsZero() {
		return -1
	}
	return t.UnixMilli()
}

// later is the later of two epoch-millisecond times.
func later(a, b int64) int64 { return max(a, b) }

// loadFlows returns the parsed flows of a project version (0 = latest); ok
// is false when the project (or that version) does not exist.
func (a *API) loadFlows(r *request, project string, version int) (*flow.Project, *store.ProjectVersion, bool, error) {
	proj, pv, err := submission.Load(r.Context(), a.st, project, version)
	var ie *submission.InputError
	if errors.As(err, &ie) {
		return nil, nil, false, nil
	}
	if err != nil {
		return nil, nil, false, err
	}
	return proj, pv, true, nil
}

// latestFlow is a flow of a project's latest version: nil when there is no
// such flow (or no upload yet); ok is false when an error was answered.
func (a *API) latestFlow(w http.ResponseWriter, r *request, project, flowName string) (*flow.Flow, bool) {
	proj, _, _, err := a.loadFlows(r, project, 0)
	if err != nil {
		a.serverError(w, "read flows", err)
		return nil, false
	}
	if proj == nil {
		return nil, true
	}
	return proj.Flow(flowName), true
}

// namedFlow reads the required project (parameter param) and flow
// parameters and the project's row, nil when there is none; ok is false
// when an error was answered.
func (a *API) namedFlow(w http.ResponseWriter, r *request, param string) (p *store.Project, name, flowName string, ok bool) {
	if name, ok = r.required(w, param); !ok {
		return nil, "", "", false
	}
	if flowName, ok = r.required(w, "flow"); !ok {
		return nil, "", "", false
	}
	p, err := a.project(r, name)
	if err != nil {
		a.serverError(w, "read project", err)
		return nil, "", "", false
	}
	return p, name, flowName, true
}

// project returns a project row (nil when there is none).
func (a *API) project(r *request, name string) (*store.Project, error) {
	p, err := a.st.GetProject(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return p, err
}

// sortedIn is a node's dependencies, sorted, as Azkaban lists "in".
func sortedIn(n *flow.Node) []string {
	in := append([]string{}, n.DependsOn...)
	slices.Sort(in)
	return in
}

// sortedNodes is a DAG level sorted by name.
func sortedNodes(nodes []*flow.Node) []*flow.Node {
	out := append([]*flow.Node{}, nodes...)
	slices.SortFunc(out, func(x, y *flow.Node) int { return strings.Compare(x.Name, y.Name) })
	return out
}

// graphNodes is fetchflowgraph's node list of a DAG level.
func graphNodes(nodes []*flow.Node) []map[string]any {
	out := []map[string]any{}
	for _, n := range sortedNodes(nodes) {
		m := map[string]any{"id": n.Name, "type": n.Type, "in": sortedIn(n)}
		if n.Condition != "" {
			m["condition"] = n.Condition
		}
		if n.Type == flow.TypeFlow {
			m["flowId"] = n.Name
			m["nodes"] = graphNodes(n.Nodes)
		}
		out = append(out, m)
	}
	return out
}

// execNodes builds fetchexecflow's nodes of a DAG level: the flow's
// definition with each job's state in the execution (READY when it has not
// been reached; CANCELLED when the execution ended before it was).
func execNodes(nodes []*flow.Node, prefix string, jobs map[string]store.ExecutionJob, ended bool) []map[string]any {
	out := []map[string]any{}
	for _, n := range sortedNodes(nodes) {
		path := prefix + n.Name
		m := nodeState(n, path, jobs, ended)
		m["type"] = n.Type
		m["nestedId"] = path
		if len(n.DependsOn) > 0 {
			m["in"] = sortedIn(n)
		}
		if n.Condition != "" {
			m["condition"] = n.Condition
		}
		if n.Type == flow.TypeFlow {
			m["flow"] = n.Name
			m["flowId"] = n.Name
			m["nodes"] = execNodes(n.Nodes, path+":", jobs, ended)
		}
		out = append(out, m)
	}
	return out
}

// nodeState is a node's id, status, times and attempt.
func nodeState(n *flow.Node, path string, jobs map[string]store.ExecutionJob, ended bool) map[string]any {
	m := map[string]any{"id": n.Name, "status": "READY", "startTime": int64(-1), "endTime": int64(-1), "updateTime": int64(-1), "attempt": 0}
	if j, ok := jobs[path]; ok {
		start, end := millis(j.StartTime), millis(j.EndTime)
		m["status"], m["startTime"], m["endTime"], m["updateTime"], m["attempt"] = j.Status, start, end, later(start, end), j.Attempt
	} else if ended {
		m["status"] = "CANCELLED"
	}
	return m
}

// updateNodes is fetchexecflowupdate's nodes of a DAG level: those updated
// after since, and containers holding such nodes.
func updateNodes(nodes []*flow.Node, prefix string, jobs map[string]store.ExecutionJob, ended bool, since int64) []map[string]any {
	out := []map[string]any{}
	for _, n := range sortedNodes(nodes) {
		path := prefix + n.Name
		m := nodeState(n, path, jobs, ended)
		changed := m["updateTime"].(int64) > since
		if n.Type == flow.TypeFlow {
			if children := updateNodes(n.Nodes, path+":", jobs, ended, since); len(children) > 0 {
				m["flow"] = n.Name
				m["nodes"] = children
				changed = true
			}
		}
		if changed {
			out = append(out, m)
		}
	}
	return out
}

// jobsByPath indexes an execution's jobs by path.
func jobsByPath(ex *store.Execution) map[string]store.ExecutionJob {
	m := make(map[string]store.ExecutionJob, len(ex.Jobs))
	for _, j := range ex.Jobs {
		m[j.Name] = j
	}
	return m
}

// flowAttempt is the execution's attempt counted from 0, as Azkaban does.
func flowAttempt(ex *store.Execution) int { return max(ex.Runs-1, 0) }

// execution loads the execution named by the execid parameter, answering
// Azkaban's error when there is none.
func (a *API) execution(w http.ResponseWriter, r *request) (*store.Execution, bool) {
	id, ok := r.requiredInt(w, "execid")
	if !ok {
		return nil, false
	}
	ex, err := a.st.GetExecution(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeJSON(w, http.StatusOK, map[string]any{"error": "Cannot find execution '" + r.param("execid") + "'"})
		return nil, false
	}
	if err != nil {
		a.serverError(w, "Error fetching execution '"+r.param("execid")+"'", err)
		return nil, false
	}
	return ex, true
}

// htmlEscape escapes log text as Azkaban's StringEscapeUtils.escapeHtml
// does for the characters that matter: &, <, > and ".
var htmlEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")
