package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/testcluster"
)

// TestJobsGetACleanEnvironment: a job that prints its environment shows
// neither the cluster secret, nor the database DSN, nor any CRAWLCTL_
// setting of its executor, whether the executor read them from the
// environment or from files; it shows the base variables, its flow's
// env.NAME settings, and the variables the executor passes on with
// --job-env-pass, and no other.
func TestJobsGetACleanEnvironment(t *testing.T) {
	c := testcluster.New(t)
	c.StartWeb()
	dbFile := filepath.Join(t.TempDir(), "db.dsn")
	if err := os.WriteFile(dbFile, []byte(c.DSN+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	operatorEnv := []string{"HTTP_PROXY=http://proxy.example:3128", "CRAWL_PASS_ONE=passed-one", "NOT_LISTED=not-listed-value"}
	c.StartExecutorWith("by-env", testcluster.ExecutorOptions{
		Env:      append([]string{"CRAWLCTL_DB=" + c.DSN, "CRAWLCTL_CLUSTER_SECRET=" + c.Secret}, operatorEnv...),
		NoDBFlag: true, NoSecretFlag: true,
	}, "--job-env-pass", "HTTP_PROXY,CRAWL_PASS_*")
	c.StartExecutorWith("by-file", testcluster.ExecutorOptions{Env: operatorEnv, NoDBFlag: true}, "--db-file", dbFile)
	c.MustCLI("project", "upload", writeProject(t, map[string]string{
		"show": "nodes:\n  - name: job\n    type: command\n    config:\n      command: env\n      env.FROM_FLOW: from-the-flow\n",
	}), "--name", "p")

	dbName := c.DSN[strings.LastIndex(c.DSN, "/")+1:]
	for _, ex := range []struct {
		name       string
		passed     []string
		notPassed  []string
		secretsVia string
	}{
		{"by-env", []string{"HTTP_PROXY=http://proxy.example:3128", "CRAWL_PASS_ONE=passed-one"}, []string{"NOT_LISTED"}, "environment"},
		{"by-file", nil, []string{"HTTP_PROXY", "CRAWL_PASS_ONE", "NOT_LISTED"}, "files"},
	} {
		id := submit(t, c, "p", "show", "--executor", ex.name)
		waitStatus(t, c, id, 30*time.Second, "SUCCEEDED")
		env := c.MustCLI("exec", "logs", strconv.FormatInt(id, 10), "--job", "job")
		for _, secret := range []string{c.Secret, dbName, c.Token} {
			if strings.Contains(env, secret) {
				t.Errorf("%s (secrets from %s): a job sees a secret of its executor:\n%s", ex.name, ex.secretsVia, env)
			}
		}
		for _, line := range strings.Split(env, "\n") {
			if strings.HasPrefix(line, "CRAWLCTL_") {
				t.Errorf("%s: a job sees its executor's setting %s", ex.name, line)
			}
		}
		for _, want := range append([]string{"PATH=", "HOME=", "FROM_FLOW=from-the-flow", "JOB_NAME=job", "AZKABAN_EXEC_ID=" + strconv.FormatInt(id, 10)}, ex.passed...) {
			if !strings.Contains(env, want) {
				t.Errorf("%s: the job's environment lacks %s:\n%s", ex.name, want, env)
			}
		}
		for _, no := range ex.notPassed {
			if strings.Contains(env, no+"=") {
				t.Errorf("%s: %s is not in --job-env-pass, yet the job sees it:\n%s", ex.name, no, env)
			}
		}
	}
}
