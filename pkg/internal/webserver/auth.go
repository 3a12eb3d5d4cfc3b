package webserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/crawlctl/crawlctl/pkg/api"
	"github.com/crawlctl/crawlctl/pkg/internal/auth"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

// handle registers a route that needs at least role need. With Insecure set
// every request passes (the daemon logged a warning at start).
func (s *Server) handle(mux *http.ServeMux, pattern, need string, h http.HandlerFunc) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Insecure {
			h(w, r)
			return
		}
		id, err := auth.Authenticate(r.Context(), s.store, auth.BearerToken(r))
		if errors.Is(err, auth.ErrUnauthorized) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="crawlctl"`)
			writeError(w, http.StatusUnauthorized, err.Error())
			return
		}
		if err != nil {
			s.log.Error().Err(err).Msg("cannot check the token")
			writeError(w, http.StatusServiceUnavailable, "database unavailable: cannot check the token")
			return
		}
		if !auth.Allows(id.Role, need) {
			writeError(w, http.StatusForbidden, fmt.Sprintf("forbidden: %s needs the %s role; %s is %s", r.Method+" "+r.URL.Path, need, id.User, id.Role))
			return
		}
		h(w, r.WithContext(auth.WithIdentity(r.Context(), id)))
	})
}

var userName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$`)

func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "bad request body: "+err.Error())
		return false
	}
	return true
}

func parseExpiry(s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	if s == "never" || s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("bad expiry %q: use a duration such as 720h, or never", s)
	}
	return d, nil
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var req api.LoginRequest
	if !decodeBody(w, r, &req) {
		return
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	blocked, wait, err := s.logins.Blocked(r.Context(), host, req.User)
	if err != nil {
		s.storeError(w, err)
		return
	}
	if blocked {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		writeError(w, http.StatusTooManyRequests, fmt.Sprintf("too many failed logins: try again in %s", wait.Round(time.Second)))
		return
	}
	u, hash, err := s.store.UserPasswordHash(r.Context(), req.User)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.storeError(w, err)
		return
	}
	if !auth.CheckLogin(u != nil, hash, req.Password) {
		if err := s.logins.Fail(r.Context(), host, req.User); err != nil {
			s.storeError(w, err)
			return
		}
		s.log.Warn().Str("user", req.User).Str("remote", host).Msg("failed login")
		writeError(w, http.StatusUnauthorized, "unauthorized: wrong user name or password")
		return
	}
	if err := s.logins.Reset(r.Context(), host, req.User); err != nil {
		s.storeError(w, err)
		return
	}
	ttl, err := parseExpiry(req.ExpiresIn, 30*24*time.Hour)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	name := "login from " + host
	if req.Name != "" {
		name = clip(strings.ToValidUTF8(req.Name, ""), store.MaxName)
	}
	s.issueToken(w, r, u.Name, name, ttl)
}

func (s *Server) issueToken(w http.ResponseWriter, r *http.Request, user, name string, ttl time.Duration) {
	tok, hash, prefix := auth.NewToken()
	var expires time.Time
	if ttl > 0 {
		now, err := s.store.Now(r.Context())
		if err != nil {
			s.storeError(w, err)
			return
		}
		expires = now.Add(ttl)
	}
	t, err := s.store.AddToken(r.Context(), user, name, hash, prefix, expires)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, api.TokenResult{Secret: tok, Token: wireToken(*t)})
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request) {
	id, ok := auth.FromContext(r.Context())
	if !ok {
		id = auth.Identity{User: actor(r), Role: "insecure"}
	}
	writeJSON(w, http.StatusOK, map[string]string{"user": id.User, "role": id.Role})
}

func (s *Server) addUser(w http.ResponseWriter, r *http.Request) {
	var req api.UserRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if !userName.MatchString(req.Name) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("bad user name %q", req.Name))
		return
	}
	if !auth.ValidRole(req.Role) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("bad role %q: use admin, operator or viewer", req.Role))
		return
	}
	hash, err := auth.HashPassword(req.Password)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	u, err := s.store.AddUser(r.Context(), req.Name, req.Role, hash)
	if err != nil {
		s.storeError(w, err)
		return
	}
	s.log.Info().Str("user", u.Name).Str("role", u.Role).Str("by", actor(r)).Msg("user added")
	writeJSON(w, http.StatusCreated, wireUser(*u))
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	page, ok := listPage(w, r)
	if !ok {
		return
	}
	list, err := s.store.ListUsers(r.Context(), page)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeList(w, page, list, func(u store.User) string { return u.Name }, wireUser)
}

func (s *Server) removeUser(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := s.store.DeleteUser(r.Context(), name); err != nil {
		s.storeError(w, err)
		return
	}
	s.log.Info().Str("user", name).Str("by", actor(r)).Msg("user removed")
	writeJSON(w, http.StatusOK, map[string]string{"removed": name})
}

func (s *Server) setPassword(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if id, ok := auth.FromContext(r.Context()); ok && id.User != name && id.Role != auth.Admin {
		writeError(w, http.StatusForbidden, "forbidden: only an admin may change another user's password")
		return
	}
	var req struct {
		Password string `json:"password"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	hash, err := auth.HashPassword(req.Password)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := s.store.SetPasswordHash(r.Context(), name, hash); err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"user": name, "status": "password changed"})
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	var req api.TokenRequest
	if !decodeBody(w, r, &req) {
		return
	}
	id, ok := auth.FromContext(r.Context())
	user := id.User
	if req.User != "" && req.User != user {
		if ok && id.Role != auth.Admin {
			writeError(w, http.StatusForbidden, "forbidden: only an admin may create tokens for another user")
			return
		}
		user = req.User
	}
	if user == "" {
		writeError(w, http.StatusBadRequest, "name the user the token is for")
		return
	}
	ttl, err := parseExpiry(req.ExpiresIn, 0)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if req.Name == "" {
		req.Name = "api token"
	}
	if len(req.Name) > store.MaxName {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("token name too long: %d bytes, the limit is %d", len(req.Name), store.MaxName))
		return
	}
	s.issueToken(w, r, user, req.Name, ttl)
}

// tokenOwner is "" for admins (all tokens), else the caller.
func tokenOwner(r *http.Request) string {
	if id, ok := auth.FromContext(r.Context()); ok && id.Role != auth.Admin {
		return id.User
	}
	return ""
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	page, ok := listPage(w, r)
	if !ok {
		return
	}
	list, err := s.store.ListTokens(r.Context(), tokenOwner(r), page)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeList(w, page, list, func(t store.Token) string { return idKey(t.ID) }, wireToken)
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("bad token id %q", r.PathValue("id")))
		return
	}
	if err := s.store.RevokeToken(r.Context(), id, tokenOwner(r)); err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"revoked": id})
}
