// Package webserver is the `crawlctl web serve` daemon's HTTP side: the REST
// API under /api/v1 that the CLI and scripts use, health checks, and the
// dispatcher it runs. Every handler reads and writes the database; the server
// keeps no shared state of its own, so several can run against one database.
package webserver

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/crawlctl/crawlctl/pkg/dispatch"
	"github.com/crawlctl/crawlctl/pkg/flow"
	"github.com/crawlctl/crawlctl/pkg/store"
)

// Config is the web server's settings.
type Config struct {
	OfflineAfter time.Duration
	Limits       flow.Limits
	// ExecutorTimeout bounds HTTP calls to executors (cancel nudges).
	ExecutorTimeout time.Duration
}

// Server serves the REST API.
type Server struct {
	cfg      Config
	store    *store.Store
	disp     *dispatch.Dispatcher
	log      zerolog.Logger
	executor *http.Client
	metrics  http.Handler
}

// New builds a server; disp may be nil (no dispatching from this process),
// metrics may be nil (no /metrics).
func New(cfg Config, st *store.Store, disp *dispatch.Dispatcher, metrics http.Handler, log zerolog.Logger) *Server {
	if cfg.OfflineAfter <= 0 {
		cfg.OfflineAfter = 30 * time.Second
	}
	if cfg.Limits == (flow.Limits{}) {
		cfg.Limits = flow.DefaultLimits()
	}
	if cfg.ExecutorTimeout <= 0 {
		cfg.ExecutorTimeout = 5 * time.Second
	}
	return &Server{cfg: cfg, store: st, disp: disp, metrics: metrics, log: log, executor: &http.Client{Timeout: cfg.ExecutorTimeout}}
}

// Handler returns the HTTP handler with every route.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	if s.metrics != nil {
		mux.Handle("GET /metrics", s.metrics)
	}

	mux.HandleFunc("GET /api/v1/executors", s.listExecutors)
	mux.HandleFunc("GET /api/v1/executors/{ref}", s.getExecutor)
	mux.HandleFunc("POST /api/v1/executors/{ref}/activate", s.activateExecutor)
	mux.HandleFunc("POST /api/v1/executors/{ref}/deactivate", s.deactivateExecutor)
	mux.HandleFunc("DELETE /api/v1/executors/{ref}", s.removeExecutor)

	mux.HandleFunc("GET /api/v1/projects", s.listProjects)
	mux.HandleFunc("POST /api/v1/projects/{name}", s.uploadProject)
	mux.HandleFunc("GET /api/v1/projects/{name}", s.getProject)
	mux.HandleFunc("GET /api/v1/projects/{name}/flows", s.listFlows)
	mux.HandleFunc("GET /api/v1/projects/{name}/flows/{flow}", s.getFlow)

	mux.HandleFunc("POST /api/v1/executions", s.submit)
	mux.HandleFunc("GET /api/v1/executions", s.listExecutions)
	mux.HandleFunc("GET /api/v1/executions/{id}", s.getExecution)
	mux.HandleFunc("POST /api/v1/executions/{id}/cancel", s.cancelExecution)
	mux.HandleFunc("GET /api/v1/executions/{id}/logs", s.executionLogs)

	mux.HandleFunc("POST /api/v1/schedules", s.addSchedule)
	mux.HandleFunc("GET /api/v1/schedules", s.listSchedules)
	mux.HandleFunc("GET /api/v1/schedules/{id}", s.getSchedule)
	mux.HandleFunc("POST /api/v1/schedules/{id}/pause", s.pauseSchedule)
	mux.HandleFunc("POST /api/v1/schedules/{id}/resume", s.resumeSchedule)
	mux.HandleFunc("DELETE /api/v1/schedules/{id}", s.removeSchedule)

	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such API endpoint: "+r.Method+" "+r.URL.Path)
	})
	return s.recoverer(mux)
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if err := s.store.CheckSchema(ctx); err != nil {
		msg := "database unreachable"
		if errors.Is(err, store.ErrSchemaOutdated) {
			msg = err.Error()
		}
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": msg})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				s.log.Error().Interface("panic", v).Str("path", r.URL.Path).Msg("handler panicked")
				writeError(w, http.StatusInternalServerError, "internal error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// actor names who made a request, for events and submit_user.
func actor(r *http.Request) string {
	if u := r.Header.Get("X-Crawlctl-User"); u != "" {
		return u
	}
	return "api " + r.RemoteAddr
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// apiError is the body of every error response.
type apiError struct {
	Error      string   `json:"error"`
	Candidates []string `json:"candidates,omitempty"`
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, apiError{Error: msg})
}

// storeError maps store errors to HTTP statuses.
func (s *Server) storeError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, store.ErrConflict):
		writeError(w, http.StatusConflict, err.Error())
	default:
		s.log.Error().Err(err).Msg("request failed")
		writeError(w, http.StatusInternalServerError, "server error: "+err.Error())
	}
}
