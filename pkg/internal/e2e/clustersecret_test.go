package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/testcluster"
)

// TestExecutorHelpCurlLine runs the curl line `crawlctl executor --help`
// teaches, as printed (node-3 replaced by the executor's address), in the
// executor's directory with cluster.secret beside its port file: it
// activates the executor. Without the secret header curl fails (--fail) and
// the reply says how to send the secret.
func TestExecutorHelpCurlLine(t *testing.T) {
	c := testcluster.New(t, func(o *testcluster.Options) { o.Dialect = "sqlite" })
	c.StartWeb()
	n3 := c.StartExecutor("node-3")
	help := c.MustCLI("executor", "--help")
	line := regexp.MustCompile(`(?m)^\s*(curl .*action=activate.*)$`).FindStringSubmatch(help)
	if line == nil {
		t.Fatalf("executor --help shows no curl line:\n%s", help)
	}
	curl := strings.ReplaceAll(line[1], "node-3:", "127.0.0.1:")
	secret, err := os.ReadFile(c.SecretFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(n3.Dir, "cluster.secret"), secret, 0o600); err != nil {
		t.Fatal(err)
	}
	bash := func(line string) testcluster.Result {
		cmd := exec.Command("bash", "-c", line)
		cmd.Dir = n3.Dir
		return runCmd(t, cmd)
	}

	noSecret := regexp.MustCompile(`-H "[^"]*" `).ReplaceAllString(curl, "")
	if r := bash(noSecret); r.Code != 22 || !strings.Contains(r.Stdout, `unauthorized: send the cluster secret as \"Authorization: Bearer <secret>\" (--cluster-secret-file)`) {
		t.Fatalf("%s: exit %d, stdout %q, stderr %q; want exit 22 and how to send the secret", noSecret, r.Code, r.Stdout, r.Stderr)
	}
	if listExecutors(c)["node-3"].Active {
		t.Fatal("activated without the secret")
	}
	if r := bash(curl); r.Code != 0 || strings.TrimSpace(r.Stdout) != `{"status":"success"}` {
		t.Fatalf("%s: exit %d, stdout %q, stderr %q", curl, r.Code, r.Stdout, r.Stderr)
	}
	if !listExecutors(c)["node-3"].Active {
		t.Fatal("the help's curl line did not activate node-3")
	}

	// Two more stumbles of a newcomer: the CLI pointed at the executor's
	// port, and removing an executor that still runs.
	if r := c.CLI("executor", "list", "--server", "http://"+n3.Addr); r.Code != 2 || !strings.Contains(r.Stderr, "looks like an executor's port") {
		t.Fatalf("--server at an executor's port: exit %d, stderr %q", r.Code, r.Stderr)
	}
	if r := c.CLI("executor", "remove", "node-3"); r.Code != 2 || !strings.Contains(r.Stderr, "is online; stop it first") || strings.HasSuffix(strings.TrimSpace(r.Stderr), "conflict") {
		t.Fatalf("executor remove of an online executor: exit %d, stderr %q", r.Code, r.Stderr)
	}
}

// TestExecutorWithAnotherSecret: an executor started with another cluster
// secret is marked "secret mismatch" (in the database, for every web
// server), its log says the secret was wrong rather than missing, and it is
// offered no work. Once it runs with the right secret, the web server's
// next call is accepted and clears the mark, and it gets work again.
func TestExecutorWithAnotherSecret(t *testing.T) {
	c := testcluster.New(t)
	c.StartWeb()
	c.StartExecutor("good")
	other := filepath.Join(c.Dir, "other.secret")
	if err := os.WriteFile(other, []byte("another-cluster-secret-of-some-length\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	odd := c.StartExecutor("odd", "--cluster-secret-file", other)
	c.MustCLI("executor", "activate", "good", "odd")

	e := waitExecutor(t, c, "odd", "marked secret mismatch", func(e executorJSON) bool { return e.StatusNote == "secret mismatch" })
	if !strings.Contains(e.SecretRefused, "secret mismatch") || !e.Active {
		t.Fatalf("odd: %s", toJSON(e))
	}
	if table := c.MustCLI("executor", "list"); !regexp.MustCompile(`odd .* online \(secret mismatch\)`).MatchString(table) {
		t.Fatalf("executor list does not mark odd:\n%s", table)
	}
	if show := c.MustCLI("executor", "show", "odd"); !strings.Contains(show, "secret:     refused: secret mismatch") || !strings.Contains(show, "SECRET_REFUSED") {
		t.Fatalf("executor show odd:\n%s", show)
	}
	if log := odd.Log.String(); !strings.Contains(log, "wrong cluster secret") || strings.Contains(log, "without the cluster secret") {
		t.Fatalf("odd's log does not say the secret was wrong:\n%s", log)
	}

	c.MustCLI("project", "upload", writeProject(t, map[string]string{"one": oneJob("true")}), "--name", "p")
	var ids []int64
	for i := 0; i < 12; i++ {
		ids = append(ids, submit(t, c, "p", "one"))
	}
	for _, id := range ids {
		if e := waitStatus(t, c, id, 60*time.Second, "SUCCEEDED", "FAILED", "KILLED"); e.Status != "SUCCEEDED" || e.ExecutorName != "good" || e.Attempt != 1 {
			t.Fatalf("execution %d: %s", id, toJSON(e))
		}
	}
	// Pinned to it, a flow waits and says why.
	pinned := submit(t, c, "p", "one", "--executor", "odd")
	c.WaitFor(20*time.Second, "the pinned flow's wait reason", func() (bool, string) {
		e := showExec(c, pinned)
		return e.Status == "QUEUED" && strings.Contains(e.WaitReason, "pinned executor odd refused the cluster secret"), toJSON(e)
	})

	// Fixed: odd runs with the cluster's secret on its port and is activated
	// on its own host. The web server's next call to it is accepted.
	odd.Signal(15)
	<-odd.Done()
	c.Restart(odd, "--cluster-secret-file", c.SecretFile, "--port", strconv.Itoa(e.Port))
	c.WaitExecutorPort(odd)
	if code, body := testcluster.Do(t, "POST", "http://"+odd.Addr+"/executor?action=activate", c.Secret, nil); code != 200 {
		t.Fatalf("activate odd: %d %s", code, body)
	}
	waitExecutor(t, c, "odd", "cleared", func(e executorJSON) bool { return e.StatusNote == "" && e.SecretRefused == "" })
	if e := waitStatus(t, c, pinned, 60*time.Second, "SUCCEEDED", "FAILED", "KILLED"); e.Status != "SUCCEEDED" || e.ExecutorName != "odd" {
		t.Fatalf("pinned execution after the fix: %s", toJSON(e))
	}
	if show := c.MustCLI("executor", "show", "odd"); !strings.Contains(show, "SECRET_ACCEPTED") {
		t.Fatalf("executor show odd after the fix:\n%s", show)
	}
}
