package webserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/crawlctl/crawlctl/pkg/api"
	"github.com/crawlctl/crawlctl/pkg/internal/flow"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/submission"
)

func (s *Server) submit(w http.ResponseWriter, r *http.Request) {
	var req api.SubmitRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad submit body: "+err.Error())
		return
	}
	if req.Executor != "" && req.AllExecutors {
		writeError(w, http.StatusBadRequest, "choose either an executor or all executors, not both")
		return
	}
	ne, err := submission.Prepare(r.Context(), s.store, submission.Request{
		Project: req.Project, Flow: req.Flow, Params: req.Params, Concurrent: req.Concurrent,
		FailureAction: req.FailureAction, Priority: req.Priority, User: actor(r), Selector: req.Selector,
	})
	if err != nil {
		s.storeError(w, err)
		return
	}
	if req.Executor != "" {
		e := s.resolve(w, r, req.Executor)
		if e == nil {
			return
		}
		ne.PinnedExecutorID = e.ID
	}
	var list []*store.Execution
	if req.AllExecutors {
		list, err = s.disp.SubmitEverywhere(r.Context(), ne)
	} else {
		var ex *store.Execution
		if ex, _, err = s.disp.Submit(r.Context(), ne); err == nil {
			list = []*store.Execution{ex}
		}
	}
	var are *store.AlreadyRunningError
	if errors.As(err, &are) {
		writeJSON(w, http.StatusConflict, api.SkippedResult{Error: "skipped: " + are.Error(), Skipped: true, RunningExecution: are.ID})
		return
	}
	if err != nil {
		s.storeError(w, err)
		return
	}
	res := api.SubmitResult{Executions: wireExecutions(list)}
	s.log.Info().Str("project", ne.Project).Str("flow", ne.Flow).Int("executions", len(res.Executions)).Int64("first_id", res.Executions[0].ID).Msg("flow submitted")
	writeJSON(w, http.StatusCreated, res)
}

func (s *Server) listExecutions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page, ok := listPage(w, r)
	if !ok {
		return
	}
	f := store.ExecutionFilter{Status: q.Get("status"), Project: q.Get("project"), Flow: q.Get("flow"), Limit: page.Limit}
	if page.After != "" {
		// Newest first: the next page holds the executions older than the
		// last one seen.
		var err error
		if f.Before, err = strconv.ParseInt(page.After, 10, 64); err != nil || f.Before <= 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("bad cursor %q: give the %s header of the previous page", page.After, api.NextCursorHeader))
			return
		}
	}
	list, err := s.store.ListExecutions(r.Context(), f)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeList(w, page, list, func(e *store.Execution) string { return idKey(e.ID) }, wireExecution)
}

func execID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("bad execution id %q", r.PathValue("id")))
		return 0, false
	}
	return id, true
}

func (s *Server) getExecution(w http.ResponseWriter, r *http.Request) {
	id, ok := execID(w, r)
	if !ok {
		return
	}
	ex, err := s.store.GetExecution(r.Context(), id)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, wireExecution(ex))
}

func (s *Server) cancelExecution(w http.ResponseWriter, r *http.Request) {
	id, ok := execID(w, r)
	if !ok {
		return
	}
	ex, err := s.cancel(r.Context(), id, actor(r))
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, wireExecution(ex))
}

// cancel cancels an execution in the database, then nudges its executor.
func (s *Server) cancel(ctx context.Context, id int64, who string) (*store.Execution, error) {
	ex, err := s.store.CancelExecution(ctx, id, who, "")
	if err != nil {
		return nil, err
	}
	if ex.Status == store.ExecKilling && ex.ExecutorAddr != "" {
		// The database already says KILLING; telling the executor only
		// makes it faster, so the answer does not wait for it.
		s.disp.TellCancel(ex, who)
	}
	return ex, nil
}

// jobNames remembers the job paths of flows of project versions, which
// never change, so following a job's log does not parse its project on
// every poll.
type jobNames struct {
	mu    sync.Mutex
	paths map[string][]string
}

// names returns the job paths of flow in project's version.
func (j *jobNames) names(r *http.Request, s *Server, project string, version int, flowName string) ([]string, error) {
	key := fmt.Sprintf("%s\x00%d\x00%s", project, version, flowName)
	j.mu.Lock()
	names, ok := j.paths[key]
	j.mu.Unlock()
	if ok {
		return names, nil
	}
	proj, _, err := s.loadProject(r, project, version)
	if err != nil {
		return nil, err
	}
	if f := proj.Flow(flowName); f != nil {
		f.Walk(func(path string, _ *flow.Node) { names = append(names, path) })
	}
	j.mu.Lock()
	if j.paths == nil || len(j.paths) >= 256 {
		j.paths = map[string][]string{} // bounded: start afresh
	}
	j.paths[key] = names
	j.mu.Unlock()
	return names, nil
}

func (s *Server) executionLogs(w http.ResponseWriter, r *http.Request) {
	id, ok := execID(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	offset, _ := strconv.ParseInt(q.Get("offset"), 10, 64)
	length, _ := strconv.Atoi(q.Get("length"))
	ex, err := s.store.GetExecution(r.Context(), id)
	if err != nil {
		s.storeError(w, err)
		return
	}
	job := q.Get("job")
	if job != "" {
		names, err := s.jobs.names(r, s, ex.Project, ex.Version, ex.Flow)
		if err != nil {
			s.storeError(w, err)
			return
		}
		if !slices.Contains(names, job) {
			writeError(w, http.StatusNotFound, fmt.Sprintf("execution %d has no job %q (jobs: %s)", id, job, strings.Join(names, ", ")))
			return
		}
	}
	data, next, err := s.store.ReadLog(r.Context(), id, job, offset, length)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, api.LogChunk{Job: job, Offset: offset, Next: next, Data: string(data), Ended: ex.Ended()})
}
