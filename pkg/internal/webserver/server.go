// Package webserver is the `crawlctl web serve` daemon's HTTP side: the REST
// API under /api/v1 that the CLI and scripts use, health checks, and the
// dispatcher it runs. Every handler reads and writes the database; the server
// keeps no shared state of its own, so several can run against one database.
package webserver

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/crawlctl/crawlctl/pkg/internal/auth"
	"github.com/crawlctl/crawlctl/pkg/internal/dispatch"
	"github.com/crawlctl/crawlctl/pkg/internal/flow"
	"github.com/crawlctl/crawlctl/pkg/internal/httpx"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/ui"
)

// Config is the web server's settings.
type Config struct {
	// Insecure turns authentication off: every request may do everything.
	Insecure     bool
	OfflineAfter time.Duration
	Limits       flow.Limits
	// SessionIdle is how long a session of the Azkaban API lives after its
	// last use (azkaban.DefaultSessionIdle when zero).
	SessionIdle time.Duration
	// Alerts sends test alerts (nil: no channel).
	Alerts AlertTester
}

// Server serves the REST API.
type Server struct {
	cfg     Config
	store   *store.Store
	disp    *dispatch.Dispatcher
	log     zerolog.Logger
	metrics http.Handler
	logins  *auth.Limiter
	jobs    jobNames
	watch   *statusWatch
}

// New builds a server. Submissions go through disp; nil stands for one
// that is not running (it still queues and assigns, and the executors'
// polls claim). metrics may be nil (no /metrics).
func New(cfg Config, st *store.Store, disp *dispatch.Dispatcher, metrics http.Handler, log zerolog.Logger) *Server {
	if cfg.OfflineAfter <= 0 {
		cfg.OfflineAfter = 30 * time.Second
	}
	if disp == nil {
		disp = dispatch.New(dispatch.Config{OfflineAfter: cfg.OfflineAfter}, st, log)
	}
	if cfg.Limits == (flow.Limits{}) {
		cfg.Limits = flow.DefaultLimits()
	}
	return &Server{cfg: cfg, store: st, disp: disp, metrics: metrics, log: log, logins: auth.NewLimiter(st, 5, time.Minute), watch: &statusWatch{st: st}}
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

	v, op, ad := auth.Viewer, auth.Operator, auth.Admin
	mux.HandleFunc("POST /api/v1/login", s.login)
	s.handle(mux, "GET /api/v1/whoami", v, s.whoami)

	s.handle(mux, "GET /api/v1/executors", v, s.listExecutors)
	s.handle(mux, "GET /api/v1/executors/{ref}", v, s.getExecutor)
	s.handle(mux, "POST /api/v1/executors/{ref}/activate", ad, s.activateExecutor)
	s.handle(mux, "POST /api/v1/executors/{ref}/deactivate", ad, s.deactivateExecutor)
	s.handle(mux, "DELETE /api/v1/executors/{ref}", ad, s.removeExecutor)
	s.handle(mux, "POST /api/v1/executors/{ref}/labels", ad, s.setLabels)
	s.handle(mux, "GET /api/v1/alerts", v, s.listAlerts)
	s.handle(mux, "POST /api/v1/alerts/test", ad, s.testAlert)

	s.handle(mux, "GET /api/v1/projects", v, s.listProjects)
	s.handle(mux, "POST /api/v1/projects/{name}", op, s.uploadProject)
	s.handle(mux, "GET /api/v1/projects/{name}", v, s.getProject)
	s.handle(mux, "GET /api/v1/projects/{name}/flows", v, s.listFlows)
	s.handle(mux, "GET /api/v1/projects/{name}/flows/{flow}", v, s.getFlow)

	s.handle(mux, "POST /api/v1/executions", op, s.submit)
	s.handle(mux, "GET /api/v1/executions", v, s.listExecutions)
	s.handle(mux, "GET /api/v1/executions/{id}", v, s.getExecution)
	s.handle(mux, "POST /api/v1/executions/{id}/cancel", op, s.cancelExecution)
	s.handle(mux, "POST /api/v1/executions/{id}/pause", op, s.pauseExecution)
	s.handle(mux, "POST /api/v1/executions/{id}/resume", op, s.resumeExecution)
	s.handle(mux, "POST /api/v1/executions/{id}/retry", op, s.retryExecution)
	s.handle(mux, "GET /api/v1/executions/{id}/logs", v, s.executionLogs)

	s.handle(mux, "POST /api/v1/schedules", op, s.addSchedule)
	s.handle(mux, "GET /api/v1/schedules", v, s.listSchedules)
	s.handle(mux, "GET /api/v1/schedules/{id}", v, s.getSchedule)
	s.handle(mux, "POST /api/v1/schedules/{id}/pause", op, s.pauseSchedule)
	s.handle(mux, "POST /api/v1/schedules/{id}/resume", op, s.resumeSchedule)
	s.handle(mux, "DELETE /api/v1/schedules/{id}", op, s.removeSchedule)

	s.handle(mux, "POST /api/v1/users", ad, s.addUser)
	s.handle(mux, "GET /api/v1/users", ad, s.listUsers)
	s.handle(mux, "DELETE /api/v1/users/{name}", ad, s.removeUser)
	s.handle(mux, "PUT /api/v1/users/{name}/password", v, s.setPassword)
	s.handle(mux, "POST /api/v1/tokens", v, s.createToken)
	s.handle(mux, "GET /api/v1/tokens", v, s.listTokens)
	s.handle(mux, "DELETE /api/v1/tokens/{id}", v, s.revokeToken)

	mux.Handle("/ui/", ui.New(ui.Config{API: mux, Store: s.store, Insecure: s.cfg.Insecure, MaxUpload: s.cfg.Limits.MaxArchiveBytes, Log: s.log}))
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such API endpoint: "+r.Method+" "+r.URL.Path)
	})
	s.azkaban().Register(mux)
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

// actor names who made a request, for events, submit_user and owners: the
// authenticated user, or (with --insecure) what the client says it is.
func actor(r *http.Request) string {
	if id, ok := auth.FromContext(r.Context()); ok {
		return id.User
	}
	if u := r.Header.Get("X-Crawlctl-User"); u != "" {
		// Whatever the client claims must fit where actors are stored.
		const mark = " (unauthenticated)"
		return strings.ToValidUTF8(clip(u, store.MaxName-len(mark)), "") + mark
	}
	return "api " + r.RemoteAddr
}

// The API answers indented JSON, for people reading it with curl.
var (
	writeJSON  = httpx.Writer{Indent: "  "}.JSON
	writeError = httpx.Writer{Indent: "  "}.Error
)

// apiError is the body of every error response.
type apiError = httpx.ErrorBody

// clip cuts s to at most n bytes.
func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
