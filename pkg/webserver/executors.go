package webserver

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/crawlctl/crawlctl/pkg/store"
)

// ExecutorView is the JSON shape of an executor.
type ExecutorView struct {
	ID             int64             `json:"id"`
	Name           string            `json:"name"`
	Host           string            `json:"host"`
	Port           int               `json:"port"`
	Active         bool              `json:"active"`
	Status         string            `json:"status"`
	RunningFlows   int               `json:"running_flows"`
	MaxFlows       int               `json:"max_flows"`
	LastHeartbeat  *time.Time        `json:"last_heartbeat"`
	HeartbeatAgeMs int64             `json:"heartbeat_age_ms"`
	ClockSkewMs    int64             `json:"clock_skew_ms"`
	Version        string            `json:"version"`
	Labels         map[string]string `json:"labels"`
	StartedAt      *time.Time        `json:"started_at"`
	StoppedAt      *time.Time        `json:"stopped_at"`
	Load1          float64           `json:"load1"`
	TLS            bool              `json:"tls"`
	// StatusNote qualifies Status: "secret mismatch" while the executor
	// refuses the web servers' cluster secret (SecretRefused says why);
	// it is offered no work meanwhile.
	StatusNote    string                `json:"status_note,omitempty"`
	SecretRefused string                `json:"secret_refused,omitempty"`
	Events        []store.ExecutorEvent `json:"events,omitempty"`
}

func (s *Server) view(e *store.Executor) ExecutorView {
	return ExecutorView{
		ID: e.ID, Name: e.Name, Host: e.Host, Port: e.Port, Active: e.Active, Status: e.Status(s.cfg.OfflineAfter),
		RunningFlows: e.RunningFlows, MaxFlows: e.MaxFlows, LastHeartbeat: e.LastHeartbeat, HeartbeatAgeMs: e.HeartbeatAge.Milliseconds(),
		ClockSkewMs: e.ClockSkew.Milliseconds(), Version: e.Version, Labels: e.Labels, StartedAt: e.StartedAt, StoppedAt: e.StoppedAt, Load1: e.Load1, TLS: e.TLS,
		SecretRefused: e.SecretRefused, StatusNote: statusNote(e),
	}
}

// listExecutors shows each executor's running flows as the database counts
// them (its executions in DISPATCHING, RUNNING or KILLING), never the count
// its last heartbeat reported.
func (s *Server) listExecutors(w http.ResponseWriter, r *http.Request) {
	list, err := s.store.ExecutorsWithLoad(r.Context())
	if err != nil {
		s.storeError(w, err)
		return
	}
	out := make([]ExecutorView, 0, len(list))
	for _, e := range list {
		out = append(out, s.view(e))
	}
	writeJSON(w, http.StatusOK, out)
}

// RefError is an unknown or ambiguous executor reference.
type RefError struct {
	Ref        string
	Candidates []string
}

func (e *RefError) Error() string {
	if len(e.Candidates) == 0 {
		return fmt.Sprintf("no executor matches %q (use an id, host:port, a name or a host; see `crawlctl executor list`)", e.Ref)
	}
	return fmt.Sprintf("executor %q is ambiguous: it matches %s; use an id or host:port", e.Ref, strings.Join(e.Candidates, ", "))
}

// ResolveExecutor finds the one executor ref names: an id, host:port, a name
// or a host, tried in that order; each step must match exactly one.
func ResolveExecutor(list []*store.Executor, ref string) (*store.Executor, error) {
	ref = strings.TrimSpace(ref)
	describe := func(ms []*store.Executor) []string {
		var out []string
		for _, e := range ms {
			out = append(out, fmt.Sprintf("%d (%s %s)", e.ID, e.Name, e.Addr()))
		}
		sort.Strings(out)
		return out
	}
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
		for _, e := range list {
			if e.ID == id {
				return e, nil
			}
		}
	}
	matchers := []func(e *store.Executor) bool{
		func(e *store.Executor) bool { return e.Addr() == ref },
		func(e *store.Executor) bool { return e.Name == ref },
		func(e *store.Executor) bool { return e.Host == ref },
	}
	for _, m := range matchers {
		var hits []*store.Executor
		for _, e := range list {
			if m(e) {
				hits = append(hits, e)
			}
		}
		switch len(hits) {
		case 0:
			continue
		case 1:
			return hits[0], nil
		default:
			return nil, &RefError{Ref: ref, Candidates: describe(hits)}
		}
	}
	return nil, &RefError{Ref: ref}
}

// resolve writes the error response itself and returns nil on failure.
func (s *Server) resolve(w http.ResponseWriter, r *http.Request, ref string) *store.Executor {
	list, err := s.store.ExecutorsWithLoad(r.Context())
	if err != nil {
		s.storeError(w, err)
		return nil
	}
	e, err := ResolveExecutor(list, ref)
	if err != nil {
		re := err.(*RefError)
		code := http.StatusNotFound
		if len(re.Candidates) > 0 {
			code = http.StatusBadRequest
		}
		writeJSON(w, code, apiError{Error: re.Error(), Candidates: re.Candidates})
		return nil
	}
	return e
}

func (s *Server) getExecutor(w http.ResponseWriter, r *http.Request) {
	e := s.resolve(w, r, r.PathValue("ref"))
	if e == nil {
		return
	}
	v := s.view(e)
	evs, err := s.store.ExecutorEvents(r.Context(), e.ID, 20)
	if err != nil {
		s.storeError(w, err)
		return
	}
	v.Events = evs
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) activateExecutor(w http.ResponseWriter, r *http.Request)   { s.setActive(w, r, true) }
func (s *Server) deactivateExecutor(w http.ResponseWriter, r *http.Request) { s.setActive(w, r, false) }

func (s *Server) setActive(w http.ResponseWriter, r *http.Request, active bool) {
	e := s.resolve(w, r, r.PathValue("ref"))
	if e == nil {
		return
	}
	if _, err := s.store.SetExecutorActive(r.Context(), e.ID, active, actor(r)); err != nil {
		s.storeError(w, err)
		return
	}
	if s.disp != nil {
		s.disp.ExecutorsChanged()
		s.disp.Tell(e)
		if active {
			s.disp.Wake()
		}
	}
	fresh, err := s.store.GetExecutor(r.Context(), e.ID)
	if err != nil {
		s.storeError(w, err)
		return
	}
	fresh.RunningFlows = e.RunningFlows // as the database counts them
	writeJSON(w, http.StatusOK, s.view(fresh))
}

func (s *Server) removeExecutor(w http.ResponseWriter, r *http.Request) {
	e := s.resolve(w, r, r.PathValue("ref"))
	if e == nil {
		return
	}
	if err := s.store.DeleteExecutor(r.Context(), e.ID, s.cfg.OfflineAfter, actor(r)); err != nil {
		s.storeError(w, err)
		return
	}
	if s.disp != nil {
		s.disp.ExecutorsChanged()
	}
	writeJSON(w, http.StatusOK, s.view(e))
}

// statusNote is what qualifies an executor's status in listings.
func statusNote(e *store.Executor) string {
	if e.SecretRefused != "" {
		return "secret mismatch"
	}
	return ""
}
