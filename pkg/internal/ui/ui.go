// Package ui is the web UI the web server serves under /ui/: server-rendered
// pages (html/template) with a little hand-written JavaScript for live
// updates, every file embedded in the binary, nothing fetched from outside.
//
// The UI is a client of the REST API in the same process: every read and
// every action is a request to the API handler with the user's own token,
// so it passes the same authentication, role checks, validation and store
// and dispatcher calls as the CLI's. Only the login session (a cookie
// holding an API token) and the drawing are the UI's own.
package ui

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/rs/zerolog"

	"github.com/crawlctl/crawlctl/pkg/api"
	"github.com/crawlctl/crawlctl/pkg/internal/auth"
	"github.com/crawlctl/crawlctl/pkg/internal/flow"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config is what the UI needs from the web server.
type Config struct {
	// API is the REST API's handler (/api/v1/...); the UI calls it in
	// process for every read and action.
	API http.Handler
	// Store authenticates the session cookie and ends it at logout, and
	// reads the flow definitions of project versions the graphs draw.
	Store *store.Store
	// Insecure: the web server runs with --insecure; no login, everyone
	// may do everything.
	Insecure bool
	// MaxUpload bounds a project archive uploaded through the UI (the API
	// applies its own limit too).
	MaxUpload int64
	Log       zerolog.Logger
}

// UI serves the pages.
type UI struct {
	cfg   Config
	pages map[string]*template.Template
	mux   *http.ServeMux

	mu     sync.Mutex
	parsed map[string]*flow.Project // parsed flows by project and version
}

// New builds the UI handler, to be mounted at /ui/.
func New(cfg Config) *UI {
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = 256 << 20
	}
	u := &UI{cfg: cfg, pages: parsePages(), mux: http.NewServeMux(), parsed: map[string]*flow.Project{}}
	u.routes()
	return u
}

func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// Nothing is loaded from elsewhere, and no other site may frame a page.
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	u.mux.ServeHTTP(w, r)
}

func (u *UI) routes() {
	m := u.mux
	static, _ := fs.Sub(staticFS, "static")
	m.Handle("GET /ui/static/", http.StripPrefix("/ui/static/", cacheStatic(http.FileServer(http.FS(static)))))
	m.HandleFunc("GET /ui/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui/executions", http.StatusSeeOther)
	})
	m.HandleFunc("GET /ui/login", u.loginPage)
	m.HandleFunc("POST /ui/login", u.loginSubmit)
	m.HandleFunc("POST /ui/logout", u.logout)

	v, op, ad := auth.Viewer, auth.Operator, auth.Admin
	u.page(m, "GET /ui/executors", v, u.executors)
	u.page(m, "GET /ui/executors/{id}", v, u.executor)
	u.page(m, "GET /ui/executors/{id}/state", v, u.executorState)
	u.action(m, "POST /ui/executors/{id}/active", ad, u.setActive)

	u.page(m, "GET /ui/executions", v, u.executions)
	u.page(m, "GET /ui/executions/{id}", v, u.execution)
	u.page(m, "GET /ui/executions/{id}/state", v, u.executionState)
	u.page(m, "GET /ui/executions/{id}/log", v, u.logChunk)
	u.page(m, "GET /ui/executions/{id}/log.txt", v, u.logText)
	u.action(m, "POST /ui/executions/{id}/kill", op, u.kill)
	u.action(m, "POST /ui/executions/{id}/pause", op, u.executionAction("pause", "Execution %d is paused: running jobs finish, no new job starts."))
	u.action(m, "POST /ui/executions/{id}/resume", op, u.executionAction("resume", "Execution %d goes on."))
	u.action(m, "POST /ui/executions/{id}/retry", op, u.retry)
	u.action(m, "POST /ui/executions/{id}/rerun", op, u.rerun)

	u.page(m, "GET /ui/projects", v, u.projects)
	u.action(m, "POST /ui/projects", op, u.upload)
	u.page(m, "GET /ui/projects/{name}", v, u.project)
	u.page(m, "GET /ui/projects/{name}/flows/{flow}", v, u.flowPage)
	u.action(m, "POST /ui/projects/{name}/flows/{flow}/run", op, u.run)

	u.page(m, "GET /ui/schedules", v, u.schedules)
	u.action(m, "POST /ui/schedules", op, u.addSchedule)
	u.action(m, "POST /ui/schedules/{id}/{verb}", op, u.scheduleAction)

	m.HandleFunc("/ui/", func(w http.ResponseWriter, r *http.Request) {
		u.fail(w, r, nil, http.StatusNotFound, "No such page: "+r.URL.Path)
	})
}

func cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}

// apiError is an error answer of the REST API.
type apiError struct {
	Status  int
	Message string
}

func (e *apiError) Error() string { return e.Message }

// recorder collects the API's answer to an in-process request.
type recorder struct {
	h    http.Header
	code int
	body bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.h }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}

// call sends one request to the REST API as the session's user and decodes
// the JSON answer into out (when not nil). body is JSON-encoded unless it
// is already an io.Reader.
func (u *UI) call(r *http.Request, s *session, method, path string, body any, out any) (http.Header, error) {
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case io.Reader:
		rd, ctype = b, "application/zip"
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd, ctype = bytes.NewReader(data), "application/json"
	}
	req, err := http.NewRequestWithContext(r.Context(), method, path, rd)
	if err != nil {
		return nil, err
	}
	req.RemoteAddr = r.RemoteAddr
	req.Host = r.Host
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	} else {
		req.Header.Set("X-Crawlctl-User", "web ui")
	}
	rec := &recorder{h: http.Header{}}
	u.cfg.API.ServeHTTP(rec, req)
	if rec.code == 0 {
		rec.code = http.StatusOK
	}
	if rec.code >= 300 {
		var e api.Error
		if json.Unmarshal(rec.body.Bytes(), &e) != nil || e.Error == "" {
			e.Error = fmt.Sprintf("the API answered %d", rec.code)
		}
		return rec.h, &apiError{Status: rec.code, Message: e.Error}
	}
	if out != nil {
		if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
			return rec.h, fmt.Errorf("bad API answer to %s %s: %w", method, path, err)
		}
	}
	return rec.h, nil
}

func (u *UI) get(r *http.Request, s *session, path string, q url.Values, out any) (http.Header, error) {
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return u.call(r, s, http.MethodGet, path, nil, out)
}

// statusOf is the HTTP status to answer an error with.
func statusOf(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status
	}
	if errors.Is(err, store.ErrNotFound) {
		return http.StatusNotFound
	}
	if errors.Is(err, context.Canceled) {
		return 499
	}
	return http.StatusInternalServerError
}

// fail shows an error page; a 500's detail goes to the log only.
func (u *UI) fail(w http.ResponseWriter, r *http.Request, s *session, code int, msg string) {
	if code >= 500 {
		u.cfg.Log.Error().Str("path", r.URL.Path).Str("error", msg).Msg("web ui request failed")
		msg = "Something went wrong on the server; its log says what."
	}
	if wantsJSON(r) {
		writeJSON(w, code, map[string]string{"error": msg})
		return
	}
	w.WriteHeader(code)
	u.render(w, r, s, "error", "Error", map[string]any{"Code": code, "Message": msg})
}

func (u *UI) failErr(w http.ResponseWriter, r *http.Request, s *session, err error) {
	u.fail(w, r, s, statusOf(err), err.Error())
}

func wantsJSON(r *http.Request) bool {
	return strings.HasSuffix(r.URL.Path, "/state") || strings.HasSuffix(r.URL.Path, "/log")
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
