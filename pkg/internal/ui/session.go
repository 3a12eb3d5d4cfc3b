package ui

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/crawlctl/crawlctl/pkg/api"
	"github.com/crawlctl/crawlctl/pkg/internal/auth"
)

// SessionCookie holds a login's API token. Azkaban's AJAX API uses the same
// name for its session id and accepts an API token there, so one login
// serves both.
const SessionCookie = "azkaban.browser.session.id"

// preCookie holds the random value the login form echoes (double submit)
// and, on an --insecure server, every form.
const preCookie = "crawlctl.ui.csrf"

// SessionTTL is how long a web UI login lasts.
const SessionTTL = 10 * time.Hour

// session is who is using the UI.
type session struct {
	token string // the API token from the cookie ("" on an --insecure server)
	id    auth.Identity
	csrf  string // what every form of this session must carry
}

func (s *session) can(role string) bool { return s != nil && auth.Allows(s.id.Role, role) }

// CSRF protection. A logged-in session's forms carry
// HMAC-SHA256(key = session token, "crawlctl web ui csrf"): only a page
// that could read the HttpOnly cookie's token — ours, rendered for it —
// knows it; it needs no server-side state, so it holds across several web
// servers. Forms without a session (login; everything on an --insecure
// server) use a double-submit cookie. Every POST also has its Origin (or
// Referer) checked against the Host when the browser sends one.
func csrfFor(token string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("crawlctl web ui csrf"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func randomValue() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// preValue returns the double-submit value, setting the cookie when absent.
func preValue(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(preCookie); err == nil && len(c.Value) >= 16 {
		return c.Value
	}
	v := randomValue()
	http.SetCookie(w, &http.Cookie{Name: preCookie, Value: v, Path: "/ui/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	return v
}

// sameOrigin is false when the browser says the request comes from a page
// of another origin.
func sameOrigin(r *http.Request) bool {
	from := r.Header.Get("Origin")
	switch from {
	case "null": // an opaque origin: a sandboxed frame, a data: URL
		return false
	case "":
		if from = r.Header.Get("Referer"); from == "" {
			return true // not a browser's cross-site post: the token decides
		}
	}
	o, err := url.Parse(from)
	return err == nil && strings.EqualFold(o.Host, r.Host)
}

func validCSRF(r *http.Request, want string) bool {
	got := r.PostFormValue("csrf")
	return want != "" && got != "" && hmac.Equal([]byte(got), []byte(want)) && sameOrigin(r)
}

// current returns the request's session, or nil when it has none.
func (u *UI) current(w http.ResponseWriter, r *http.Request) (*session, error) {
	if u.cfg.Insecure {
		return &session{id: auth.Identity{User: "anyone (--insecure)", Role: auth.Admin}, csrf: preValue(w, r)}, nil
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	id, err := auth.Authenticate(r.Context(), u.cfg.Store, c.Value)
	if errors.Is(err, auth.ErrUnauthorized) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &session{token: c.Value, id: id, csrf: csrfFor(c.Value)}, nil
}

// authed checks the session and role of a request; it answers by itself
// (login redirect, 403, 503) and returns nil when the handler must not run.
func (u *UI) authed(w http.ResponseWriter, r *http.Request, need string) *session {
	s, err := u.current(w, r)
	if err != nil {
		u.cfg.Log.Error().Err(err).Msg("web ui: cannot check the session")
		u.fail(w, r, nil, http.StatusServiceUnavailable, "The database is unavailable: cannot check your login.")
		return nil
	}
	if s == nil {
		if r.Method == http.MethodGet && !wantsJSON(r) {
			http.Redirect(w, r, "/ui/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		} else {
			u.fail(w, r, nil, http.StatusUnauthorized, "Your login has ended: log in again.")
		}
		return nil
	}
	if !s.can(need) {
		u.fail(w, r, s, http.StatusForbidden, fmt.Sprintf("This needs the %s role; %s is %s.", need, s.id.User, s.id.Role))
		return nil
	}
	return s
}

type handler func(w http.ResponseWriter, r *http.Request, s *session)

// page registers a read: any session with role need.
func (u *UI) page(m *http.ServeMux, pattern, need string, h handler) {
	m.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if s := u.authed(w, r, need); s != nil {
			h(w, r, s)
		}
	})
}

// action registers a state-changing form post: role need and a valid CSRF
// token. The API checks the role again when the handler calls it.
func (u *UI) action(m *http.ServeMux, pattern, need string, h handler) {
	m.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, u.cfg.MaxUpload+1<<20)
		s := u.authed(w, r, need)
		if s == nil {
			return
		}
		if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
			if err := r.ParseMultipartForm(32 << 20); err != nil {
				u.fail(w, r, s, http.StatusBadRequest, "Bad form: "+err.Error())
				return
			}
		}
		if !validCSRF(r, s.csrf) {
			u.fail(w, r, s, http.StatusForbidden, "This form is stale or came from another site (CSRF check failed): reload the page and try again.")
			return
		}
		h(w, r, s)
	})
}

func (u *UI) loginPage(w http.ResponseWriter, r *http.Request) {
	if s, err := u.current(w, r); err == nil && s != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	u.render(w, r, nil, "login", "Log in", map[string]any{"Next": safeNext(r.URL.Query().Get("next")), "CSRF": preValue(w, r)})
}

// safeNext keeps a redirect after login on this UI.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/ui/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return "/ui/executions"
	}
	return next
}

// loginSubmit checks the password through the REST login itself (same
// bcrypt check, same limiter) and keeps the token it issues in the cookie.
func (u *UI) loginSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	user, next := r.PostFormValue("user"), safeNext(r.PostFormValue("next"))
	c, err := r.Cookie(preCookie)
	if err != nil || !validCSRF(r, c.Value) {
		w.WriteHeader(http.StatusForbidden)
		u.render(w, r, nil, "login", "Log in", map[string]any{"Next": next, "User": user, "CSRF": preValue(w, r),
			"Error": "The login form is stale or came from another site: try again."})
		return
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	var res api.TokenResult
	_, err = u.call(r, &session{}, http.MethodPost, "/api/v1/login", api.LoginRequest{
		User: user, Password: r.PostFormValue("password"), ExpiresIn: SessionTTL.String(), Name: "web ui login from " + host,
	}, &res)
	if err != nil {
		code := statusOf(err)
		msg := err.Error()
		if code == http.StatusUnauthorized {
			msg = "Wrong user name or password."
		} else if code >= 500 {
			u.cfg.Log.Error().Err(err).Msg("web ui login failed")
			msg = "The server could not check the login; try again shortly."
		}
		w.WriteHeader(code)
		u.render(w, r, nil, "login", "Log in", map[string]any{"Next": next, "User": user, "Error": msg, "CSRF": c.Value})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: res.Secret, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: r.TLS != nil, MaxAge: int(SessionTTL.Seconds())})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout revokes the session's token and clears the cookie.
func (u *UI) logout(w http.ResponseWriter, r *http.Request) {
	s := u.authed(w, r, auth.Viewer)
	if s == nil {
		return
	}
	if !validCSRF(r, s.csrf) {
		u.fail(w, r, s, http.StatusForbidden, "This form is stale or came from another site (CSRF check failed): reload the page and try again.")
		return
	}
	if s.token != "" {
		if err := u.cfg.Store.RevokeTokenHash(r.Context(), auth.HashToken(s.token)); err != nil {
			u.failErr(w, r, s, err)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: -1})
	http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
}
