package ui_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/crawlctl/crawlctl/pkg/api"
	"github.com/crawlctl/crawlctl/pkg/internal/auth"
	"github.com/crawlctl/crawlctl/pkg/internal/dispatch"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/store/storetest"
	"github.com/crawlctl/crawlctl/pkg/internal/ui"
	"github.com/crawlctl/crawlctl/pkg/internal/webserver"
)

// fixture is a web server (REST API and UI) on a fresh MySQL database with
// one user per role, password "pw-ROLE".
type fixture struct {
	t   *testing.T
	srv *httptest.Server
	st  *store.Store
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st := storetest.New(t, "mysql")
	for _, role := range []string{auth.Admin, auth.Operator, auth.Viewer} {
		hash, err := auth.HashPassword("pw-" + role)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.AddUser(context.Background(), role, role, hash); err != nil {
			t.Fatal(err)
		}
	}
	disp := dispatch.New(dispatch.Config{OfflineAfter: time.Minute}, st, zerolog.Nop())
	srv := httptest.NewServer(webserver.New(webserver.Config{OfflineAfter: time.Minute}, st, disp, nil, zerolog.Nop()).Handler())
	t.Cleanup(srv.Close)
	return &fixture{t: t, srv: srv, st: st}
}

// browser is a cookie-keeping client that does not follow redirects.
type browser struct {
	f  *fixture
	c  *http.Client
	ua string
}

func (f *fixture) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{f: f, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	code int
	body string
	h    http.Header
}

func (b *browser) do(method, path string, body io.Reader, ctype string, hdr map[string]string) page {
	b.f.t.Helper()
	req, err := http.NewRequest(method, b.f.srv.URL+path, body)
	if err != nil {
		b.f.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.f.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return page{code: resp.StatusCode, body: string(data), h: resp.Header}
}

func (b *browser) get(path string) page { return b.do(http.MethodGet, path, nil, "", nil) }

func (b *browser) post(path string, form url.Values) page {
	return b.do(http.MethodPost, path, strings.NewReader(form.Encode()), "application/x-www-form-urlencoded", nil)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the form token a page of the UI carries.
func (b *browser) csrf(path string) string {
	b.f.t.Helper()
	p := b.get(path)
	m := csrfField.FindStringSubmatch(p.body)
	if m == nil {
		b.f.t.Fatalf("GET %s (%d) has no csrf field:\n%s", path, p.code, p.body)
	}
	return m[1]
}

func (b *browser) login(user, password string) page {
	b.f.t.Helper()
	return b.post("/ui/login", url.Values{"csrf": {b.csrf("/ui/login")}, "user": {user}, "password": {password}, "next": {"/ui/executors"}})
}

func (f *fixture) loggedIn(role string) *browser {
	f.t.Helper()
	b := f.browser()
	if p := b.login(role, "pw-"+role); p.code != http.StatusSeeOther {
		f.t.Fatalf("login as %s: %d %s", role, p.code, p.body)
	}
	return b
}

func TestLoginSessionAndLogout(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	if p := b.get("/ui/executions?status=RUNNING"); p.code != http.StatusSeeOther || p.h.Get("Location") != "/ui/login?next="+url.QueryEscape("/ui/executions?status=RUNNING") {
		t.Fatalf("anonymous GET = %d to %q, want a redirect to the login", p.code, p.h.Get("Location"))
	}
	if p := b.login("admin", "wrong"); p.code != http.StatusUnauthorized || !strings.Contains(p.body, "Wrong user name or password.") {
		t.Fatalf("bad password = %d\n%s", p.code, p.body)
	}
	// The login form without its token is refused.
	if p := b.post("/ui/login", url.Values{"user": {"admin"}, "password": {"pw-admin"}}); p.code != http.StatusForbidden {
		t.Fatalf("login without the form token = %d", p.code)
	}
	p := b.login("admin", "pw-admin")
	if p.code != http.StatusSeeOther || p.h.Get("Location") != "/ui/executors" {
		t.Fatalf("login = %d to %q", p.code, p.h.Get("Location"))
	}
	var session *http.Cookie
	for _, c := range (&http.Response{Header: p.h}).Cookies() {
		if c.Name == ui.SessionCookie {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Path != "/" || session.Value == "" {
		t.Fatalf("session cookie = %+v", session)
	}
	// The cookie is an API token of the user, named for the UI, expiring.
	id, err := auth.Authenticate(context.Background(), f.st, session.Value)
	if err != nil || id.User != "admin" {
		t.Fatalf("the cookie as a token: %+v, %v", id, err)
	}
	toks, err := f.st.ListTokens(context.Background(), "admin", store.Page{})
	if err != nil || len(toks) != 1 || toks[0].Name != "web ui login from 127.0.0.1" || toks[0].ExpiresAt == nil || time.Until(*toks[0].ExpiresAt) > 11*time.Hour {
		t.Fatalf("tokens = %+v, %v", toks, err)
	}
	if p := b.get("/ui/executors"); p.code != http.StatusOK || !strings.Contains(p.body, "admin") || !strings.Contains(p.body, "Log out") {
		t.Fatalf("executors page = %d\n%s", p.code, p.body)
	}
	// Logout needs the form token too, then revokes the token.
	if p := b.post("/ui/logout", nil); p.code != http.StatusForbidden {
		t.Fatalf("logout without the form token = %d", p.code)
	}
	if p := b.post("/ui/logout", url.Values{"csrf": {b.csrf("/ui/executors")}}); p.code != http.StatusSeeOther {
		t.Fatalf("logout = %d %s", p.code, p.body)
	}
	if _, err := auth.Authenticate(context.Background(), f.st, session.Value); err == nil {
		t.Fatal("the token still works after logout")
	}
	if p := b.get("/ui/executors"); p.code != http.StatusSeeOther {
		t.Fatalf("after logout = %d, want the login redirect", p.code)
	}
	// Only local redirects after login.
	evil := f.browser()
	p = evil.post("/ui/login", url.Values{"csrf": {evil.csrf("/ui/login")}, "user": {"viewer"}, "password": {"pw-viewer"}, "next": {"//evil.example/"}})
	if p.code != http.StatusSeeOther || p.h.Get("Location") != "/ui/executions" {
		t.Fatalf("login with an outside next = %d to %q", p.code, p.h.Get("Location"))
	}
}

func (f *fixture) executor(name string) *store.Executor {
	f.t.Helper()
	e, err := f.st.RegisterExecutor(context.Background(), store.ExecutorSpec{Name: name, Host: "127.0.0.1", Port: 40000 + len(name), MaxFlows: 4, Version: "test", LocalTime: time.Now()})
	if err != nil {
		f.t.Fatal(err)
	}
	return e
}

func TestRolesAndCSRF(t *testing.T) {
	f := newFixture(t)
	e := f.executor("node-1")
	activate := fmt.Sprintf("/ui/executors/%d/active", e.ID)
	active := func() bool {
		got, err := f.st.GetExecutor(context.Background(), e.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Active
	}

	viewer := f.loggedIn(auth.Viewer)
	p := viewer.get("/ui/executors")
	if p.code != http.StatusOK || !strings.Contains(p.body, "node-1") || strings.Contains(p.body, `action="`+activate) {
		t.Fatalf("a viewer's executors page (%d) must list node-1 without a switch form:\n%s", p.code, p.body)
	}
	if p := viewer.post(activate, url.Values{"csrf": {viewer.csrf("/ui/executors")}, "active": {"true"}}); p.code != http.StatusForbidden || active() {
		t.Fatalf("viewer activating = %d (active %v)", p.code, active())
	}
	operator := f.loggedIn(auth.Operator)
	if p := operator.post(activate, url.Values{"csrf": {operator.csrf("/ui/executors")}, "active": {"true"}}); p.code != http.StatusForbidden || active() {
		t.Fatalf("operator activating = %d (active %v)", p.code, active())
	}
	if p := operator.get("/ui/projects"); !strings.Contains(p.body, `id="upload-form"`) {
		t.Fatal("an operator sees no upload form")
	}
	if p := viewer.get("/ui/projects"); p.code != http.StatusOK || strings.Contains(p.body, `id="upload-form"`) {
		t.Fatalf("a viewer's projects page (%d) shows the upload form", p.code)
	}

	admin := f.loggedIn(auth.Admin)
	token := admin.csrf("/ui/executors")
	if !strings.Contains(admin.get("/ui/executors").body, `action="`+activate) {
		t.Fatal("an admin sees no switch")
	}
	// signed posts the right token with one more header.
	signed := func(header, value string) func() page {
		return func() page {
			body := strings.NewReader(url.Values{"active": {"true"}, "csrf": {token}}.Encode())
			return admin.do(http.MethodPost, activate, body, "application/x-www-form-urlencoded", map[string]string{header: value})
		}
	}
	// No token, another session's token, or a post from another site: refused.
	for name, req := range map[string]func() page{
		"no token": func() page { return admin.post(activate, url.Values{"active": {"true"}}) },
		"viewer token": func() page {
			return admin.post(activate, url.Values{"active": {"true"}, "csrf": {viewer.csrf("/ui/executors")}})
		},
		"cross-site":         signed("Origin", "https://evil.example"),
		"cross-site referer": signed("Referer", "https://evil.example/page"),
		"opaque origin":      signed("Origin", "null"),
	} {
		if p := req(); p.code != http.StatusForbidden || !strings.Contains(p.body, "CSRF") || active() {
			t.Errorf("%s: %d (active %v)\n%s", name, p.code, active(), p.body)
		}
	}
	p = admin.do(http.MethodPost, activate, strings.NewReader(url.Values{"active": {"true"}, "csrf": {token}, "back": {"/ui/executors"}}.Encode()), "application/x-www-form-urlencoded", map[string]string{"Origin": f.srv.URL})
	if p.code != http.StatusSeeOther || !active() {
		t.Fatalf("admin activating = %d (active %v)\n%s", p.code, active(), p.body)
	}
	evs, _ := f.st.ExecutorEvents(context.Background(), e.ID, 5)
	if len(evs) == 0 || evs[0].Type != "ACTIVATED" || evs[0].Actor != "admin" {
		t.Fatalf("events = %+v: the activation goes through the API as the admin", evs)
	}
	if p := admin.get(fmt.Sprintf("/ui/executors/%d", e.ID)); p.code != http.StatusOK || !strings.Contains(p.body, "ACTIVATED") || !strings.Contains(p.body, "Deactivate and wait for drain") {
		t.Fatalf("executor page = %d\n%s", p.code, p.body)
	}
	if p := viewer.get("/ui/executions/999999"); p.code != http.StatusNotFound {
		t.Fatalf("missing execution = %d", p.code)
	}
	if p := viewer.get("/ui/nowhere"); p.code != http.StatusNotFound {
		t.Fatalf("unknown page = %d", p.code)
	}
}

const hostileFlow = `config:
  greeting: "<b>hi</b>"
nodes:
  - name: "<img src=x onerror=alert(1)>"
    type: command
    config:
      command: echo hi
  - name: after
    type: command
    dependsOn: ["<img src=x onerror=alert(1)>"]
    config:
      command: echo after
`

func zipOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// upload posts a project archive through the UI's form.
func (b *browser) upload(name string, archive []byte) page {
	b.f.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("csrf", b.csrf("/ui/projects"))
	_ = mw.WriteField("name", name)
	fw, _ := mw.CreateFormFile("archive", name+".zip")
	_, _ = fw.Write(archive)
	_ = mw.Close()
	return b.do(http.MethodPost, "/ui/projects", &body, mw.FormDataContentType(), nil)
}

func TestEscapingOfNamesAndLogs(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	e := f.executor("<script>alert('exec')</script>")
	op := f.loggedIn(auth.Operator)
	archive := zipOf(t, map[string]string{"p.project": "azkaban-flow-version: 2.0\n", "<script>alert(1).flow": hostileFlow})
	if p := op.upload("hostile", archive); p.code != http.StatusSeeOther || p.h.Get("Location") != "/ui/projects/hostile?flash="+url.QueryEscape("Uploaded version 1.") {
		t.Fatalf("upload = %d %q\n%s", p.code, p.h.Get("Location"), p.body)
	}
	flowURL := "/ui/projects/hostile/flows/" + url.PathEscape("<script>alert(1)")
	p := op.get(flowURL)
	if p.code != http.StatusOK {
		t.Fatalf("flow page = %d\n%s", p.code, p.body)
	}
	for _, bad := range []string{"<script>alert", "<img src=x", "<b>hi</b>"} {
		if strings.Contains(p.body, bad) {
			t.Errorf("the flow page holds %q unescaped", bad)
		}
	}
	if !strings.Contains(p.body, "&lt;img src=x onerror=alert(1)&gt;") || !strings.Contains(p.body, `value="&lt;b&gt;hi&lt;/b&gt;"`) {
		t.Errorf("the flow page lacks the escaped job name or the pre-filled parameter:\n%s", p.body)
	}
	// Run it through the form, then play the executor: claim, report jobs and a hostile log.
	p = op.post(flowURL+"/run", url.Values{"csrf": {op.csrf(flowURL)}, "param.greeting": {"<i>x</i>"}, "extra": {"k=v"}})
	var id int64
	if _, err := fmt.Sscanf(p.h.Get("Location"), "/ui/executions/%d", &id); p.code != http.StatusSeeOther || err != nil {
		t.Fatalf("run = %d %q %s", p.code, p.h.Get("Location"), p.body)
	}
	ex, err := f.st.GetExecution(ctx, id)
	if err != nil || ex.Params["greeting"] != "<i>x</i>" || ex.Params["k"] != "v" || ex.SubmitUser != "operator" {
		t.Fatalf("submitted %+v, %v", ex, err)
	}
	if _, err := f.st.SetExecutorActive(ctx, e.ID, true, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := dispatch.AssignDue(ctx, f.st, 10, func(context.Context, *store.Execution) (*store.Executor, string, error) { return e, "", nil }); err != nil {
		t.Fatal(err)
	}
	if ok, err := f.st.ClaimExecution(ctx, id, e.ID, 1); !ok || err != nil {
		t.Fatalf("claim = %v, %v", ok, err)
	}
	// Inactive again, so the run submitted below stays queued, on no executor.
	if _, err := f.st.SetExecutorActive(ctx, e.ID, false, "test"); err != nil {
		t.Fatal(err)
	}
	job := "<img src=x onerror=alert(1)>"
	now := time.Now()
	hostileLog := "line 1\n<img src=x onerror=alert(2)></pre><script>alert(3)</script>\n"
	if err := f.st.Report(ctx, id, e.ID, 1, []store.ExecutionJob{{Name: job, Type: "command", Status: "RUNNING", StartTime: &now}},
		[]store.LogChunk{{Job: job, Attempt: 1, Data: []byte(hostileLog)}}, nil); err != nil {
		t.Fatal(err)
	}
	viewer := f.loggedIn(auth.Viewer)
	p = viewer.get(fmt.Sprintf("/ui/executions/%d", id))
	if p.code != http.StatusOK {
		t.Fatalf("execution page = %d\n%s", p.code, p.body)
	}
	for _, bad := range []string{"<script>alert", "<img src=x", "<i>x</i>"} {
		if strings.Contains(p.body, bad) {
			t.Errorf("the execution page holds %q unescaped", bad)
		}
	}
	if strings.Contains(p.body, `id="kill-form"`) || strings.Contains(p.body, "Run again") {
		t.Error("a viewer sees Kill or Run again")
	}
	if !strings.Contains(p.body, `class="node kind-command status-RUNNING" data-id="&lt;img src=x onerror=alert(1)&gt;"`) {
		t.Errorf("the graph lacks the running job's node:\n%s", p.body)
	}
	// The live state and the log are JSON, with < escaped; the raw log is plain text.
	p = viewer.get(fmt.Sprintf("/ui/executions/%d/state", id))
	var st struct {
		Status string            `json:"status"`
		Nodes  map[string]string `json:"nodes"`
	}
	if err := json.Unmarshal([]byte(p.body), &st); err != nil || st.Status != "RUNNING" || st.Nodes[job] != "RUNNING" || st.Nodes["after"] != "" {
		t.Fatalf("state = %s (%v)", p.body, err)
	}
	p = viewer.get(fmt.Sprintf("/ui/executions/%d/log?job=%s", id, url.QueryEscape(job)))
	var chunk api.LogChunk
	if err := json.Unmarshal([]byte(p.body), &chunk); err != nil || chunk.Data != hostileLog || strings.Contains(p.body, "<img") || p.h.Get("Content-Type") != "application/json" {
		t.Fatalf("log chunk = %s (%v)", p.body, err)
	}
	p = viewer.get(fmt.Sprintf("/ui/executions/%d/log.txt?download=1&job=%s", id, url.QueryEscape(job)))
	if p.body != hostileLog || p.h.Get("Content-Type") != "text/plain; charset=utf-8" || p.h.Get("X-Content-Type-Options") != "nosniff" ||
		p.h.Get("Content-Disposition") != fmt.Sprintf(`attachment; filename="execution-%d-_img_src_x_onerror_alert_1_.log"`, id) {
		t.Fatalf("raw log = %q %v", p.body, p.h)
	}
	if csp := p.h.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Fatalf("CSP = %q", csp)
	}
	if p := viewer.get("/ui/executors"); strings.Contains(p.body, "<script>alert('exec')") || !strings.Contains(p.body, "&lt;script&gt;alert(&#39;exec&#39;)&lt;/script&gt;") {
		t.Fatalf("executor name not escaped:\n%s", p.body)
	}
	// Pause and resume go through the API: the flag is in the database and
	// the page offers the other one.
	page := fmt.Sprintf("/ui/executions/%d", id)
	for _, c := range []struct {
		action, offers string
		paused         bool
	}{{"pause", "/resume", true}, {"resume", "/pause", false}} {
		p = op.post(fmt.Sprintf("/ui/executions/%d/%s", id, c.action), url.Values{"csrf": {op.csrf(page)}})
		if p.code != http.StatusSeeOther {
			t.Fatalf("%s = %d %s", c.action, p.code, p.body)
		}
		if ex, _ := f.st.GetExecution(ctx, id); ex.Paused != c.paused {
			t.Fatalf("after %s: paused %v", c.action, ex.Paused)
		}
		if p = op.get(page); !strings.Contains(p.body, fmt.Sprintf(`action="/ui/executions/%d%s"`, id, c.offers)) {
			t.Fatalf("after %s the page does not offer %s:\n%s", c.action, c.offers, p.body)
		}
	}
	if p := viewer.post(fmt.Sprintf("/ui/executions/%d/pause", id), url.Values{"csrf": {viewer.csrf(page)}}); p.code != http.StatusForbidden {
		t.Fatalf("a viewer's pause = %d", p.code)
	}
	// Kill goes through the API: the execution is KILLING, then the page says so.
	p = op.post(fmt.Sprintf("/ui/executions/%d/kill", id), url.Values{"csrf": {op.csrf(fmt.Sprintf("/ui/executions/%d", id))}})
	if p.code != http.StatusSeeOther {
		t.Fatalf("kill = %d %s", p.code, p.body)
	}
	if ex, _ := f.st.GetExecution(ctx, id); ex.Status != store.ExecKilling || !strings.Contains(ex.KillReason, "operator") {
		t.Fatalf("after kill: %s (%q)", ex.Status, ex.KillReason)
	}
	// Run again: the same parameters, a new execution.
	p = op.post(fmt.Sprintf("/ui/executions/%d/rerun", id), url.Values{"csrf": {op.csrf(fmt.Sprintf("/ui/executions/%d", id))}})
	var again int64
	if _, err := fmt.Sscanf(p.h.Get("Location"), "/ui/executions/%d", &again); err != nil || again == id {
		t.Fatalf("run again = %d %q %s", p.code, p.h.Get("Location"), p.body)
	}
	if ex, _ := f.st.GetExecution(ctx, again); ex.Params["greeting"] != "<i>x</i>" || ex.Params["k"] != "v" || ex.Flow != "<script>alert(1)" {
		t.Fatalf("run again submitted %+v", ex)
	}
	// Retry failed: once the killed run has ended, a new execution retries it.
	if err := f.st.Report(ctx, id, e.ID, 1, nil, nil, &store.ExecutionEnd{Status: store.ExecKilled, Error: "killed by operator"}); err != nil {
		t.Fatal(err)
	}
	if p = op.get(page); !strings.Contains(p.body, "Retry failed") {
		t.Fatalf("an ended KILLED execution offers no retry:\n%s", p.body)
	}
	p = op.post(fmt.Sprintf("/ui/executions/%d/retry", id), url.Values{"csrf": {op.csrf(page)}})
	var retried int64
	if _, err := fmt.Sscanf(p.h.Get("Location"), "/ui/executions/%d", &retried); err != nil || retried == id || retried == again {
		t.Fatalf("retry = %d %q %s", p.code, p.h.Get("Location"), p.body)
	}
	if ex, _ := f.st.GetExecution(ctx, retried); ex.RetryOf == nil || *ex.RetryOf != id {
		t.Fatalf("the retry does not say what it retries: %+v", ex)
	}
	// Executions list filtered by executor and status.
	p = viewer.get(fmt.Sprintf("/ui/executions?executor=%d", e.ID))
	if !strings.Contains(p.body, fmt.Sprintf(`data-execution="%d"`, id)) || strings.Contains(p.body, fmt.Sprintf(`data-execution="%d"`, again)) {
		t.Fatalf("executions of the executor:\n%s", p.body)
	}
}

func TestSchedulesAndPaging(t *testing.T) {
	f := newFixture(t)
	op := f.loggedIn(auth.Operator)
	archive := zipOf(t, map[string]string{"p.project": "azkaban-flow-version: 2.0\n", "daily.flow": "nodes:\n  - name: a\n    type: noop\n"})
	if p := op.upload("nightly", archive); p.code != http.StatusSeeOther {
		t.Fatalf("upload = %d %s", p.code, p.body)
	}
	token := op.csrf("/ui/schedules")
	p := op.post("/ui/schedules", url.Values{"csrf": {token}, "project": {"nightly"}, "flow": {"daily"}, "cron": {"0 30 2 * * ?"}, "tz": {"Europe/Berlin"}})
	if p.code != http.StatusSeeOther {
		t.Fatalf("add schedule = %d %s", p.code, p.body)
	}
	if p := op.post("/ui/schedules", url.Values{"csrf": {token}, "project": {"nightly"}, "flow": {"daily"}, "cron": {"not cron"}}); p.code != http.StatusBadRequest {
		t.Fatalf("bad cron = %d", p.code)
	}
	p = op.get("/ui/schedules")
	if !strings.Contains(p.body, "0 30 2 * * ?") || strings.Count(p.body, `02:30:00 <span class="tz">Europe/Berlin</span>`) != 3 || !strings.Contains(p.body, ">Pause<") {
		t.Fatalf("schedules page: want the cron and three fire times at 02:30 Berlin:\n%s", p.body)
	}
	list, _ := f.st.ListSchedules(context.Background(), store.Page{})
	id := list[0].ID
	if p := op.post(fmt.Sprintf("/ui/schedules/%d/pause", id), url.Values{"csrf": {token}}); p.code != http.StatusSeeOther {
		t.Fatalf("pause = %d %s", p.code, p.body)
	}
	if sc, _ := f.st.GetSchedule(context.Background(), id); !sc.Paused {
		t.Fatal("not paused")
	}
	if p := op.get("/ui/schedules"); !strings.Contains(p.body, "status-PAUSED") || !strings.Contains(p.body, ">Resume<") {
		t.Fatal("the page does not show the schedule paused")
	}
	if p := op.post(fmt.Sprintf("/ui/schedules/%d/delete", id), url.Values{"csrf": {token}}); p.code != http.StatusSeeOther {
		t.Fatalf("delete = %d", p.code)
	}
	// A long list pages with the API's cursor.
	for range 55 {
		if p := op.post("/ui/projects/nightly/flows/daily/run", url.Values{"csrf": {token}}); p.code != http.StatusSeeOther {
			t.Fatalf("run = %d %s", p.code, p.body)
		}
	}
	p = op.get("/ui/executions?project=nightly")
	if n := strings.Count(p.body, "data-execution="); n != 50 {
		t.Fatalf("first page has %d rows, want 50", n)
	}
	next := regexp.MustCompile(`href="([^"]+)">Older →`).FindStringSubmatch(p.body)
	if next == nil {
		t.Fatal("no link to the next page")
	}
	p = op.get(strings.ReplaceAll(next[1], "&amp;", "&"))
	if n := strings.Count(p.body, "data-execution="); n != 5 || strings.Contains(p.body, "Older →") || !strings.Contains(p.body, "← Newest") {
		t.Fatalf("second page has %d rows:\n%s", n, p.body)
	}
}

func TestInsecureServerNeedsNoLoginButChecksForms(t *testing.T) {
	st := storetest.New(t, "mysql")
	srv := httptest.NewServer(webserver.New(webserver.Config{Insecure: true, OfflineAfter: time.Minute}, st, nil, nil, zerolog.Nop()).Handler())
	t.Cleanup(srv.Close)
	f := &fixture{t: t, srv: srv, st: st}
	e := f.executor("node-1")
	b := f.browser()
	p := b.get("/ui/executors")
	if p.code != http.StatusOK || !strings.Contains(p.body, "anyone (--insecure)") || strings.Contains(p.body, "Log out") {
		t.Fatalf("insecure executors page = %d\n%s", p.code, p.body)
	}
	activate := fmt.Sprintf("/ui/executors/%d/active", e.ID)
	// A form posted without the double-submit cookie's value is refused.
	if p := f.browser().post(activate, url.Values{"active": {"true"}, "csrf": {"guess"}}); p.code != http.StatusForbidden {
		t.Fatalf("forged post = %d", p.code)
	}
	if p := b.post(activate, url.Values{"active": {"true"}, "csrf": {b.csrf("/ui/executors")}}); p.code != http.StatusSeeOther {
		t.Fatalf("post = %d %s", p.code, p.body)
	}
	if got, _ := st.GetExecutor(context.Background(), e.ID); !got.Active {
		t.Fatal("not activated")
	}
}

func TestLargeFlow(t *testing.T) {
	f := newFixture(t)
	// 200 jobs: 20 chains of 10.
	var flowYAML strings.Builder
	flowYAML.WriteString("nodes:\n")
	for c := range 20 {
		for j := range 10 {
			fmt.Fprintf(&flowYAML, "  - name: c%02d-j%02d\n    type: noop\n", c, j)
			if j > 0 {
				fmt.Fprintf(&flowYAML, "    dependsOn: [c%02d-j%02d]\n", c, j-1)
			}
		}
	}
	op := f.loggedIn(auth.Operator)
	if p := op.upload("big", zipOf(t, map[string]string{"p.project": "azkaban-flow-version: 2.0\n", "wide.flow": flowYAML.String()})); p.code != http.StatusSeeOther {
		t.Fatalf("upload = %d %s", p.code, p.body)
	}
	p := op.post("/ui/projects/big/flows/wide/run", url.Values{"csrf": {op.csrf("/ui/projects/big/flows/wide")}})
	var id int64
	if _, err := fmt.Sscanf(p.h.Get("Location"), "/ui/executions/%d", &id); err != nil {
		t.Fatalf("run = %d %q", p.code, p.h.Get("Location"))
	}
	start := time.Now()
	p = op.get(fmt.Sprintf("/ui/executions/%d", id))
	took := time.Since(start)
	if p.code != http.StatusOK || strings.Count(p.body, `<g class="node`) != 200 || strings.Count(p.body, "<tr data-job=") != 200 {
		t.Fatalf("execution page = %d with %d nodes and %d job rows", p.code, strings.Count(p.body, `<g class="node`), strings.Count(p.body, "<tr data-job="))
	}
	size := len(p.body)
	p = op.get(fmt.Sprintf("/ui/executions/%d/state", id))
	var st struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal([]byte(p.body), &st); err != nil || st.Status != "QUEUED" {
		t.Fatalf("state = %s (%v)", p.body, err)
	}
	t.Logf("a 200-job execution page took %s, %d bytes", took, size)
}
