// Package azkaban serves Azkaban's web AJAX API on the web server's port, so
// that an Azkaban operator's scripts and tools (curl + jq, small Go or
// Python clients) work unchanged but for the host name: login on /, the
// /manager, /executor and /schedule servlets with their ajax= and action=
// parameters, and /status. Parameters, JSON shapes, error texts and HTTP
// statuses follow Azkaban's servlets (see /work/shared/AZKABAN-AJAX.md and
// the README's "Moving from Azkaban"); what crawlctl cannot do is refused
// with an {"error": ...} saying why, never answered with a fake success.
//
// Sessions are rows of the database holding only a hash of the session id,
// so every web server accepts them and a restart keeps them. The web
// server's route table mounts the handlers (webserver.Server.Handler).
package azkaban

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/crawlctl/crawlctl/pkg/internal/auth"
	"github.com/crawlctl/crawlctl/pkg/internal/flow"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

// DefaultSessionIdle is how long a session lives after its last use, as in
// Azkaban (session.time.to.live, 10 hours).
const DefaultSessionIdle = 10 * time.Hour

// Names Azkaban gives the session id: its cookie and its parameter.
const (
	SessionCookie = "azkaban.browser.session.id"
	SessionParam  = "session.id"
)

// Config is the API's settings.
type Config struct {
	// Insecure lets every request through as an admin (the web server's
	// --insecure); a session given is still honoured.
	Insecure bool
	// SessionIdle is how long a session lives after its last use
	// (DefaultSessionIdle when zero).
	SessionIdle time.Duration
	// MaxUploadBytes bounds a project upload request.
	MaxUploadBytes int64
}

// Backend is what the web server lends the API: the store and the
// operations that the REST API performs the same way.
type Backend struct {
	Store *store.Store
	// Logins is the web server's failed-login limiter, shared with the REST
	// login.
	Logins *auth.Limiter
	// Submit queues an execution (the dispatcher's Submit).
	Submit func(ctx context.Context, ne store.NewExecution) (*store.Execution, error)
	// Cancel cancels an execution and nudges its executor.
	Cancel func(ctx context.Context, id int64, user string) (*store.Execution, error)
	// Retry submits the retry of an ended execution as a new one, reusing
	// the jobs that succeeded when failedOnly (the REST API's retry).
	Retry func(ctx context.Context, id int64, failedOnly bool, user string) (*store.Execution, error)
	// Upload validates and stores an archive as a project's next version;
	// an invalid archive is an *UploadError.
	Upload func(ctx context.Context, project string, archive []byte, user string) (*store.ProjectVersion, error)
}

// UploadError is an archive refused by validation.
type UploadError struct{ Msg string }

func (e *UploadError) Error() string { return e.Msg }

// API serves the Azkaban endpoints.
type API struct {
	cfg Config
	b   Backend
	st  *store.Store
	log zerolog.Logger
}

// New builds the API.
func New(cfg Config, b Backend, log zerolog.Logger) *API {
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = DefaultSessionIdle
	}
	if cfg.MaxUploadBytes <= 0 {
		cfg.MaxUploadBytes = flow.DefaultLimits().MaxArchiveBytes
	}
	return &API{cfg: cfg, b: b, st: b.Store, log: log.With().Str("component", "azkaban").Logger()}
}

// Register adds the Azkaban routes to mux: /, /manager, /executor,
// /schedule and /status. "/" answers a POST action=login and a 404 JSON
// error for everything else, so paths of other routes are not taken.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("/", a.root)
	mux.HandleFunc("/manager", a.servlet(a.manager))
	mux.HandleFunc("/executor", a.servlet(a.executor))
	mux.HandleFunc("/schedule", a.servlet(a.schedule))
	mux.HandleFunc("GET /status", a.status)
}

// Azkaban's permission types, granted by crawlctl's cluster-wide roles.
const (
	permRead     = "READ"
	permWrite    = "WRITE"
	permExecute  = "EXECUTE"
	permSchedule = "SCHEDULE"
	permAdmin    = "ADMIN"
)

// roleFor is the least crawlctl role that holds an Azkaban permission:
// viewer READ; operator READ, WRITE, EXECUTE and SCHEDULE; admin all,
// including ADMIN (useExecutor, flowPriority, reloadExecutors).
func roleFor(perm string) string {
	switch perm {
	case permRead:
		return auth.Viewer
	case permAdmin:
		return auth.Admin
	default:
		return auth.Operator
	}
}

// caller is an authenticated request's user.
type caller struct{ auth.Identity }

func (c caller) has(perm string) bool { return auth.Allows(c.Role, roleFor(perm)) }

// permissionError is Azkaban's text for a missing permission on a project.
func (c caller) permissionError(perm, project string) string {
	return fmt.Sprintf("User '%s' doesn't have %s permissions on %s", c.User, perm, project)
}

// request is one call: its parameters (query, form body or multipart
// fields) and who made it.
type request struct {
	*http.Request
	who caller
}

// has reports whether the parameter is present, even empty.
func (r *request) has(name string) bool {
	_, ok := r.Form[name]
	return ok
}

func (r *request) param(name string) string { return r.Form.Get(name) }

// paramError is Azkaban's text for a missing required parameter.
func paramError(name string) string { return fmt.Sprintf("Missing required parameter '%s'.", name) }

// required returns a parameter, or writes Azkaban's error for a missing one.
func (r *request) required(w http.ResponseWriter, name string) (string, bool) {
	if !r.has(name) {
		writeJSON(w, http.StatusOK, map[string]any{"error": paramError(name)})
		return "", false
	}
	return r.param(name), true
}

// requiredInt returns an integer parameter, or writes an error.
func (r *request) requiredInt(w http.ResponseWriter, name string) (int64, bool) {
	v, ok := r.required(w, name)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		writeJSON(w, http.StatusOK, map[string]any{"error": fmt.Sprintf("Parameter '%s' must be a whole number, not %q.", name, v)})
		return 0, false
	}
	return n, true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeText(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(msg))
}

// serverError answers a failure of the database or the server itself.
func (a *API) serverError(w http.ResponseWriter, what string, err error) {
	a.log.Error().Err(err).Str("doing", what).Msg("azkaban API request failed")
	writeJSON(w, http.StatusInternalServerError, map[string]any{"error": what + ": " + err.Error()})
}

// parse reads the parameters of r: the query and a form or multipart body.
func (a *API) parse(w http.ResponseWriter, r *http.Request) error {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
		r.Body = http.MaxBytesReader(w, r.Body, a.cfg.MaxUploadBytes+1<<20)
		return r.ParseMultipartForm(32 << 20)
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<20)
	return r.ParseForm()
}

// illegalPost is Azkaban's refusal of a password in a POST's query string,
// where access logs would keep it.
func illegalPost(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.Contains(r.URL.RawQuery, "password=")
}

// root serves "/": Azkaban's login (POST action=login); anything else is not
// (yet) served here.
func (a *API) root(w http.ResponseWriter, r *http.Request) {
	// A browser opening the server's address gets the web UI; scripts
	// asking Azkaban's "/" something (ajax=, action=) get their answer.
	if r.URL.Path == "/" && r.Method == http.MethodGet && r.URL.Query().Get("ajax") == "" && r.URL.Query().Get("action") == "" &&
		r.Header.Get("X-Requested-With") == "" {
		http.Redirect(w, r, "/ui/", http.StatusFound)
		return
	}
	if r.URL.Path == "/" && r.Method == http.MethodPost {
		if illegalPost(r) {
			writeText(w, "Login error. Must pass username and password in request body")
			return
		}
		if err := a.parse(w, r); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "bad request: " + err.Error()})
			return
		}
		if r.Form.Get("action") == "login" {
			a.login(w, r)
			return
		}
	}
	writeJSON(w, http.StatusNotFound, map[string]any{"error": "no such endpoint: " + r.Method + " " + r.URL.Path})
}

// servlet wraps an Azkaban servlet: it reads the parameters, answers a
// login on any servlet path as Azkaban does, finds the session (cookie
// first, then the session.id parameter; a REST API token is accepted too)
// and answers a request without one as Azkaban does.
func (a *API) servlet(h func(w http.ResponseWriter, r *request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			w.Header().Set("Allow", "GET, POST")
			writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"error": "use GET or POST"})
			return
		}
		if illegalPost(r) {
			writeText(w, "Login error. Must pass username and password in request body")
			return
		}
		if err := a.parse(w, r); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"error": fmt.Sprintf("Installation Failed.<br>the upload is over the %d MiB limit (--max-archive-size)", a.cfg.MaxUploadBytes>>20)})
				return
			}
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "bad request: " + err.Error()})
			return
		}
		if r.Method == http.MethodPost && r.Form.Get("action") == "login" {
			a.login(w, r)
			return
		}
		who, found, err := a.session(r)
		if err != nil {
			a.serverError(w, "cannot check the session", err)
			return
		}
		if !found {
			if a.cfg.Insecure {
				who, found = caller{auth.Identity{User: "azkaban (unauthenticated)", Role: auth.Admin}}, true
			} else if who, found = a.noSession(w, r); !found {
				return
			}
		}
		h(w, &request{Request: r.WithContext(auth.WithIdentity(r.Context(), who.Identity)), who: who})
	}
}

// session resolves the request's session id.
func (a *API) session(r *http.Request) (caller, bool, error) {
	id := ""
	if c, err := r.Cookie(SessionCookie); err == nil {
		id = c.Value
	}
	if id == "" {
		id = r.Form.Get(SessionParam)
	}
	if id == "" {
		return caller{}, false, nil
	}
	u, err := a.st.SessionUser(r.Context(), auth.HashToken(id), a.cfg.SessionIdle)
	if err == nil {
		return caller{auth.Identity{User: u.Name, Role: u.Role}}, true, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return caller{}, false, err
	}
	// A REST API token works as a session id too.
	ident, err := auth.Authenticate(r.Context(), a.st, id)
	if errors.Is(err, auth.ErrUnauthorized) {
		return caller{}, false, nil
	}
	if err != nil {
		return caller{}, false, err
	}
	return caller{ident}, true, nil
}

// noSession answers a request without a valid session as Azkaban does,
// unless it is a POST carrying username and password, which gets a one-off
// login.
func (a *API) noSession(w http.ResponseWriter, r *http.Request) (caller, bool) {
	if r.Method == http.MethodGet {
		if r.Form.Has("ajax") {
			writeJSON(w, http.StatusOK, map[string]any{"error": "session"})
		} else {
			loginPage(w)
		}
		return caller{}, false
	}
	multipart := r.MultipartForm != nil
	if r.Form.Has("username") && r.Form.Has("password") {
		u, msg, err := a.checkPassword(r, r.Form.Get("username"), r.Form.Get("password"))
		if err != nil {
			a.serverError(w, "cannot check the password", err)
			return caller{}, false
		}
		if u == nil {
			writeText(w, "Login error: "+msg)
			return caller{}, false
		}
		return caller{auth.Identity{User: u.Name, Role: u.Role}}, true
	}
	switch {
	case multipart:
		writeText(w, "Login error. Need username and password")
	case r.Header.Get("X-Requested-With") == "XMLHttpRequest":
		writeJSON(w, http.StatusOK, map[string]any{"status": "error", "message": "Invalid Session. Need to re-login", "action": "login"})
	default:
		loginPage(w)
	}
	return caller{}, false
}

// loginPage stands in for Azkaban's HTML login page.
func loginPage(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("<!DOCTYPE html>\n<html><head><title>crawlctl: login required</title></head><body>\n" +
		"<p>Login required. Log in with <code>curl -X POST --data-urlencode action=login --data-urlencode username=NAME --data-urlencode password=PASSWORD http://HOST/</code> " +
		"and pass the <code>session.id</code> it returns as a parameter, or as the <code>azkaban.browser.session.id</code> cookie.</p>\n</body></html>\n"))
}

// checkPassword checks a user's password through the web server's login
// limiter; a nil user comes with the message to show.
func (a *API) checkPassword(r *http.Request, name, password string) (*store.User, string, error) {
	ctx := r.Context()
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	blocked, wait, err := a.b.Logins.Blocked(ctx, host, name)
	if err != nil {
		return nil, "", err
	}
	if blocked {
		return nil, fmt.Sprintf("Too many failed logins. Try again in %s.", wait.Round(time.Second)), nil
	}
	u, hash, err := a.st.UserPasswordHash(ctx, name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, "", err
	}
	// An unknown user costs a password check too: timing tells no names.
	if !auth.CheckLogin(u != nil, hash, password) {
		if err := a.b.Logins.Fail(ctx, host, name); err != nil {
			return nil, "", err
		}
		a.log.Warn().Str("user", name).Str("remote", host).Msg("failed login")
		return nil, "Username/Password not found.", nil
	}
	if err := a.b.Logins.Reset(ctx, host, name); err != nil {
		return nil, "", err
	}
	return u, "", nil
}

// login is Azkaban's POST action=login: username and password in the body.
func (a *API) login(w http.ResponseWriter, r *http.Request) {
	if !r.PostForm.Has("username") || !r.PostForm.Has("password") {
		writeJSON(w, http.StatusOK, map[string]any{"error": "Incorrect Login."})
		return
	}
	u, msg, err := a.checkPassword(r, r.PostForm.Get("username"), r.PostForm.Get("password"))
	if err != nil {
		a.serverError(w, "cannot check the password", err)
		return
	}
	if u == nil {
		writeJSON(w, http.StatusOK, map[string]any{"error": "Incorrect Login. " + msg})
		return
	}
	id := newSessionID()
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	if err := a.st.AddSession(r.Context(), u.Name, auth.HashToken(id), host); err != nil {
		a.serverError(w, "cannot store the session", err)
		return
	}
	if n, err := a.st.DeleteIdleSessions(r.Context(), a.cfg.SessionIdle); err != nil {
		a.log.Warn().Err(err).Msg("could not delete idle sessions")
	} else if n > 0 {
		a.log.Debug().Int64("deleted", n).Msg("idle sessions deleted")
	}
	a.log.Info().Str("user", u.Name).Str("remote", host).Msg("session created")
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", SessionParam: id})
}

// newSessionID is a random UUID (version 4), the form of Azkaban's ids.
func newSessionID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // the OS random source does not fail
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// unsupported answers an ajax= value this servlet does not serve.
func unsupported(w http.ResponseWriter, servlet, kind, name string) {
	writeJSON(w, http.StatusOK, map[string]any{"error": fmt.Sprintf("%s=%s is not supported on %s by crawlctl (see the README's \"Moving from Azkaban\")", kind, name, servlet)})
}
