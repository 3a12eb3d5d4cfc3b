package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/testcluster"
)

// repoFile is a path in this repository.
func repoFile(parts ...string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(append([]string{filepath.Dir(file), "..", "..", ".."}, parts...)...)
}

// TestShippedExamplesRun uploads both example projects the repository ships
// (Flow 2.0 and legacy .job) as the README does and runs them to SUCCEEDED.
func TestShippedExamplesRun(t *testing.T) {
	c := testcluster.New(t, func(o *testcluster.Options) { o.Dialect = "sqlite" })
	c.StartWeb()
	c.StartExecutor("runner")
	c.MustCLI("executor", "activate", "runner")
	for _, ex := range []struct{ project, flow, job, log string }{
		{"hello-crawl", "crawl", "crawl_news", "crawling 3 news pages of example.org"},
		{"hello-legacy", "etl", "transform", "transforming 3 pages of example.org"},
	} {
		c.MustCLI("project", "upload", repoFile("configs", "examples", ex.project))
		out := c.MustCLI("flow", "run", ex.project, ex.flow, "--wait")
		id := strings.Fields(out)[2] // "submitted execution N (project/flow)"
		if logs := c.MustCLI("exec", "logs", id, "--job", ex.job); !strings.Contains(logs, ex.log) {
			t.Errorf("%s/%s: log of %s = %q, want %q", ex.project, ex.flow, ex.job, logs, ex.log)
		}
	}
}

// readmeCrontabLine is the command of the crontab line in the README's
// ```cron block (the five time fields removed).
func readmeCrontabLine(t *testing.T) string {
	t.Helper()
	f, err := os.Open(repoFile("README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "```cron":
			in = true
		case line == "```":
			in = false
		case in && line != "" && !strings.HasPrefix(line, "#") && !strings.Contains(strings.SplitN(line, " ", 2)[0], "="):
			fields := strings.Fields(line)
			if len(fields) < 6 {
				t.Fatalf("README crontab line %q has no command", line)
			}
			return strings.Join(fields[5:], " ")
		}
	}
	t.Fatal("no crontab line in a ```cron block of README.md")
	return ""
}

// TestReadmeCrontabLine runs the README's crontab line as cron would: under
// `env -i` (no PATH beyond the shell's default, no CRAWLCTL_* variables, no
// saved login), with the documented placeholders replaced.
func TestReadmeCrontabLine(t *testing.T) {
	c := testcluster.New(t, func(o *testcluster.Options) { o.Dialect = "sqlite" })
	c.StartWeb()
	c.StartExecutor("runner")
	c.MustCLI("executor", "activate", "runner")
	c.MustCLI("project", "upload", repoFile("configs", "examples", "hello-crawl"))

	// The README's recipe: an operator of its own, a token in a file only
	// the cron user reads.
	if r := runAs(t, c, filepath.Join(c.Dir, "config"), c.Token, "a-long-cron-password\n", "user", "add", "cron", "--role", "operator", "--password-stdin"); r.Code != 0 {
		t.Fatalf("user add cron: exit %d: %s", r.Code, r.Stderr)
	}
	tok := strings.TrimSpace(c.MustCLI("token", "create", "--name", "cron", "--user", "cron"))
	tokenFile := filepath.Join(c.Dir, "cron.token")
	if err := os.WriteFile(tokenFile, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	line := readmeCrontabLine(t)
	for placeholder, real := range map[string]string{
		"/usr/local/bin/crawlctl":       c.Bin,
		"http://crawlctl-web:8081":      c.Server(),
		"/home/me/.crawlctl-cron.token": tokenFile,
		"crawlers news":                 "hello-crawl crawl",
	} {
		if !strings.Contains(line, placeholder) {
			t.Fatalf("README crontab line %q lacks %q, which the test replaces", line, placeholder)
		}
		line = strings.ReplaceAll(line, placeholder, real)
	}
	run := func() testcluster.Result {
		cmd := exec.Command("env", "-i", "/bin/sh", "-c", line)
		cmd.Dir = t.TempDir()
		return runCmd(t, cmd)
	}
	if r := run(); r.Code != 0 || r.Stdout != "" || r.Stderr != "" {
		t.Fatalf("README crontab line %q under env -i: exit %d\nstdout: %s\nstderr: %s", line, r.Code, r.Stdout, r.Stderr)
	}
	var list []execJSON
	c.JSON(&list, "exec", "list", "--project", "hello-crawl")
	if len(list) != 1 || list[0].Status != "SUCCEEDED" {
		t.Fatalf("after the crontab line: %s", toJSON(list))
	}

	// A token file others can read is refused, saying how to fix it.
	if err := os.Chmod(tokenFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := run(); r.Code != 2 || !strings.Contains(r.Stderr, "chmod 600") {
		t.Fatalf("a world-readable token file: exit %d, stderr %q", r.Code, r.Stderr)
	}
}

// TestWaitRidesOutWebRestart: `flow run --wait` and `exec wait` keep waiting
// while the web server restarts, and end with the execution's outcome.
// Without a server for longer than --unreachable-for they exit 3.
func TestWaitRidesOutWebRestart(t *testing.T) {
	c := testcluster.New(t)
	web := c.StartWeb()
	c.StartExecutor("runner")
	c.MustCLI("executor", "activate", "runner")
	gate := filepath.Join(c.Dir, "gate")
	c.MustCLI("project", "upload", writeProject(t, map[string]string{"slow": oneJob("while [ ! -e " + gate + " ]; do sleep 0.05; done")}), "--name", "p")

	run := c.CLIStart("flow", "run", "p", "slow", "--wait")
	var id int64
	c.WaitFor(30*time.Second, "the flow running", func() (bool, string) {
		var list []execJSON
		c.JSON(&list, "exec", "list", "--project", "p")
		if len(list) == 1 && list[0].Status == "RUNNING" {
			id = list[0].ID
			return true, ""
		}
		return false, toJSON(list)
	})
	waiter := c.CLIStart("exec", "wait", strconv.FormatInt(id, 10))
	// A second waiter that gives up soon: exit 3 once the bound passes.
	quick := c.CLIStart("exec", "wait", strconv.FormatInt(id, 10), "--unreachable-for", "1s")

	web.Signal(9)
	<-web.Done()
	for _, b := range []*testcluster.Background{run, waiter} {
		c.WaitFor(30*time.Second, "a note that the waiter retries", func() (bool, string) {
			return strings.Contains(b.Stderr(), "retrying for up to 3m0s (--unreachable-for)"), b.Stderr()
		})
	}
	r := quick.Result()
	if r.Code != 3 || !strings.Contains(r.Stderr, "gave up after 1s") || !strings.Contains(r.Stderr, "exec show "+strconv.FormatInt(id, 10)) {
		t.Fatalf("exec wait --unreachable-for 1s: exit %d\nstderr: %s", r.Code, r.Stderr)
	}
	if run.Exited() || waiter.Exited() {
		t.Fatalf("a waiter gave up while the server was down: %s %s", run.Stderr(), waiter.Stderr())
	}

	// The flow goes on and ends while the web server is down.
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c.Restart(web)
	for name, b := range map[string]*testcluster.Background{"flow run --wait": run, "exec wait": waiter} {
		r := b.Result()
		if r.Code != 0 || !strings.Contains(r.Stderr, "answers again") {
			t.Fatalf("%s across a web server restart: exit %d\nstdout: %s\nstderr: %s", name, r.Code, r.Stdout, r.Stderr)
		}
	}
}

// TestTimeoutNamesTheExecution: the --timeout message names the real
// execution id, also with -q (which prints nothing else).
func TestTimeoutNamesTheExecution(t *testing.T) {
	c := testcluster.New(t, func(o *testcluster.Options) { o.Dialect = "sqlite" })
	c.StartWeb()
	c.MustCLI("project", "upload", writeProject(t, map[string]string{"one": oneJob("true")}), "--name", "p")
	// No executor: the flow stays queued and the wait times out.
	r := c.CLI("flow", "run", "p", "one", "--wait", "-q", "--timeout", "300ms")
	var list []execJSON
	c.JSON(&list, "exec", "list", "--project", "p")
	if len(list) != 1 {
		t.Fatalf("executions: %s", toJSON(list))
	}
	want := "`crawlctl exec show " + strconv.FormatInt(list[0].ID, 10) + "`"
	if r.Code != 4 || r.Stdout != "" || !strings.Contains(r.Stderr, want) {
		t.Fatalf("flow run --wait -q --timeout: exit %d, stdout %q, stderr %q; want %s", r.Code, r.Stdout, r.Stderr, want)
	}
}

// runCmd runs cmd and returns its exit code and output.
func runCmd(t *testing.T, cmd *exec.Cmd) testcluster.Result {
	t.Helper()
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return testcluster.Result{Code: code, Stdout: out.String(), Stderr: errb.String()}
}

// TestFirstAdminLogsIn: the first admin, created in the database with a
// password, logs in with `crawlctl login`; once its saved token is revoked,
// the error names the server and the file the token came from.
func TestFirstAdminLogsIn(t *testing.T) {
	c := testcluster.New(t, func(o *testcluster.Options) { o.Dialect = "sqlite" })
	c.StartWeb()
	add := exec.Command(c.Bin, "user", "add", "boss", "--role", "admin", "--db", c.DSN, "--password-stdin")
	add.Stdin = strings.NewReader("boss-password-123\n")
	if r := runCmd(t, add); r.Code != 0 || !strings.Contains(r.Stdout, "crawlctl login --user boss") {
		t.Fatalf("user add --db --password-stdin: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	config := filepath.Join(t.TempDir(), "config")
	if r := runAs(t, c, config, "", "boss-password-123\n", "login", "--user", "boss", "--password-stdin"); r.Code != 0 {
		t.Fatalf("login as the first admin: exit %d: %s", r.Code, r.Stderr)
	}
	if r := runAs(t, c, config, "", "", "executor", "list"); r.Code != 0 {
		t.Fatalf("executor list with the saved login: exit %d: %s", r.Code, r.Stderr)
	}
	var tokens []struct {
		ID   int64
		User string
		Name string
	}
	c.JSON(&tokens, "token", "list")
	for _, tk := range tokens {
		if tk.User == "boss" {
			c.MustCLI("token", "revoke", strconv.FormatInt(tk.ID, 10))
		}
	}
	r := runAs(t, c, config, "", "", "executor", "list")
	for _, want := range []string{"log in again", "server " + c.Server(), filepath.Join(config, "crawlctl", "tokens.json")} {
		if r.Code != 2 || !strings.Contains(r.Stderr, want) {
			t.Fatalf("with a revoked saved token: exit %d, stderr %q; want %q", r.Code, r.Stderr, want)
		}
	}
}
