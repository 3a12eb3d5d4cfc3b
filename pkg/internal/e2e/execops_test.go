package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/api"
	"github.com/crawlctl/crawlctl/pkg/internal/testcluster"
)

// flowOf is a Flow 2.0 flow of command jobs, each "name: command" with its
// dependencies after a "<-" (e.g. "b: true <- a").
func flowOf(jobs ...string) string {
	var b strings.Builder
	b.WriteString("nodes:\n")
	for _, j := range jobs {
		name, rest, _ := strings.Cut(j, ": ")
		cmd, deps, _ := strings.Cut(rest, " <- ")
		fmt.Fprintf(&b, "  - name: %s\n    type: command\n    config:\n      command: %q\n", name, cmd)
		if deps != "" {
			fmt.Fprintf(&b, "    dependsOn: [%s]\n", deps)
		}
	}
	return b.String()
}

// restToken logs user in through the REST API and returns the token.
func restToken(t *testing.T, c *testcluster.Cluster, user, password string) string {
	t.Helper()
	body, _ := json.Marshal(api.LoginRequest{User: user, Password: password})
	code, out := testcluster.Do(t, http.MethodPost, c.Server()+"/api/v1/login", "", strings.NewReader(string(body)))
	var tr api.TokenResult
	if code != http.StatusOK && code != http.StatusCreated || json.Unmarshal([]byte(out), &tr) != nil || tr.Secret == "" {
		t.Fatalf("login %s: %d %s", user, code, out)
	}
	return tr.Secret
}

// TestExecPauseResumeDisableAndRetry drives the execution operations
// through the CLI and the REST API against a real cluster:
//   - exec pause on a running two-job flow: the first job finishes, the
//     second does not start until exec resume;
//   - flow run --disable: the job ends SKIPPED, its dependant runs; the
//     e-mails are stored and shown; an unknown job is refused;
//   - exec retry --failed-only on a flow whose job b failed after a
//     succeeded: a does not run again (its marker file has one line), its
//     output property reaches b, the new execution names the original,
//     which is unchanged; Azkaban's retryFailedJobs does the same;
//   - the REST endpoints' status codes and role checks.
func TestExecPauseResumeDisableAndRetry(t *testing.T) {
	c := testcluster.New(t)
	c.StartWeb()
	c.StartExecutor("e1")
	c.MustCLI("executor", "activate", "e1")
	dir := t.TempDir()
	gate, okFile, marker, seen := filepath.Join(dir, "gate"), filepath.Join(dir, "ok"), filepath.Join(dir, "a.runs"), filepath.Join(dir, "b.saw")
	c.MustCLI("project", "upload", writeProject(t, map[string]string{
		"twostep": flowOf("a: while [ ! -e "+gate+" ]; do sleep 0.05; done", "b: true <- a"),
		"chain":   flowOf("x: true", "off: exit 7 <- x", "after: true <- off"),
		"ab": flowOf(`a: echo ran >> `+marker+`; echo '{"k":"from-a"}' > "$JOB_OUTPUT_PROP_FILE"`,
			`b: echo "${a:k}" >> `+seen+`; [ -e `+okFile+` ] <- a`),
	}), "--name", "p")
	addUser(t, c, "olga", "operator", "password-of-olga")
	addUser(t, c, "vic", "viewer", "password-of-vic")
	operator, viewer := restToken(t, c, "olga", "password-of-olga"), restToken(t, c, "vic", "password-of-vic")
	rest := func(token, method, path, body string) (int, string) {
		var r *strings.Reader
		if body != "" {
			r = strings.NewReader(body)
		}
		if r == nil {
			return testcluster.Do(t, method, c.Server()+path, token, nil)
		}
		return testcluster.Do(t, method, c.Server()+path, token, r)
	}

	// Pause and resume.
	id := submit(t, c, "p", "twostep")
	sid := strconv.FormatInt(id, 10)
	waitJobRunning(t, c, id, 30*time.Second)
	if code, out := rest(viewer, "POST", "/api/v1/executions/"+sid+"/pause", ""); code != http.StatusForbidden {
		t.Fatalf("pause as a viewer: %d %s", code, out)
	}
	if out := c.MustCLI("exec", "pause", sid); !strings.Contains(out, "RUNNING (paused)") {
		t.Fatalf("exec pause: %s", out)
	}
	c.MustCLI("exec", "pause", sid) // pausing a paused execution does nothing
	var shown api.Execution
	c.JSON(&shown, "exec", "show", sid)
	if !shown.Paused || shown.Status != "RUNNING" {
		t.Fatalf("a paused execution shows %+v", shown)
	}
	if out := c.MustCLI("exec", "show", sid); !strings.Contains(out, "RUNNING (paused)") {
		t.Fatalf("exec show of a paused execution:\n%s", out)
	}
	flowLogHas := func(id int64, text string) func() (bool, string) {
		return func() (bool, string) {
			out := c.MustCLI("exec", "logs", strconv.FormatInt(id, 10))
			return strings.Contains(out, text), out
		}
	}
	c.WaitFor(30*time.Second, "the executor to pause the run", flowLogHas(id, "execution paused"))
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c.WaitFor(30*time.Second, "job a to end", flowLogHas(id, "job a succeeded"))
	for _, j := range showExec(c, id).Jobs {
		if j.Name == "b" && j.Status != "READY" {
			t.Fatalf("job b is %s while the execution is paused", j.Status)
		}
	}
	if e := showExec(c, id); e.Status != "RUNNING" {
		t.Fatalf("a paused execution whose running job ended is %s", e.Status)
	}
	if out := c.MustCLI("exec", "resume", sid); !strings.Contains(out, "is RUNNING") || strings.Contains(out, "paused") {
		t.Fatalf("exec resume: %s", out)
	}
	if e := waitStatus(t, c, id, 30*time.Second, "SUCCEEDED", "FAILED", "KILLED"); e.Status != "SUCCEEDED" {
		t.Fatalf("after resume: %s", toJSON(e))
	}
	if code, out := rest(operator, "POST", "/api/v1/executions/"+sid+"/resume", ""); code != http.StatusConflict || !strings.Contains(out, "not running") {
		t.Fatalf("resume of an ended execution: %d %s", code, out)
	}
	if r := c.CLI("exec", "pause", sid); r.Code != 2 || !strings.Contains(r.Stderr, "not running") {
		t.Fatalf("exec pause of an ended execution: %+v", r)
	}
	if code, out := rest(operator, "POST", "/api/v1/executions/99999/pause", ""); code != http.StatusNotFound {
		t.Fatalf("pause of no execution: %d %s", code, out)
	}
	if code, out := rest(operator, "POST", "/api/v1/executions/x/pause", ""); code != http.StatusBadRequest {
		t.Fatalf("pause of a bad id: %d %s", code, out)
	}

	// Disabled jobs and e-mails.
	if r := c.CLI("flow", "run", "p", "chain", "--disable", "nope"); r.Code != 2 || !strings.Contains(r.Stderr, `cannot disable "nope"`) || !strings.Contains(r.Stderr, "x, off, after") {
		t.Fatalf("disabling an unknown job: %+v", r)
	}
	if code, out := rest(operator, "POST", "/api/v1/executions", `{"project":"p","flow":"chain","failure_emails":["not an address"]}`); code != http.StatusBadRequest {
		t.Fatalf("a bad e-mail address: %d %s", code, out)
	}
	id = submit(t, c, "p", "chain", "--disable", "off", "--notify-success", "a@x.example", "--notify-failure", "b@y.example,c@y.example", "--notify-failure-first")
	waitStatus(t, c, id, 30*time.Second, "SUCCEEDED", "FAILED", "KILLED")
	c.JSON(&shown, "exec", "show", strconv.FormatInt(id, 10))
	statuses := map[string]string{}
	for _, j := range shown.Jobs {
		statuses[j.Name] = j.Status
	}
	if shown.Status != "SUCCEEDED" || statuses["off"] != "SKIPPED" || statuses["after"] != "SUCCEEDED" || statuses["x"] != "SUCCEEDED" {
		t.Fatalf("a run with off disabled: %s %v", shown.Status, statuses)
	}
	if strings.Join(shown.Disabled, ",") != "off" || strings.Join(shown.SuccessEmails, ",") != "a@x.example" ||
		strings.Join(shown.FailureEmails, ",") != "b@y.example,c@y.example" || !shown.NotifyFailureFirst || shown.NotifyFailureLast {
		t.Fatalf("the run's options: %+v", shown)
	}
	if out := c.MustCLI("exec", "show", strconv.FormatInt(id, 10)); !strings.Contains(out, "disabled:   off") || !strings.Contains(out, "on failure: b@y.example, c@y.example (at the first failed job)") {
		t.Fatalf("exec show:\n%s", out)
	}

	// A schedule keeps the same options for every run it submits.
	var sc api.Schedule
	c.JSON(&sc, "schedule", "add", "p", "chain", "--cron", "0 0 3 * * ?", "--disable", "off", "--notify-failure", "ops@x.example", "--failure-action", "finishPossible")
	if strings.Join(sc.Disabled, ",") != "off" || strings.Join(sc.FailureEmails, ",") != "ops@x.example" || sc.FailureAction != "finishPossible" {
		t.Fatalf("schedule add with options: %+v", sc)
	}
	if r := c.CLI("schedule", "add", "p", "chain", "--cron", "0 0 3 * * ?", "--disable", "nope"); r.Code != 2 || !strings.Contains(r.Stderr, `cannot disable "nope"`) {
		t.Fatalf("a schedule disabling an unknown job: %+v", r)
	}

	// Retry from the failed jobs.
	failed := submit(t, c, "p", "ab")
	sfailed := strconv.FormatInt(failed, 10)
	if e := waitStatus(t, c, failed, 30*time.Second, "SUCCEEDED", "FAILED", "KILLED"); e.Status != "FAILED" {
		t.Fatalf("flow ab: %s", toJSON(e))
	}
	if code, out := rest(viewer, "POST", "/api/v1/executions/"+sfailed+"/retry", `{"failed_only":true}`); code != http.StatusForbidden {
		t.Fatalf("retry as a viewer: %d %s", code, out)
	}
	if code, out := rest(operator, "POST", "/api/v1/executions/"+sfailed+"/retry", `{"failed_only":"yes"}`); code != http.StatusBadRequest {
		t.Fatalf("retry with a bad body: %d %s", code, out)
	}
	if code, out := rest(operator, "POST", "/api/v1/executions/"+sid+"/retry", `{"failed_only":true}`); code != http.StatusConflict || !strings.Contains(out, "only a FAILED or KILLED execution can be retried") {
		t.Fatalf("retry of a succeeded execution: %d %s", code, out)
	}
	if code, out := rest(operator, "POST", "/api/v1/executions/99999/retry", ""); code != http.StatusNotFound {
		t.Fatalf("retry of no execution: %d %s", code, out)
	}
	if err := os.WriteFile(okFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	out := c.MustCLI("exec", "retry", sfailed, "--failed-only")
	retry, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	if err != nil {
		t.Fatalf("exec retry printed %q, want an execution id", out)
	}
	if e := waitStatus(t, c, retry, 30*time.Second, "SUCCEEDED", "FAILED", "KILLED"); e.Status != "SUCCEEDED" {
		t.Fatalf("the retry: %s", toJSON(e))
	}
	if runs := readLines(t, marker); len(runs) != 1 {
		t.Fatalf("job a ran %d times, want once (the retry reuses it): %q", len(runs), runs)
	}
	if saw := readLines(t, seen); len(saw) != 2 || saw[1] != "from-a" {
		t.Fatalf("job b saw ${a:k} as %q, want from-a in the retry too", saw)
	}
	c.JSON(&shown, "exec", "show", strconv.FormatInt(retry, 10))
	statuses = map[string]string{}
	for _, j := range shown.Jobs {
		statuses[j.Name] = j.Status
	}
	if shown.RetryOf == nil || *shown.RetryOf != failed || strings.Join(shown.Reused, ",") != "a" || statuses["a"] != "SKIPPED" || statuses["b"] != "SUCCEEDED" {
		t.Fatalf("the retry shows %+v", shown)
	}
	if out := c.MustCLI("exec", "show", strconv.FormatInt(retry, 10)); !strings.Contains(out, "retry of:   "+sfailed) {
		t.Fatalf("exec show of the retry:\n%s", out)
	}
	orig := showExec(c, failed)
	if orig.Status != "FAILED" || len(orig.Jobs) != 2 {
		t.Fatalf("the original changed: %s", toJSON(orig))
	}

	// Azkaban's retryFailedJobs of an ended FAILED flow: the same retry.
	if err := os.Remove(okFile); err != nil {
		t.Fatal(err)
	}
	again := submit(t, c, "p", "ab")
	waitStatus(t, c, again, 30*time.Second, "FAILED")
	if err := os.WriteFile(okFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	az := azClient{t: t, base: c.Server()}
	session, _ := az.login("olga", "password-of-olga")
	r := az.get("/executor", url.Values{"ajax": {"retryFailedJobs"}, "execid": {strconv.FormatInt(again, 10)}, "session.id": {session}})
	azRetry, ok := r.JSON["execid"].(float64)
	if !ok || r.JSON["error"] != nil {
		t.Fatalf("retryFailedJobs: %s", r.Body)
	}
	if e := waitStatus(t, c, int64(azRetry), 30*time.Second, "SUCCEEDED", "FAILED", "KILLED"); e.Status != "SUCCEEDED" {
		t.Fatalf("the retry by retryFailedJobs: %s", toJSON(e))
	}
	if runs := readLines(t, marker); len(runs) != 2 {
		t.Fatalf("job a ran %d times over two runs and their retries, want 2", len(runs))
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}
