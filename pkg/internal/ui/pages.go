package ui

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/crawlctl/crawlctl/pkg/api"
	"github.com/crawlctl/crawlctl/pkg/internal/auth"
	"github.com/crawlctl/crawlctl/pkg/internal/flow"
	"github.com/crawlctl/crawlctl/pkg/internal/schedule"
	"github.com/crawlctl/crawlctl/pkg/internal/submission"
)

// pageSize is how many rows a list page shows.
const pageSize = 50

// listQuery is a list request's paging: ?limit= (default pageSize) and
// ?cursor=, passed on to the API.
func listQuery(r *http.Request, keep ...string) url.Values {
	q := url.Values{}
	for _, k := range keep {
		if v := strings.TrimSpace(r.URL.Query().Get(k)); v != "" {
			q.Set(k, v)
		}
	}
	limit := pageSize
	if n, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && n > 0 && n <= api.MaxLimit {
		limit = n
	}
	q.Set("limit", strconv.Itoa(limit))
	if c := r.URL.Query().Get("cursor"); c != "" {
		q.Set("cursor", c)
	}
	return q
}

// nextLink is the URL of the next page, "" on the last.
func nextLink(r *http.Request, h http.Header) string {
	c := h.Get(api.NextCursorHeader)
	if c == "" {
		return ""
	}
	q := r.URL.Query()
	q.Set("cursor", c)
	q.Del("flash")
	return r.URL.Path + "?" + q.Encode()
}

// back redirects after an action to the page named by the form's "back"
// field (a /ui/ path) or to def, with a note to show.
func back(w http.ResponseWriter, r *http.Request, def, flash string) {
	to := r.PostFormValue("back")
	if !strings.HasPrefix(to, "/ui/") || strings.HasPrefix(to, "//") || strings.Contains(to, "\\") {
		to = def
	}
	if flash != "" {
		sep := "?"
		if strings.Contains(to, "?") {
			sep = "&"
		}
		to += sep + "flash=" + url.QueryEscape(flash)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func pathID(w http.ResponseWriter, r *http.Request, u *UI, s *session) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		u.fail(w, r, s, http.StatusBadRequest, fmt.Sprintf("Bad id %q.", r.PathValue("id")))
		return 0, false
	}
	return id, true
}

// ---- executors

// listPage reads one page of an API list into data[key] and data["Next"];
// it answers the error itself and returns false on one.
func listPage[T any](u *UI, w http.ResponseWriter, r *http.Request, s *session, path, key string, data map[string]any) bool {
	var list []T
	h, err := u.get(r, s, path, listQuery(r), &list)
	if err != nil {
		u.failErr(w, r, s, err)
		return false
	}
	data[key], data["Next"] = list, nextLink(r, h)
	return true
}

func (u *UI) executors(w http.ResponseWriter, r *http.Request, s *session) {
	data := map[string]any{}
	if listPage[api.Executor](u, w, r, s, "/api/v1/executors", "Executors", data) {
		u.render(w, r, s, "executors", "Executors", data)
	}
}

// loadByID reads the API object at collection/ID for the path's id,
// answering errors itself.
func loadByID[T any](u *UI, w http.ResponseWriter, r *http.Request, s *session, collection string) (*T, bool) {
	id, ok := pathID(w, r, u, s)
	if !ok {
		return nil, false
	}
	var v T
	if _, err := u.get(r, s, collection+strconv.FormatInt(id, 10), nil, &v); err != nil {
		u.failErr(w, r, s, err)
		return nil, false
	}
	return &v, true
}

func (u *UI) loadExecutor(w http.ResponseWriter, r *http.Request, s *session) (*api.Executor, bool) {
	return loadByID[api.Executor](u, w, r, s, "/api/v1/executors/")
}

func (u *UI) executor(w http.ResponseWriter, r *http.Request, s *session) {
	e, ok := u.loadExecutor(w, r, s)
	if !ok {
		return
	}
	id := e.ID
	var execs []*api.Execution
	if _, err := u.get(r, s, "/api/v1/executions", url.Values{"executor": {strconv.FormatInt(id, 10)}, "limit": {"20"}}, &execs); err != nil {
		u.failErr(w, r, s, err)
		return
	}
	u.render(w, r, s, "executor", "Executor "+e.Name, map[string]any{"E": e, "Executions": execs, "Drain": r.URL.Query().Get("drain") != ""})
}

// executorState is what the drain view polls.
func (u *UI) executorState(w http.ResponseWriter, r *http.Request, s *session) {
	e, ok := u.loadExecutor(w, r, s)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"active": e.Active, "status": e.Status, "running_flows": e.RunningFlows, "heartbeat_age_ms": e.HeartbeatAgeMs})
}

func (u *UI) setActive(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := pathID(w, r, u, s)
	if !ok {
		return
	}
	active := r.PostFormValue("active") == "true"
	verb := "deactivate"
	if active {
		verb = "activate"
	}
	var e api.Executor
	if _, err := u.call(r, s, http.MethodPost, fmt.Sprintf("/api/v1/executors/%d/%s", id, verb), nil, &e); err != nil {
		u.failErr(w, r, s, err)
		return
	}
	if !active && r.PostFormValue("drain") != "" {
		http.Redirect(w, r, fmt.Sprintf("/ui/executors/%d?drain=1", id), http.StatusSeeOther)
		return
	}
	back(w, r, "/ui/executors", fmt.Sprintf("Executor %s is now %s.", e.Name, map[bool]string{true: "active", false: "inactive"}[e.Active]))
}

// ---- executions

func (u *UI) executions(w http.ResponseWriter, r *http.Request, s *session) {
	q := listQuery(r, "status", "project", "flow", "executor", "since")
	var list []*api.Execution
	h, err := u.get(r, s, "/api/v1/executions", q, &list)
	if err != nil {
		u.failErr(w, r, s, err)
		return
	}
	f := r.URL.Query()
	u.render(w, r, s, "executions", "Executions", map[string]any{"Executions": list, "Next": nextLink(r, h),
		"Status": strings.ToUpper(f.Get("status")), "Project": f.Get("project"), "Flow": f.Get("flow"), "Executor": f.Get("executor"),
		"Since": f.Get("since"), "Windows": []string{"", "1h", "24h", "168h", "720h"},
		"Paged": f.Get("cursor") != "", "Statuses": []string{"", "QUEUED", "DISPATCHING", "RUNNING", "KILLING", "SUCCEEDED", "FAILED", "KILLED"}})
}

func (u *UI) loadExecution(w http.ResponseWriter, r *http.Request, s *session) (*api.Execution, bool) {
	return loadByID[api.Execution](u, w, r, s, "/api/v1/executions/")
}

// flowOf is the definition of a flow at a project version. A version's
// flows never change, so the live view's polls reuse them.
func (u *UI) flowOf(r *http.Request, project string, version int, name string) (*flow.Flow, error) {
	key := fmt.Sprintf("%s\x00%d", project, version)
	u.mu.Lock()
	proj := u.parsed[key]
	u.mu.Unlock()
	if proj == nil {
		var err error
		if proj, _, err = submission.Load(r.Context(), u.cfg.Store, project, version); err != nil {
			return nil, err
		}
		u.mu.Lock()
		if len(u.parsed) >= 64 {
			clear(u.parsed) // bounded: start afresh
		}
		u.parsed[key] = proj
		u.mu.Unlock()
	}
	f := proj.Flow(name)
	if f == nil {
		return nil, fmt.Errorf("project %s version %d has no flow %q", project, version, name)
	}
	return f, nil
}

type jobRow struct {
	api.ExecutionJob
	Depth int
	Short string
}

// loadExecutionFlow reads the path's execution and its flow's definition.
func (u *UI) loadExecutionFlow(w http.ResponseWriter, r *http.Request, s *session) (*api.Execution, *flow.Flow, bool) {
	ex, ok := u.loadExecution(w, r, s)
	if !ok {
		return nil, nil, false
	}
	f, err := u.flowOf(r, ex.Project, ex.Version, ex.Flow)
	if err != nil {
		u.failErr(w, r, s, err)
		return nil, nil, false
	}
	return ex, f, true
}

func (u *UI) execution(w http.ResponseWriter, r *http.Request, s *session) {
	ex, f, ok := u.loadExecutionFlow(w, r, s)
	if !ok {
		return
	}
	lvl := r.URL.Query().Get("level")
	if level(f, lvl) == nil {
		lvl = ""
	}
	states := nodeStates(f, ex.Jobs)
	// Jobs in flow order; those that have not started yet show as READY.
	byName := map[string]api.ExecutionJob{}
	for _, j := range ex.Jobs {
		byName[j.Name] = j
	}
	var rows []jobRow
	f.Walk(func(path string, n *flow.Node) {
		j, ok := byName[path]
		if !ok {
			j = api.ExecutionJob{Name: path, Type: n.Type, Status: states[path]}
			if j.Status == "" {
				j.Status = "READY"
			}
		}
		rows = append(rows, jobRow{ExecutionJob: j, Depth: strings.Count(path, ":"), Short: n.Name})
	})
	u.render(w, r, s, "execution", fmt.Sprintf("Execution %d", ex.ID), map[string]any{
		"X": ex, "Graph": graph(f, lvl, states), "Level": lvl, "Crumbs": crumbs(lvl), "Jobs": rows,
		"Job": r.URL.Query().Get("job"), "Params": sortedKeys(ex.Params),
	})
}

// executionState is what the execution page polls while it runs: the
// execution's status and every node's, by job path.
func (u *UI) executionState(w http.ResponseWriter, r *http.Request, s *session) {
	ex, f, ok := u.loadExecutionFlow(w, r, s)
	if !ok {
		return
	}
	type jobState struct {
		Status   string `json:"status"`
		Attempt  int    `json:"attempt"`
		Duration string `json:"duration"`
		ExitCode string `json:"exit_code"`
	}
	jobs := map[string]jobState{}
	for _, j := range ex.Jobs {
		jobs[j.Name] = jobState{Status: j.Status, Attempt: j.Attempt, Duration: duration(j.StartTime, j.EndTime), ExitCode: funcs["exitCode"].(func(*int) string)(j.ExitCode)}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"status": ex.Status, "ended": ex.Ended(), "nodes": nodeStates(f, ex.Jobs), "jobs": jobs,
		"duration": duration(ex.StartTime, ex.EndTime), "error": ex.Error, "wait_reason": ex.WaitReason,
		"start_time": ex.StartTime, "end_time": ex.EndTime,
	})
}

func logPath(id int64, job string, offset int64, length int) string {
	q := url.Values{"offset": {strconv.FormatInt(offset, 10)}}
	if job != "" {
		q.Set("job", job)
	}
	if length > 0 {
		q.Set("length", strconv.Itoa(length))
	}
	return fmt.Sprintf("/api/v1/executions/%d/logs?%s", id, q.Encode())
}

// logChunk is one piece of a log for the viewer: the API's answer.
func (u *UI) logChunk(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := pathID(w, r, u, s)
	if !ok {
		return
	}
	offset, _ := strconv.ParseInt(r.URL.Query().Get("offset"), 10, 64)
	length, _ := strconv.Atoi(r.URL.Query().Get("length"))
	var c api.LogChunk
	if _, err := u.call(r, s, http.MethodGet, logPath(id, r.URL.Query().Get("job"), offset, length), nil, &c); err != nil {
		u.failErr(w, r, s, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

var unsafeFile = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// logText is a whole log as plain text: the raw view, or with ?download=1
// a file to save.
func (u *UI) logText(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := pathID(w, r, u, s)
	if !ok {
		return
	}
	job := r.URL.Query().Get("job")
	var offset int64
	var out []byte
	for {
		var c api.LogChunk
		if _, err := u.call(r, s, http.MethodGet, logPath(id, job, offset, 0), nil, &c); err != nil {
			if len(out) == 0 {
				u.failErr(w, r, s, err)
				return
			}
			break
		}
		out = append(out, c.Data...)
		if c.Data == "" || c.Next <= offset {
			break
		}
		offset = c.Next
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if r.URL.Query().Get("download") != "" {
		name := fmt.Sprintf("execution-%d", id)
		if job != "" {
			name += "-" + unsafeFile.ReplaceAllString(job, "_")
		}
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name+".log"))
	}
	_, _ = w.Write(out)
}

func (u *UI) kill(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := pathID(w, r, u, s)
	if !ok {
		return
	}
	var ex api.Execution
	if _, err := u.call(r, s, http.MethodPost, fmt.Sprintf("/api/v1/executions/%d/cancel", id), nil, &ex); err != nil {
		u.failErr(w, r, s, err)
		return
	}
	back(w, r, fmt.Sprintf("/ui/executions/%d", id), fmt.Sprintf("Execution %d is %s.", id, ex.Status))
}

// executionAction calls the API's POST /api/v1/executions/{id}/ACTION and
// shows the execution with msg (formatted with its id).
func (u *UI) executionAction(action, msg string) handler {
	return func(w http.ResponseWriter, r *http.Request, s *session) {
		id, ok := pathID(w, r, u, s)
		if !ok {
			return
		}
		if _, err := u.call(r, s, http.MethodPost, fmt.Sprintf("/api/v1/executions/%d/%s", id, action), nil, nil); err != nil {
			u.failErr(w, r, s, err)
			return
		}
		back(w, r, fmt.Sprintf("/ui/executions/%d", id), fmt.Sprintf(msg, id))
	}
}

// retry runs a failed or killed execution again from its failed jobs (the
// API's retry with failed_only) and shows the new execution.
func (u *UI) retry(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := pathID(w, r, u, s)
	if !ok {
		return
	}
	var ex api.Execution
	if _, err := u.call(r, s, http.MethodPost, fmt.Sprintf("/api/v1/executions/%d/retry", id), map[string]bool{"failed_only": true}, &ex); err != nil {
		u.failErr(w, r, s, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/ui/executions/%d?flash=%s", ex.ID, url.QueryEscape(fmt.Sprintf("Retry of execution %d submitted.", id))), http.StatusSeeOther)
}

// rerun submits the execution's flow again with the same parameters,
// options and pinned executor (the project's latest version).
func (u *UI) rerun(w http.ResponseWriter, r *http.Request, s *session) {
	ex, ok := u.loadExecution(w, r, s)
	if !ok {
		return
	}
	req := api.SubmitRequest{Project: ex.Project, Flow: ex.Flow, Params: ex.Params, Concurrent: ex.Concurrent,
		Priority: ex.Priority, FailureAction: ex.FailureAction}
	if ex.PinnedExecutorID != nil {
		req.Executor = strconv.FormatInt(*ex.PinnedExecutorID, 10)
	}
	u.submit(w, r, s, req)
}

// submit runs a flow through the API and shows the new execution.
func (u *UI) submit(w http.ResponseWriter, r *http.Request, s *session, req api.SubmitRequest) {
	var res api.SubmitResult
	if _, err := u.call(r, s, http.MethodPost, "/api/v1/executions", req, &res); err != nil {
		u.failErr(w, r, s, err)
		return
	}
	if len(res.Executions) == 0 {
		u.fail(w, r, s, http.StatusInternalServerError, "the API created no execution")
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/ui/executions/%d?flash=%s", res.Executions[0].ID, url.QueryEscape("Submitted.")), http.StatusSeeOther)
}

// ---- projects and flows

func (u *UI) projects(w http.ResponseWriter, r *http.Request, s *session) {
	data := map[string]any{}
	if listPage[api.Project](u, w, r, s, "/api/v1/projects", "Projects", data) {
		u.render(w, r, s, "projects", "Projects", data)
	}
}

func (u *UI) upload(w http.ResponseWriter, r *http.Request, s *session) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	file, hdr, err := r.FormFile("archive")
	if err != nil {
		u.fail(w, r, s, http.StatusBadRequest, "Choose a project archive (.zip) to upload.")
		return
	}
	defer file.Close()
	if name == "" {
		name = strings.TrimSuffix(hdr.Filename, ".zip")
	}
	data, err := io.ReadAll(io.LimitReader(file, u.cfg.MaxUpload+1))
	if err != nil {
		u.fail(w, r, s, http.StatusBadRequest, "Cannot read the upload: "+err.Error())
		return
	}
	var res api.UploadResult
	if _, err := u.call(r, s, http.MethodPost, "/api/v1/projects/"+url.PathEscape(name), bytes.NewReader(data), &res); err != nil {
		u.failErr(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/ui/projects/"+url.PathEscape(res.Project)+"?flash="+url.QueryEscape(fmt.Sprintf("Uploaded version %d.", res.Version)), http.StatusSeeOther)
}

func (u *UI) project(w http.ResponseWriter, r *http.Request, s *session) {
	name := r.PathValue("name")
	var p api.Project
	if _, err := u.get(r, s, "/api/v1/projects/"+url.PathEscape(name), nil, &p); err != nil {
		u.failErr(w, r, s, err)
		return
	}
	var flows []api.FlowSummary
	if _, err := u.get(r, s, "/api/v1/projects/"+url.PathEscape(name)+"/flows", nil, &flows); err != nil {
		u.failErr(w, r, s, err)
		return
	}
	sort.Slice(p.Versions, func(i, j int) bool { return p.Versions[i].Version > p.Versions[j].Version })
	u.render(w, r, s, "project", "Project "+p.Name, map[string]any{"P": p, "Flows": flows})
}

func (u *UI) flowPage(w http.ResponseWriter, r *http.Request, s *session) {
	name, flowName := r.PathValue("name"), r.PathValue("flow")
	version, _ := strconv.Atoi(r.URL.Query().Get("version"))
	var p api.Project
	if _, err := u.get(r, s, "/api/v1/projects/"+url.PathEscape(name), nil, &p); err != nil {
		u.failErr(w, r, s, err)
		return
	}
	if version <= 0 {
		version = p.LatestVersion
	}
	f, err := u.flowOf(r, name, version, flowName)
	if err != nil {
		u.failErr(w, r, s, err)
		return
	}
	lvl := r.URL.Query().Get("level")
	if level(f, lvl) == nil {
		lvl = ""
	}
	var execs []*api.Execution
	if _, err := u.get(r, s, "/api/v1/executions", url.Values{"project": {name}, "flow": {flowName}, "limit": {"10"}}, &execs); err != nil {
		u.failErr(w, r, s, err)
		return
	}
	var executors []api.Executor
	if s.can(auth.Admin) {
		if _, err := u.get(r, s, "/api/v1/executors", url.Values{"limit": {strconv.Itoa(api.MaxLimit)}}, &executors); err != nil {
			u.failErr(w, r, s, err)
			return
		}
	}
	u.render(w, r, s, "flow", "Flow "+flowName, map[string]any{
		"P": p, "F": f, "Version": version, "Latest": version == p.LatestVersion, "Graph": graph(f, lvl, nil),
		"Level": lvl, "Crumbs": crumbs(lvl), "ConfigKeys": sortedKeys(f.Config), "Executions": execs, "Executors": executors,
	})
}

// formParams reads the run form's parameters: param.KEY fields and the
// extra k=v lines.
func formParams(r *http.Request) (map[string]string, error) {
	params := map[string]string{}
	for k, v := range r.PostForm {
		if key, ok := strings.CutPrefix(k, "param."); ok && len(v) > 0 {
			params[key] = v[0]
		}
	}
	for _, line := range strings.Split(r.PostFormValue("extra"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("bad parameter line %q: write key=value", line)
		}
		params[strings.TrimSpace(k)] = v
	}
	return params, nil
}

func (u *UI) run(w http.ResponseWriter, r *http.Request, s *session) {
	params, err := formParams(r)
	if err != nil {
		u.fail(w, r, s, http.StatusBadRequest, err.Error())
		return
	}
	req := api.SubmitRequest{Project: r.PathValue("name"), Flow: r.PathValue("flow"), Params: params,
		Concurrent: r.PostFormValue("concurrent"), Executor: r.PostFormValue("executor")}
	if req.Executor != "" && !s.can(auth.Admin) {
		u.fail(w, r, s, http.StatusForbidden, "Only an admin may pin a run to an executor.")
		return
	}
	u.submit(w, r, s, req)
}

// ---- schedules

func (u *UI) schedules(w http.ResponseWriter, r *http.Request, s *session) {
	data := map[string]any{}
	if !listPage[api.Schedule](u, w, r, s, "/api/v1/schedules", "Schedules", data) {
		return
	}
	var projects []api.Project
	if _, err := u.get(r, s, "/api/v1/projects", url.Values{"limit": {strconv.Itoa(api.MaxLimit)}}, &projects); err != nil {
		u.failErr(w, r, s, err)
		return
	}
	var flows []string
	for _, p := range projects {
		flows = append(flows, p.Flows...)
	}
	sort.Strings(flows)
	data["Projects"], data["Flows"], data["Zone"], data["Form"] = projects, flows, schedule.DefaultZone(), r.URL.Query()
	u.render(w, r, s, "schedules", "Schedules", data)
}

func (u *UI) addSchedule(w http.ResponseWriter, r *http.Request, s *session) {
	params, err := formParams(r)
	if err != nil {
		u.fail(w, r, s, http.StatusBadRequest, err.Error())
		return
	}
	req := api.ScheduleRequest{Project: strings.TrimSpace(r.PostFormValue("project")), Flow: strings.TrimSpace(r.PostFormValue("flow")),
		Cron: strings.TrimSpace(r.PostFormValue("cron")), TimeZone: strings.TrimSpace(r.PostFormValue("tz")), Params: params}
	var sc api.Schedule
	if _, err := u.call(r, s, http.MethodPost, "/api/v1/schedules", req, &sc); err != nil {
		u.failErr(w, r, s, err)
		return
	}
	back(w, r, "/ui/schedules", fmt.Sprintf("Schedule %d added.", sc.ID))
}

func (u *UI) scheduleAction(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := pathID(w, r, u, s)
	if !ok {
		return
	}
	method, path := http.MethodPost, fmt.Sprintf("/api/v1/schedules/%d/%s", id, r.PathValue("verb"))
	switch r.PathValue("verb") {
	case "pause", "resume":
	case "delete":
		method, path = http.MethodDelete, fmt.Sprintf("/api/v1/schedules/%d", id)
	default:
		u.fail(w, r, s, http.StatusNotFound, "No such schedule action.")
		return
	}
	if _, err := u.call(r, s, method, path, nil, nil); err != nil {
		u.failErr(w, r, s, err)
		return
	}
	past := map[string]string{"pause": "paused", "resume": "resumed", "delete": "deleted"}[r.PathValue("verb")]
	back(w, r, "/ui/schedules", fmt.Sprintf("Schedule %d %s.", id, past))
}
