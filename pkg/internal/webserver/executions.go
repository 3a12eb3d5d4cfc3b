package webserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

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
		FailureAction: req.FailureAction, Priority: req.Priority, User: actor(r), Disabled: req.Disabled, Alerts: alerts(req.RunOptions), Selector: req.Selector,
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
	if err != nil {
		s.submitError(w, err)
		return
	}
	res := api.SubmitResult{Executions: wireExecutions(list)}
	s.log.Info().Str("project", ne.Project).Str("flow", ne.Flow).Int("executions", len(res.Executions)).Int64("first_id", res.Executions[0].ID).Msg("flow submitted")
	writeJSON(w, http.StatusCreated, res)
}

// alerts are the notification settings of o as the store keeps them.
func alerts(o api.RunOptions) store.Alerts {
	return store.Alerts{SuccessEmails: o.SuccessEmails, FailureEmails: o.FailureEmails, NotifyFailureFirst: o.NotifyFailureFirst, NotifyFailureLast: o.NotifyFailureLast}
}

// submitError answers a failed submission: 409 with the running execution
// when --concurrent skip refused it, else as storeError does.
func (s *Server) submitError(w http.ResponseWriter, err error) {
	var are *store.AlreadyRunningError
	if errors.As(err, &are) {
		writeJSON(w, http.StatusConflict, api.SkippedResult{Error: "skipped: " + are.Error(), Skipped: true, RunningExecution: are.ID})
		return
	}
	s.storeError(w, err)
}

// timeBound reads a list's time bound: an RFC 3339 time, or a duration
// back from now ("24h": a day ago).
func timeBound(v string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Parse(time.RFC3339, v)
}

func (s *Server) listExecutions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page, ok := listPage(w, r)
	if !ok {
		return
	}
	f := store.ExecutionFilter{Status: q.Get("status"), Project: q.Get("project"), Flow: q.Get("flow"), Limit: page.Limit}
	if v := q.Get("executor"); v != "" {
		var err error
		if f.ExecutorID, err = strconv.ParseInt(v, 10, 64); err != nil || f.ExecutorID <= 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("bad executor id %q: give the executor's numeric id", v))
			return
		}
	}
	for _, b := range []struct {
		name string
		t    *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(b.name); v != "" {
			t, err := timeBound(v, time.Now())
			if err != nil {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("bad %s %q: give a time (2026-11-30T08:00:00Z) or a duration back from now (24h)", b.name, v))
				return
			}
			*b.t = t
		}
	}
	if f.Before, ok = beforeCursor(w, page); !ok {
		return
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

// getExecution answers one execution. With ?wait=DURATION&status=S (a
// long poll) it answers as soon as the execution's status is no longer S,
// or when DURATION (at most api.MaxWait) has passed, so a waiting client
// hears of the change within a few milliseconds (statusWatch) instead of
// at its next poll.
func (s *Server) getExecution(w http.ResponseWriter, r *http.Request) {
	id, ok := execID(w, r)
	if !ok {
		return
	}
	var wait time.Duration
	seen := r.URL.Query().Get("status")
	if v := r.URL.Query().Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > api.MaxWait {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("bad wait %q: give a duration up to %s", v, api.MaxWait))
			return
		}
		wait = d
	}
	ex, err := s.store.GetExecution(r.Context(), id)
	if err != nil {
		s.storeError(w, err)
		return
	}
	if seen != "" && ex.Status == seen && wait > 0 {
		if !s.watch.wait(r.Context(), id, seen, wait) && r.Context().Err() != nil {
			return // the client went away
		}
		if ex, err = s.store.GetExecution(r.Context(), id); err != nil {
			s.storeError(w, err)
			return
		}
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

// pauseExecution and resumeExecution pause a RUNNING execution (its
// running jobs go on, no job starts) and resume it, through the same store
// function as Azkaban's pauseFlow and resumeFlow; the executor follows the
// database at its next poll.
func (s *Server) pauseExecution(w http.ResponseWriter, r *http.Request) { s.setExecPaused(w, r, true) }
func (s *Server) resumeExecution(w http.ResponseWriter, r *http.Request) {
	s.setExecPaused(w, r, false)
}

func (s *Server) setExecPaused(w http.ResponseWriter, r *http.Request, paused bool) {
	id, ok := execID(w, r)
	if !ok {
		return
	}
	if err := s.store.SetExecutionPaused(r.Context(), id, paused); err != nil {
		s.storeError(w, err)
		return
	}
	ex, err := s.store.GetExecution(r.Context(), id)
	if err != nil {
		s.storeError(w, err)
		return
	}
	s.log.Info().Int64("execution", id).Bool("paused", paused).Str("by", actor(r)).Msg("execution pause changed")
	writeJSON(w, http.StatusOK, wireExecution(ex))
}

// retryExecution runs a FAILED or KILLED execution again as a new one
// (201 with it); with failed_only the jobs that succeeded are reused.
func (s *Server) retryExecution(w http.ResponseWriter, r *http.Request) {
	id, ok := execID(w, r)
	if !ok {
		return
	}
	var req api.RetryRequest
	if r.ContentLength != 0 {
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil && !errors.Is(err, io.EOF) {
			writeError(w, http.StatusBadRequest, "bad retry body: "+err.Error())
			return
		}
	}
	ex, err := s.retry(r.Context(), id, req.FailedOnly, actor(r))
	if err != nil {
		s.submitError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, wireExecution(ex))
}

// retry submits the retry of an ended execution: the REST API's and the
// Azkaban API's retryFailedJobs.
func (s *Server) retry(ctx context.Context, id int64, failedOnly bool, who string) (*store.Execution, error) {
	ne, err := s.store.RetrySubmission(ctx, id, failedOnly, who)
	if err != nil {
		return nil, err
	}
	ex, _, err := s.disp.Submit(ctx, ne)
	if err != nil {
		return nil, err
	}
	s.log.Info().Int64("execution", ex.ID).Int64("retry_of", id).Bool("failed_only", failedOnly).Str("by", who).Msg("execution retried")
	return ex, nil
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
