package webserver

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/crawlctl/crawlctl/pkg/api"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

// view is an executor as the API shows it, its status judged against the
// cluster's offline threshold.
func (s *Server) view(e *store.Executor) api.Executor {
	return api.Executor{
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
	page, ok := listPage(w, r)
	if !ok {
		return
	}
	list, err := s.store.ExecutorsWithLoad(r.Context(), page)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeList(w, page, list, func(e *store.Executor) string { return idKey(e.ID) }, s.view)
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

// Unwrap makes an unknown reference a store.ErrNotFound.
func (e *RefError) Unwrap() error {
	if len(e.Candidates) == 0 {
		return store.ErrNotFound
	}
	return nil
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
	list, err := s.store.ExecutorsWithLoad(r.Context(), store.Page{})
	if err != nil {
		s.storeError(w, err)
		return nil
	}
	e, err := ResolveExecutor(list, ref)
	if err != nil {
		s.storeError(w, err)
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
	v.Events = wireEvents(evs)
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
	s.disp.ExecutorsChanged()
	s.disp.Tell(e)
	if active {
		s.disp.Wake()
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
	s.disp.ExecutorsChanged()
	writeJSON(w, http.StatusOK, s.view(e))
}

// statusNote is what qualifies an executor's status in listings.
func statusNote(e *store.Executor) string {
	if e.SecretRefused != "" {
		return "secret mismatch"
	}
	return ""
}
