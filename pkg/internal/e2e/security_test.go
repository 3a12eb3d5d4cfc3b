package e2e

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/client"
	"github.com/crawlctl/crawlctl/pkg/internal/testcluster"
)

// TestExecutorPortNeedsTheClusterSecret: every mutating servlet action is
// refused without the secret or with a wrong one, and changes nothing; ping
// and getStatus stay open.
func TestExecutorPortNeedsTheClusterSecret(t *testing.T) {
	c := testcluster.New(t)
	c.StartWeb()
	ex := c.StartExecutor("guarded")
	gate := filepath.Join(t.TempDir(), "gate")
	c.MustCLI("project", "upload", writeProject(t, map[string]string{"hold": oneJob("while [ ! -e " + gate + " ]; do sleep 0.05; done")}), "--name", "p")
	// A pinned flow runs on the inactive executor, so cancel and log have a target.
	id := submit(t, c, "p", "hold", "--executor", "guarded")
	waitStatus(t, c, id, 20*time.Second, "RUNNING")
	base := "http://" + ex.Addr + "/executor?execid=" + strconv.FormatInt(id, 10) + "&action="

	for _, action := range []string{"activate", "deactivate", "execute", "cancel", "log"} {
		for _, secret := range []string{"", "wrong-secret-of-some-length"} {
			for _, method := range []string{http.MethodGet, http.MethodPost} {
				code, body := testcluster.Do(t, method, base+action, secret, nil)
				if code != 401 || !strings.HasPrefix(strings.TrimSpace(body), `{"error":"unauthorized: `) {
					t.Fatalf("%s %s with secret %q: %d %s", method, action, secret, code, body)
				}
			}
		}
	}
	if e := listExecutors(c)["guarded"]; e.Active {
		t.Fatal("an unauthorized activate changed the executor")
	}
	if e := showExec(c, id); e.Status != "RUNNING" {
		t.Fatalf("an unauthorized cancel changed the execution: %s", e.Status)
	}
	for _, action := range []string{"ping", "getStatus"} {
		if code, _ := testcluster.Get(t, base+action); code != 200 {
			t.Fatalf("%s must stay open: %d", action, code)
		}
	}
	// With the secret, everything works.
	if code, body := testcluster.Do(t, http.MethodGet, base+"log&type=job&jobId=job", c.Secret, nil); code != 200 || !strings.Contains(body, `"data"`) {
		t.Fatalf("log with the secret: %d %s", code, body)
	}
	if code, _ := testcluster.Do(t, http.MethodPost, base+"activate", c.Secret, nil); code != 200 || !listExecutors(c)["guarded"].Active {
		t.Fatalf("activate with the secret: %d", code)
	}
	if code, _ := testcluster.Do(t, http.MethodPost, base+"cancel", c.Secret, nil); code != 200 {
		t.Fatalf("cancel with the secret: %d", code)
	}
	waitStatus(t, c, id, 20*time.Second, "KILLED")
}

func TestUsersTokensAndLogin(t *testing.T) {
	c := testcluster.New(t)
	web := c.StartWeb()
	c.StartExecutor("e")

	// The admin adds an operator and a viewer.
	for _, u := range []struct{ name, role string }{{"olga", "operator"}, {"vic", "viewer"}} {
		cmd := exec.Command(c.Bin, "user", "add", u.name, "--role", u.role, "--password-stdin", "--server", c.Server())
		cmd.Env = append(os.Environ(), c.Env()...)
		cmd.Stdin = strings.NewReader("password-of-" + u.name + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("user add %s: %v %s", u.name, err, out)
		}
	}
	if out := c.MustCLI("user", "list"); !strings.Contains(out, "olga") || !strings.Contains(out, "operator") {
		t.Fatalf("user list:\n%s", out)
	}

	// vic logs in: the token lands in vic's token file, with no CRAWLCTL_TOKEN.
	vicHome := t.TempDir()
	vic := func(args ...string) testcluster.Result {
		return runAs(t, c, vicHome, "", "password-of-vic\n", args...)
	}
	if r := vic("login", "--user", "vic", "--password-stdin"); r.Code != 0 || !strings.Contains(r.Stdout, "logged in") {
		t.Fatalf("login: %+v", r)
	}
	if r := vic("executor", "list"); r.Code != 0 {
		t.Fatalf("viewer list: %+v", r)
	}
	if r := vic("executor", "activate", "e"); r.Code != 2 || !strings.Contains(r.Stderr, "forbidden") {
		t.Fatalf("viewer activate: %+v", r)
	}
	if r := runAs(t, c, t.TempDir(), "", "", "executor", "list"); r.Code != 2 || !strings.Contains(r.Stderr, "missing token") {
		t.Fatalf("no token: %+v", r)
	}
	if r := vic("login", "--user", "vic", "--password-stdin"); r.Code != 0 {
		t.Fatalf("second login: %+v", r)
	}

	// olga creates a token for her cron job, uses it, then revokes it.
	olgaHome := t.TempDir()
	if r := runAs(t, c, olgaHome, "", "password-of-olga\n", "login", "--user", "olga", "--password-stdin"); r.Code != 0 {
		t.Fatalf("olga login: %+v", r)
	}
	r := runAs(t, c, olgaHome, "", "", "token", "create", "--name", "cron", "--expires", "1h")
	tok := strings.TrimSpace(r.Stdout)
	if r.Code != 0 || !strings.HasPrefix(tok, "cct_") {
		t.Fatalf("token create: %+v", r)
	}
	if r := runAs(t, c, t.TempDir(), tok, "", "project", "list"); r.Code != 0 {
		t.Fatalf("using the new token: %+v", r)
	}
	var tokens []struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	}
	c.Read(&tokens, func(ctx context.Context, cl *client.Client) (any, error) { return cl.Tokens(ctx) })
	var cronID int64
	for _, tk := range tokens {
		if tk.Name == "cron" {
			cronID = tk.ID
		}
	}
	if r := runAs(t, c, olgaHome, "", "", "token", "revoke", strconv.FormatInt(cronID, 10)); r.Code != 0 {
		t.Fatalf("revoke: %+v", r)
	}
	if r := runAs(t, c, t.TempDir(), tok, "", "project", "list"); r.Code != 2 || !strings.Contains(r.Stderr, "revoked") {
		t.Fatalf("revoked token: %+v", r)
	}
	// Every mutating call records who made it.
	c.MustCLI("project", "upload", writeProject(t, map[string]string{"one": oneJob("true")}), "--name", "p")
	if r := runAs(t, c, olgaHome, "", "", "flow", "run", "p", "one"); r.Code != 0 {
		t.Fatalf("olga run: %+v", r)
	}
	var list []struct {
		SubmitUser string `json:"submit_user"`
	}
	c.Read(&list, executions("", 50))
	if len(list) != 1 || list[0].SubmitUser != "olga" {
		t.Fatalf("submitter: %+v", list)
	}
	// No token appears in the web server's log.
	for _, secret := range []string{c.Token, tok} {
		if strings.Contains(web.Log.String(), secret) {
			t.Fatal("a token appears in the web server's log")
		}
	}
}

// runAs runs the CLI with its own config dir (token file), an optional
// token, and stdin.
func runAs(t *testing.T, c *testcluster.Cluster, config, token, stdin string, args ...string) testcluster.Result {
	t.Helper()
	cmd := exec.Command(c.Bin, append(args, "--server", c.Server())...)
	env := append(withoutToken(os.Environ()), "XDG_CONFIG_HOME="+config)
	if token != "" {
		env = append(env, "CRAWLCTL_TOKEN="+token)
	}
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	return runCmd(t, cmd)
}
