package webserver_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/crawlctl/crawlctl/pkg/internal/auth"
	"github.com/crawlctl/crawlctl/pkg/internal/dispatch"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/store/storetest"
	"github.com/crawlctl/crawlctl/pkg/internal/webserver"
)

// newServer serves the REST API on a fresh MySQL database with one user and
// token per role.
func newServer(t *testing.T) (*httptest.Server, *store.Store, map[string]string) {
	t.Helper()
	st := storetest.New(t, "mysql")
	ctx := context.Background()
	tokens := map[string]string{}
	for _, role := range []string{auth.Admin, auth.Operator, auth.Viewer} {
		hash, err := auth.HashPassword("password-of-" + role)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.AddUser(ctx, role+"-user", role, hash); err != nil {
			t.Fatal(err)
		}
		tok, th, prefix := auth.NewToken()
		if _, err := st.AddToken(ctx, role+"-user", "test", th, prefix, time.Time{}); err != nil {
			t.Fatal(err)
		}
		tokens[role] = tok
	}
	srv := httptest.NewServer(webserver.New(webserver.Config{OfflineAfter: time.Minute}, st, dispatch.New(dispatch.Config{OfflineAfter: time.Minute}, st, zerolog.Nop()), nil, zerolog.Nop()).Handler())
	t.Cleanup(srv.Close)
	return srv, st, tokens
}

func call(t *testing.T, srv *httptest.Server, method, path, token, body string) (int, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, srv.URL+path, r)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRolesAgainstEndpointClasses(t *testing.T) {
	srv, _, tokens := newServer(t)
	classes := []struct {
		class        string
		method, path string
		body         string
		need         string
	}{
		{"read executors", "GET", "/api/v1/executors", "", auth.Viewer},
		{"read executions", "GET", "/api/v1/executions", "", auth.Viewer},
		{"read projects", "GET", "/api/v1/projects", "", auth.Viewer},
		{"read schedules", "GET", "/api/v1/schedules", "", auth.Viewer},
		{"upload project", "POST", "/api/v1/projects/p", "not a zip", auth.Operator},
		{"run flow", "POST", "/api/v1/executions", `{"project":"nope","flow":"f"}`, auth.Operator},
		{"cancel", "POST", "/api/v1/executions/999/cancel", "", auth.Operator},
		{"add schedule", "POST", "/api/v1/schedules", `{"project":"nope","flow":"f","cron":"* * * * *"}`, auth.Operator},
		{"activate executor", "POST", "/api/v1/executors/nope/activate", "", auth.Admin},
		{"remove executor", "DELETE", "/api/v1/executors/nope", "", auth.Admin},
		{"list users", "GET", "/api/v1/users", "", auth.Admin},
		{"add user", "POST", "/api/v1/users", `{"name":"x","role":"viewer","password":"longenough"}`, auth.Admin},
	}
	for _, c := range classes {
		t.Run(c.class, func(t *testing.T) {
			if code, body := call(t, srv, c.method, c.path, "", c.body); code != 401 || !strings.Contains(body, `"error"`) {
				t.Fatalf("no token: %d %s, want 401 with a JSON error", code, body)
			}
			if code, _ := call(t, srv, c.method, c.path, "cct_wrong", c.body); code != 401 {
				t.Fatalf("wrong token: %d, want 401", code)
			}
			for _, role := range []string{auth.Viewer, auth.Operator, auth.Admin} {
				code, body := call(t, srv, c.method, c.path, tokens[role], c.body)
				allowed := auth.Allows(role, c.need)
				if allowed && (code == 401 || code == 403) {
					t.Errorf("%s: %d %s, want allowed", role, code, body)
				}
				if !allowed && (code != 403 || !strings.Contains(body, `"error"`)) {
					t.Errorf("%s: %d %s, want 403 with a JSON error", role, code, body)
				}
			}
		})
	}
	// Health checks stay open.
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, _ := call(t, srv, "GET", p, "", ""); code != 200 {
			t.Errorf("%s without a token: %d", p, code)
		}
	}
}

func TestTokensAndLogins(t *testing.T) {
	srv, st, tokens := newServer(t)
	ctx := context.Background()

	// An expired token fails.
	tok, th, prefix := auth.NewToken()
	now, _ := st.Now(ctx)
	if _, err := st.AddToken(ctx, "viewer-user", "old", th, prefix, now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if code, _ := call(t, srv, "GET", "/api/v1/executors", tok, ""); code != 401 {
		t.Fatalf("expired token: %d", code)
	}

	// Login gives a token; it works, shows in the list by prefix only, and
	// fails once revoked.
	code, body := call(t, srv, "POST", "/api/v1/login", "", `{"user":"operator-user","password":"password-of-operator"}`)
	if code != 201 {
		t.Fatalf("login: %d %s", code, body)
	}
	var res struct {
		Token string `json:"token"`
		ID    int64  `json:"id"`
	}
	_ = json.Unmarshal([]byte(body), &res)
	if !strings.HasPrefix(res.Token, "cct_") {
		t.Fatalf("login token %q", res.Token)
	}
	if code, body := call(t, srv, "GET", "/api/v1/whoami", res.Token, ""); code != 200 || !strings.Contains(body, "operator-user") {
		t.Fatalf("whoami: %d %s", code, body)
	}
	_, list := call(t, srv, "GET", "/api/v1/tokens", res.Token, "")
	if strings.Contains(list, res.Token) || !strings.Contains(list, res.Token[:10]) {
		t.Fatalf("token list must show the prefix, never the token: %s", list)
	}
	// Another operator's token cannot be revoked by a viewer.
	if code, _ := call(t, srv, "DELETE", "/api/v1/tokens/"+itoa(res.ID), tokens[auth.Viewer], ""); code != 404 {
		t.Fatalf("viewer revoking someone else's token: %d", code)
	}
	if code, _ := call(t, srv, "DELETE", "/api/v1/tokens/"+itoa(res.ID), res.Token, ""); code != 200 {
		t.Fatalf("revoke own token: %d", code)
	}
	if code, _ := call(t, srv, "GET", "/api/v1/executors", res.Token, ""); code != 401 {
		t.Fatalf("revoked token: %d", code)
	}

	// Failed logins are rate limited.
	for i := 0; i < 5; i++ {
		if code, _ := call(t, srv, "POST", "/api/v1/login", "", `{"user":"admin-user","password":"wrong password"}`); code != 401 {
			t.Fatalf("bad password %d: %d", i, code)
		}
	}
	if code, _ := call(t, srv, "POST", "/api/v1/login", "", `{"user":"admin-user","password":"password-of-admin"}`); code != 429 {
		t.Fatalf("login after 5 failures: %d, want 429", code)
	}

	// No token is stored in clear: look through every row of the tables.
	for role, tok := range tokens {
		for _, table := range []string{"api_tokens", "users"} {
			if dumpContains(t, st, table, tok) {
				t.Fatalf("the %s token is stored in clear in %s", role, table)
			}
		}
	}
}

// dumpContains reports whether any column of any row of table holds s.
func dumpContains(t *testing.T, st *store.Store, table, s string) bool {
	t.Helper()
	rows, err := st.QueryRaw(context.Background(), "SELECT * FROM "+table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			if b, ok := v.([]byte); ok && strings.Contains(string(b), s) {
				return true
			}
			if str, ok := v.(string); ok && strings.Contains(str, s) {
				return true
			}
		}
	}
	return false
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// The login limiter is the database's: failures through one web server
// block the next attempt through another, and through a restarted one.
func TestLoginLimitAcrossWebServers(t *testing.T) {
	srvA, st, _ := newServer(t)
	srvB := httptest.NewServer(webserver.New(webserver.Config{OfflineAfter: time.Minute}, st, nil, nil, zerolog.Nop()).Handler())
	defer srvB.Close()
	for i := 0; i < 5; i++ {
		if code, _ := call(t, srvA, "POST", "/api/v1/login", "", `{"user":"admin-user","password":"wrong password"}`); code != 401 {
			t.Fatalf("bad password %d on server A: %d", i, code)
		}
	}
	code, body := call(t, srvB, "POST", "/api/v1/login", "", `{"user":"admin-user","password":"password-of-admin"}`)
	if code != 429 || !strings.Contains(body, "too many failed logins") {
		t.Fatalf("server B after 5 failures on A: %d %s, want 429", code, body)
	}
	// Another user from the same address is not blocked.
	if code, body := call(t, srvB, "POST", "/api/v1/login", "", `{"user":"viewer-user","password":"password-of-viewer"}`); code != 201 {
		t.Fatalf("another user: %d %s", code, body)
	}
	// A web server started afterwards (a restart) blocks as well.
	srvA.Close()
	srvC := httptest.NewServer(webserver.New(webserver.Config{OfflineAfter: time.Minute}, st, nil, nil, zerolog.Nop()).Handler())
	defer srvC.Close()
	if code, _ := call(t, srvC, "POST", "/api/v1/login", "", `{"user":"admin-user","password":"password-of-admin"}`); code != 429 {
		t.Fatalf("restarted server after 5 failures: %d, want 429", code)
	}
}
