package azkaban

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

// manager is Azkaban's ProjectManagerServlet (/manager).
func (a *API) manager(w http.ResponseWriter, r *request) {
	if r.MultipartForm != nil && r.Method == http.MethodPost {
		if r.param("ajax") == "upload" || r.param("action") == "upload" {
			a.upload(w, r)
			return
		}
	}
	if r.Method == http.MethodPost && r.param("action") == "create" {
		a.create(w, r)
		return
	}
	switch ajax := r.param("ajax"); ajax {
	case "fetchprojectflows":
		a.fetchProjectFlows(w, r)
	case "fetchflowgraph":
		a.fetchFlowGraph(w, r)
	case "fetchFlowExecutions":
		a.fetchFlowExecutions(w, r)
	case "fetchLastSuccessfulFlowExecution":
		a.fetchLastSuccessful(w, r)
	case "upload":
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "ajax=upload takes a multipart/form-data POST with the fields project and file"})
	case "":
		unsupported(w, "/manager", "action", r.param("action"))
	default:
		unsupported(w, "/manager", "ajax", ajax)
	}
}

// projectNameRule is Azkaban's rule for project names.
var projectNameRule = regexp.MustCompile(`^[a-zA-Z][a-zA-Z_0-9-]*$`)

// create is action=create: an empty project with a description, which the
// first upload fills.
func (a *API) create(w http.ResponseWriter, r *request) {
	answer := func(msg string) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "error", "message": msg})
	}
	name, desc := r.param("name"), r.param("description")
	switch {
	case !r.who.has(permWrite):
		answer(fmt.Sprintf("User %s doesn't have permission to create projects.", r.who.User))
	case !r.has("name") || name == "":
		answer("Project name cannot be empty.")
	case !r.has("description"):
		answer("Description cannot be empty.")
	case !projectNameRule.MatchString(name) || len(name) > 128:
		answer("Project names must start with a letter, followed by any number of letters, digits, '-' or '_'.")
	default:
		_, err := a.st.CreateProject(r.Context(), name, desc)
		if errors.Is(err, store.ErrConflict) {
			answer("Project already exists.")
			return
		}
		if err != nil {
			a.serverError(w, "create project", err)
			return
		}
		a.log.Info().Str("project", name).Str("by", r.who.User).Msg("project created")
		writeJSON(w, http.StatusOK, map[string]any{"status": "success", "action": "redirect", "path": "manager?project=" + name})
	}
}

// zipTypes are the content types Azkaban takes for a project archive.
var zipTypes = []string{"application/zip", "application/x-zip-compressed", "application/octet-stream"}

// upload is ajax=upload: a multipart POST of project and file.
func (a *API) upload(w http.ResponseWriter, r *request) {
	name := r.param("project")
	fail := func(code int, msg string, extra map[string]any) {
		out := map[string]any{"error": msg}
		for k, v := range extra {
			out[k] = v
		}
		writeJSON(w, code, out)
	}
	p, err := a.project(r, name)
	if err != nil {
		a.serverError(w, "read project", err)
		return
	}
	if p == nil {
		fail(http.StatusGone, "Installation Failed. Project '"+name+" doesn't exist.", nil)
		return
	}
	if !r.who.has(permWrite) {
		fail(http.StatusBadRequest, "Installation Failed. User '"+r.who.User+"' does not have write access.", nil)
		return
	}
	ids := map[string]any{"projectId": strconv.FormatInt(p.ID, 10), "version": strconv.Itoa(p.LatestVersion)}
	files := r.MultipartForm.File["file"]
	if len(files) == 0 {
		fail(http.StatusBadRequest, paramError("file"), ids)
		return
	}
	fh := files[0]
	ctype := fh.Header.Get("Content-Type")
	known := false
	for _, t := range zipTypes {
		known = known || strings.HasPrefix(ctype, t)
	}
	if !known {
		fail(http.StatusBadRequest, "File type "+ctype+" unrecognized.", ids)
		return
	}
	f, err := fh.Open()
	if err != nil {
		fail(http.StatusBadRequest, "Installation Failed.<br>cannot read the uploaded file: "+err.Error(), ids)
		return
	}
	archive, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		fail(http.StatusBadRequest, "Installation Failed.<br>cannot read the uploaded file: "+err.Error(), ids)
		return
	}
	pv, err := a.b.Upload(r.Context(), name, archive, r.who.User)
	var ue *UploadError
	if errors.As(err, &ue) {
		msg := ue.Msg
		if len(msg) > 512 {
			msg = msg[:512] + "<br>Too many errors to display.<br>"
		}
		fail(http.StatusInternalServerError, "Installation Failed.<br>"+msg, ids)
		return
	}
	if err != nil {
		a.serverError(w, "Installation Failed.", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"projectId": strconv.FormatInt(pv.ProjectID, 10), "version": strconv.Itoa(pv.Version)})
}

// readableProject loads a project for a read of it, answering Azkaban's
// errors (with the "project" key) when it is missing or unreadable.
func (a *API) readableProject(w http.ResponseWriter, r *request) (*store.Project, bool) {
	name, ok := r.required(w, "project")
	if !ok {
		return nil, false
	}
	p, err := a.project(r, name)
	if err != nil {
		a.serverError(w, "read project", err)
		return nil, false
	}
	if p == nil {
		writeJSON(w, http.StatusOK, map[string]any{"project": name, "error": "Project " + name + " doesn't exist."})
		return nil, false
	}
	if !r.who.has(permRead) {
		writeJSON(w, http.StatusOK, map[string]any{"project": name, "error": r.who.permissionError(permRead, name)})
		return nil, false
	}
	return p, true
}

func (a *API) fetchProjectFlows(w http.ResponseWriter, r *request) {
	p, ok := a.readableProject(w, r)
	if !ok {
		return
	}
	flows := []map[string]any{}
	if p.LatestVersion > 0 {
		proj, _, _, err := a.loadFlows(r, p.Name, 0)
		if err != nil {
			a.serverError(w, "read flows", err)
			return
		}
		if proj != nil {
			for _, name := range proj.FlowNames() {
				flows = append(flows, map[string]any{"flowId": name})
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"project": p.Name, "projectId": p.ID, "flows": flows})
}

// readableFlow is readableProject plus the required flow parameter.
func (a *API) readableFlow(w http.ResponseWriter, r *request) (*store.Project, string, bool) {
	p, ok := a.readableProject(w, r)
	if !ok {
		return nil, "", false
	}
	flowName, ok := r.required(w, "flow")
	return p, flowName, ok
}

func (a *API) fetchFlowGraph(w http.ResponseWriter, r *request) {
	p, flowName, ok := a.readableFlow(w, r)
	if !ok {
		return
	}
	proj, _, _, err := a.loadFlows(r, p.Name, 0)
	if err != nil {
		a.serverError(w, "read flows", err)
		return
	}
	if proj == nil || proj.Flow(flowName) == nil {
		writeJSON(w, http.StatusOK, map[string]any{"project": p.Name, "projectId": p.ID, "error": "Flow " + flowName + " not found in project " + p.Name})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"project": p.Name, "projectId": p.ID, "flow": flowName, "nodes": graphNodes(proj.Flow(flowName).Nodes)})
}

func (a *API) fetchFlowExecutions(w http.ResponseWriter, r *request) {
	p, flowName, ok := a.readableFlow(w, r)
	if !ok {
		return
	}
	from, ok := r.requiredInt(w, "start")
	if !ok {
		return
	}
	length, ok := r.requiredInt(w, "length")
	if !ok {
		return
	}
	list, total, err := a.st.FlowExecutions(r.Context(), p.Name, flowName, int(min(max(from, 0), 1<<30)), int(min(max(length, 0), 1000)))
	if err != nil {
		a.log.Error().Err(err).Msg("fetchFlowExecutions")
		writeJSON(w, http.StatusOK, map[string]any{"error": "Error retrieving executable flows"})
		return
	}
	execs := []map[string]any{}
	for _, e := range list {
		execs = append(execs, map[string]any{"execId": e.ID, "flowId": e.Flow, "projectId": e.ProjectID, "status": execStatus(e),
			"submitTime": millis(&e.SubmitTime), "startTime": millis(e.StartTime), "endTime": millis(e.EndTime), "submitUser": e.SubmitUser})
	}
	writeJSON(w, http.StatusOK, map[string]any{"project": p.Name, "projectId": p.ID, "flow": flowName, "total": total, "from": from, "length": length, "executions": execs})
}

func (a *API) fetchLastSuccessful(w http.ResponseWriter, r *request) {
	p, flowName, ok := a.readableFlow(w, r)
	if !ok {
		return
	}
	list, err := a.st.ListExecutions(r.Context(), store.ExecutionFilter{Project: p.Name, Flow: flowName, Status: store.ExecSucceeded, Limit: 1})
	if err != nil {
		a.serverError(w, "Error retrieving last successful execution", err)
		return
	}
	if len(list) == 0 {
		writeJSON(w, http.StatusOK, map[string]any{"success": "false", "message": "This flow has no successful run."})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": "true", "message": "", "execId": list[0].ID})
}
