package executor

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/auth"
	"github.com/crawlctl/crawlctl/pkg/internal/httpx"
)

// routes serves Azkaban's executor servlet and health checks.
func (e *Executor) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/executor", e.servlet)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "executor_id": e.ID()})
	})
	mux.Handle("/metrics", e.metrics.Handler())
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		if err := e.store.Ping(ctx); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": "database unreachable"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	return mux
}

// The servlet answers compact JSON, as Azkaban's does, with <, > and &
// as they are: its replies are read by people with curl.
var (
	writeJSON    = httpx.Writer{RawHTML: true}.JSON
	servletError = httpx.Writer{RawHTML: true}.Error
)

// The servlet's 401 replies: they say what was wrong and how to fix it.
const (
	NoSecretReply    = `unauthorized: send the cluster secret as "Authorization: Bearer <secret>" (--cluster-secret-file)`
	WrongSecretReply = `unauthorized: wrong cluster secret: this executor's --cluster-secret-file holds another one`
)

// servlet implements Azkaban's ExecutorServlet: action= as a query or form
// parameter, GET or POST.
func (e *Executor) servlet(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		servletError(w, http.StatusBadRequest, "bad request: "+err.Error())
		return
	}
	action := r.Form.Get("action")
	switch action {
	case "execute", "cancel", "activate", "deactivate", "log", "refresh":
		if presented := auth.BearerToken(r); !e.cfg.Insecure && !auth.SecretMatches(e.cfg.ClusterSecret, presented) {
			if presented == "" {
				e.log.Warn().Str("action", action).Str("remote", r.RemoteAddr).Msg("servlet call without the cluster secret refused")
				servletError(w, http.StatusUnauthorized, NoSecretReply)
			} else {
				e.log.Warn().Str("action", action).Str("remote", r.RemoteAddr).Msg("servlet call with a wrong cluster secret refused: the caller's --cluster-secret-file differs from this executor's")
				servletError(w, http.StatusUnauthorized, WrongSecretReply)
			}
			return
		}
	}
	switch action {
	case "":
		servletError(w, http.StatusBadRequest, "Parameter action not set")
	case "ping":
		writeJSON(w, http.StatusOK, map[string]string{"status": "alive"})
	case "activate", "deactivate":
		e.setActive(w, r, action == "activate")
	case "refresh":
		// The web server changed this executor's row (activation): read it
		// now instead of at the next heartbeat, and look for work at once.
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		ex, err := e.store.GetExecutor(ctx, e.ID())
		if err != nil {
			servletError(w, http.StatusServiceUnavailable, "database unavailable: "+err.Error())
			return
		}
		if e.active.Swap(ex.Active) != ex.Active {
			e.log.Info().Bool("active", ex.Active).Msg("activation changed")
		}
		if ex.Active {
			e.nudge()
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "success", "isActive": strconv.FormatBool(ex.Active)})
	case "getStatus":
		active := e.active.Load()
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		if ex, err := e.store.GetExecutor(ctx, e.ID()); err == nil {
			active = ex.Active
		}
		writeJSON(w, http.StatusOK, map[string]string{
			"executor_id": strconv.FormatInt(e.ID(), 10),
			"isActive":    strconv.FormatBool(active),
			"status":      "success",
		})
	case "execute":
		e.servletExecute(w, r)
	case "cancel":
		e.servletCancel(w, r)
	case "log":
		e.servletLog(w, r)
	default:
		servletError(w, http.StatusBadRequest, "action: '"+action+"' not supported.")
	}
}

func (e *Executor) setActive(w http.ResponseWriter, r *http.Request, active bool) {
	if e.stopping.Load() && active {
		servletError(w, http.StatusConflict, "executor is shutting down")
		return
	}
	actor := "executor-http " + r.RemoteAddr
	if u := r.Form.Get("user"); u != "" {
		actor = u + " via executor-http " + r.RemoteAddr
	}
	if _, err := e.store.SetExecutorActive(r.Context(), e.ID(), active, actor); err != nil {
		e.log.Error().Err(err).Bool("active", active).Msg("servlet activation failed")
		servletError(w, http.StatusServiceUnavailable, "database unavailable: "+err.Error())
		return
	}
	e.active.Store(active)
	if active {
		e.nudge()
	}
	e.log.Info().Bool("active", active).Str("actor", actor).Msg("activation changed through the executor servlet")
	writeJSON(w, http.StatusOK, map[string]string{"status": "success"})
}
