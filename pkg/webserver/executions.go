package webserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/crawlctl/crawlctl/pkg/flow"

	"github.com/crawlctl/crawlctl/pkg/store"
	"github.com/crawlctl/crawlctl/pkg/submission"
)

// SubmitRequest is the body of POST /api/v1/executions.
type SubmitRequest struct {
	Project       string            `json:"project"`
	Flow          string            `json:"flow"`
	Params        map[string]string `json:"params"`
	Executor      string            `json:"executor"`      // pin to this executor REF
	AllExecutors  bool              `json:"all_executors"` // one execution per active online executor
	Concurrent    string            `json:"concurrent"`    // skip, ignore (default) or queue
	Priority      int               `json:"priority"`
	FailureAction string            `json:"failure_action"`
}

// SubmitResult is the reply to a submit.
type SubmitResult struct {
	Executions []*store.Execution `json:"executions"`
}

// SkippedResult is the 409 reply when concurrent=skip finds the flow running.
type SkippedResult struct {
	Error            string `json:"error"`
	Skipped          bool   `json:"skipped"`
	RunningExecution int64  `json:"running_execution_id"`
}

func (s *Server) submit(w http.ResponseWriter, r *http.Request) {
	var req SubmitRequest
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
		FailureAction: req.FailureAction, Priority: req.Priority, User: actor(r),
	})
	if err != nil {
		s.submissionError(w, err)
		return
	}
	var pins []int64
	switch {
	case req.Executor != "":
		e := s.resolve(w, r, req.Executor)
		if e == nil {
			return
		}
		pins = []int64{e.ID}
	case req.AllExecutors:
		list, err := s.store.ListExecutors(r.Context())
		if err != nil {
			s.storeError(w, err)
			return
		}
		for _, e := range list {
			if e.Active && e.Status(s.cfg.OfflineAfter) == store.StatusOnline {
				pins = append(pins, e.ID)
			}
		}
		if len(pins) == 0 {
			writeError(w, http.StatusConflict, "no active online executor to run on (see `crawlctl executor list`)")
			return
		}
		// One per executor: the skip check must not see its siblings.
		if ne.Concurrent == "skip" {
			ne.Concurrent = "ignore"
		}
	default:
		pins = []int64{0}
	}
	res := SubmitResult{}
	// With a dispatcher, an execution is assigned in its submit transaction
	// when nothing waits ahead of it, and its executor nudged at once.
	var choose store.ChooseFunc
	var nudge func(store.Assignment)
	if s.disp != nil {
		if err := s.disp.Refresh(r.Context()); err != nil {
			s.storeError(w, err)
			return
		}
		choose, nudge = s.disp.Choose, s.disp.Assigned
	}
	queued := 0
	for _, pin := range pins {
		ne.PinnedExecutorID = pin
		ex, a, err := s.store.SubmitAndAssign(r.Context(), ne, choose, nudge)
		var are *store.AlreadyRunningError
		if errors.As(err, &are) {
			writeJSON(w, http.StatusConflict, SkippedResult{Error: "skipped: " + are.Error(), Skipped: true, RunningExecution: are.ID})
			return
		}
		if err != nil {
			s.storeError(w, err)
			return
		}
		res.Executions = append(res.Executions, ex)
		if a == nil {
			queued++
		}
	}
	if s.disp != nil && queued > 0 {
		s.disp.Wake()
	}
	s.log.Info().Str("project", ne.Project).Str("flow", ne.Flow).Int("executions", len(res.Executions)).Int64("first_id", res.Executions[0].ID).Msg("flow submitted")
	writeJSON(w, http.StatusCreated, res)
}

// submissionError answers a failed submission.Prepare: unknown names are
// 404, bad values 400, anything else a server error.
func (s *Server) submissionError(w http.ResponseWriter, err error) {
	var ie *submission.InputError
	if errors.As(err, &ie) {
		code := http.StatusBadRequest
		if strings.HasPrefix(ie.Msg, "no project") || strings.Contains(ie.Msg, "has no flow") {
			code = http.StatusNotFound
		}
		writeError(w, code, ie.Msg)
		return
	}
	s.storeError(w, err)
}

func (s *Server) listExecutions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	list, err := s.store.ListExecutions(r.Context(), store.ExecutionFilter{Status: q.Get("status"), Project: q.Get("project"), Flow: q.Get("flow"), Limit: limit})
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, list)
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
	writeJSON(w, http.StatusOK, ex)
}

func (s *Server) cancelExecution(w http.ResponseWriter, r *http.Request) {
	id, ok := execID(w, r)
	if !ok {
		return
	}
	ex, err := s.store.CancelExecution(r.Context(), id, actor(r), "")
	if err != nil {
		s.storeError(w, err)
		return
	}
	if ex.Status == store.ExecKilling && ex.ExecutorAddr != "" && s.disp != nil {
		// The database already says KILLING; telling the executor only
		// makes it faster, so the answer does not wait for it.
		s.disp.TellCancel(ex, actor(r))
	}
	writeJSON(w, http.StatusOK, ex)
}

// LogChunk is the reply of GET /api/v1/executions/{id}/logs.
type LogChunk struct {
	Job    string `json:"job"`
	Offset int64  `json:"offset"`
	Next   int64  `json:"next_offset"`
	Data   string `json:"data"`
	Ended  bool   `json:"ended"`
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
		proj, _, err := s.loadProject(r, ex.Project, ex.Version)
		if err != nil {
			s.storeError(w, err)
			return
		}
		var names []string
		if f := proj.Flow(ex.Flow); f != nil {
			f.Walk(func(path string, _ *flow.Node) { names = append(names, path) })
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
	writeJSON(w, http.StatusOK, LogChunk{Job: job, Offset: offset, Next: next, Data: string(data), Ended: ex.Ended()})
}
