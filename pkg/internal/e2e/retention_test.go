package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/client"
	"github.com/crawlctl/crawlctl/pkg/internal/testcluster"
)

// TestRetentionDeletesEndedExecutions: a web server with a short retention
// deletes an execution soon after it ended (GET answers 404), while one
// that started earlier and still runs stays, however old; once that one
// ends, it goes too.
func TestRetentionDeletesEndedExecutions(t *testing.T) {
	c := testcluster.New(t, func(o *testcluster.Options) {
		o.Executors, o.Activate = 1, true
		o.WebFlags = []string{"--retain-executions", "1s", "--prune-every", "200ms"}
	})
	gate := filepath.Join(t.TempDir(), "gate")
	c.MustCLI("project", "upload", writeProject(t, map[string]string{
		"long":  oneJob("while [ ! -e " + gate + " ]; do sleep 0.05; done"),
		"quick": oneJob("echo done"),
	}), "--name", "p")

	long := submit(t, c, "p", "long")
	waitJobRunning(t, c, long, 30*time.Second)
	// Only an ended execution is ever deleted: a 404 for one that
	// existed says it ran, ended and went.
	quick := submit(t, c, "p", "quick")
	gone := func(id int64) func() (bool, string) {
		return func() (bool, string) {
			e, err := c.Client().Execution(context.Background(), id)
			var ae *client.APIError
			if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
				return true, ""
			}
			if err != nil {
				return false, err.Error()
			}
			return false, fmt.Sprintf("execution %d is %s (ended %v)", id, e.Status, e.EndTime)
		}
	}
	c.WaitFor(30*time.Second, fmt.Sprintf("the ended execution %d to be deleted", quick), gone(quick))
	if e := showExec(c, long); e.Status != "RUNNING" {
		t.Fatalf("the running execution %d, started before the one deleted, is %s", long, e.Status)
	}
	// It says so once that round of pruning is over.
	c.WaitFor(30*time.Second, "the web server to log what it deleted", func() (bool, string) {
		log := c.Webs()[0].Log.String()
		return strings.Contains(log, `"message":"pruned old rows"`) && strings.Contains(log, `"executions":1`), log
	})

	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c.WaitFor(30*time.Second, fmt.Sprintf("execution %d to be deleted once it ended", long), gone(long))
}
