package e2e

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/crawlctl/crawlctl/pkg/internal/testcluster"
)

// azClient calls the Azkaban AJAX API of one web server as an operator's
// script does: plain HTTP, parameters in the query or a form body.
type azClient struct {
	t    *testing.T
	base string
}

// azReply is one answer: its status, headers, raw body and, when it is a
// JSON object, the object.
type azReply struct {
	Code   int
	Header http.Header
	Body   string
	JSON   map[string]any
}

func (a azClient) do(req *http.Request) azReply {
	a.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := azReply{Code: resp.StatusCode, Header: resp.Header, Body: string(b)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &r.JSON); err != nil {
			a.t.Fatalf("%s %s: not a JSON object: %v: %s", req.Method, req.URL, err, b)
		}
	}
	return r
}

// get sends a GET with params in the query.
func (a azClient) get(path string, params url.Values, cookies ...*http.Cookie) azReply {
	a.t.Helper()
	req, err := http.NewRequest(http.MethodGet, a.base+path+"?"+params.Encode(), nil)
	if err != nil {
		a.t.Fatal(err)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	return a.do(req)
}

// post sends a POST with params as a form body.
func (a azClient) post(path string, params url.Values, header ...string) azReply {
	a.t.Helper()
	req, err := http.NewRequest(http.MethodPost, a.base+path, strings.NewReader(params.Encode()))
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return a.do(req)
}

// upload posts a project archive as curl -F does.
func (a azClient) upload(fields url.Values, archive []byte, contentType string) azReply {
	a.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, vs := range fields {
		for _, v := range vs {
			_ = mw.WriteField(k, v)
		}
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="p.zip"`)
	h.Set("Content-Type", contentType)
	part, err := mw.CreatePart(h)
	if err != nil {
		a.t.Fatal(err)
	}
	_, _ = part.Write(archive)
	_ = mw.Close()
	req, err := http.NewRequest(http.MethodPost, a.base+"/manager", &body)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return a.do(req)
}

// login logs in and returns the session id and the cookie set with it.
func (a azClient) login(user, password string) (string, *http.Cookie) {
	a.t.Helper()
	r := a.post("/", url.Values{"action": {"login"}, "username": {user}, "password": {password}})
	wantShape(a.t, "login", r, map[string]string{"status": "string", "session.id": "string"})
	var cookie *http.Cookie
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "azkaban.browser.session.id" {
			cookie = c
		}
	}
	id := r.JSON["session.id"].(string)
	if cookie == nil || cookie.Value != id || cookie.Path != "/" || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode {
		a.t.Fatalf("login set no HttpOnly, SameSite=Strict session cookie with Path=/: %v", r.Header["Set-Cookie"])
	}
	return id, cookie
}

// jsonType names the JSON type of a decoded value.
func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case nil:
		return "null"
	}
	return "?"
}

// wantShape fails unless r is a JSON object with exactly the keys of want,
// each of the JSON type named.
func wantShape(t *testing.T, what string, r azReply, want map[string]string) {
	t.Helper()
	if r.JSON == nil {
		t.Fatalf("%s: HTTP %d, not JSON: %s", what, r.Code, r.Body)
	}
	checkObject(t, what, r.JSON, want)
}

func checkObject(t *testing.T, what string, got map[string]any, want map[string]string) {
	t.Helper()
	var problems []string
	for k, typ := range want {
		v, ok := got[k]
		if !ok {
			problems = append(problems, "missing "+k)
		} else if jsonType(v) != typ {
			problems = append(problems, k+" is "+jsonType(v)+", want "+typ)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			problems = append(problems, "unexpected "+k)
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		b, _ := json.Marshal(got)
		t.Fatalf("%s: %s\nin %s", what, strings.Join(problems, "; "), b)
	}
}

// wantError fails unless r is HTTP code with exactly {"error": msg} plus
// the given extra keys: "name" for a string, "name:type" for another type.
func wantError(t *testing.T, what string, r azReply, code int, msg string, extra ...string) {
	t.Helper()
	shape := map[string]string{"error": "string"}
	for _, k := range extra {
		name, typ, ok := strings.Cut(k, ":")
		if !ok {
			typ = "string"
		}
		shape[name] = typ
	}
	if r.Code != code {
		t.Fatalf("%s: HTTP %d, want %d: %s", what, r.Code, code, r.Body)
	}
	wantShape(t, what, r, shape)
	if r.JSON["error"] != msg {
		t.Fatalf("%s: error %q, want %q", what, r.JSON["error"], msg)
	}
}

// zipDir zips the files of a project directory.
func zipDir(t *testing.T, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		w, _ := zw.Create(e.Name())
		_, _ = w.Write(b)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// addUser creates a user with a password through the CLI, as an admin.
func addUser(t *testing.T, c *testcluster.Cluster, name, role, password string) {
	t.Helper()
	cmd := exec.Command(c.Bin, "user", "add", name, "--role", role, "--password-stdin", "--server", c.Server())
	cmd.Env = append(os.Environ(), c.Env()...)
	cmd.Stdin = strings.NewReader(password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("user add %s: %v %s", name, err, out)
	}
}

// compact is v as compact JSON.
func compact(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestRootOpensTheUIForBrowsers: a browser opening the web server's address
// lands on the web UI; Azkaban's "/" keeps answering scripts.
func TestRootOpensTheUIForBrowsers(t *testing.T) {
	c := testcluster.New(t)
	c.StartWeb()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct {
		path, xrw string
		redirect  bool
	}{
		{"/", "", true},
		{"/?ajax=fetchprojectflows", "", false},
		{"/", "XMLHttpRequest", false},
	} {
		req, _ := http.NewRequest(http.MethodGet, c.Server()+tc.path, nil)
		if tc.xrw != "" {
			req.Header.Set("X-Requested-With", tc.xrw)
		}
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := resp.StatusCode == http.StatusFound && resp.Header.Get("Location") == "/ui/"
		if got != tc.redirect {
			t.Errorf("GET %s (X-Requested-With %q): %d to %q; want a redirect to /ui/: %v", tc.path, tc.xrw, resp.StatusCode, resp.Header.Get("Location"), tc.redirect)
		}
	}
}
