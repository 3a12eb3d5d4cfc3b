package runner

import (
	"os"
	"testing"

	"github.com/crawlctl/crawlctl/pkg/internal/supervise"
)

// TestMain lets the test binary, which is what os.Executable() names in
// these tests, serve as the job supervisor, as the crawlctl binary does.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == supervise.Name {
		os.Exit(supervise.Main(os.Args[2:]))
	}
	// Supervisors get the jobs' environment: under -race, spare each of
	// them the race runtime's one-second pause at exit.
	if _, ok := os.LookupEnv("GORACE"); !ok {
		os.Setenv("GORACE", "atexit_sleep_ms=0")
	}
	// Jobs go through one serving supervisor, as in an executor (tests of
	// the lease, the state directory and per-job supervisors set their own).
	sharedPool = supervise.NewPool("", supervise.Options{})
	code := m.Run()
	sharedPool.Close()
	os.Exit(code)
}

// sharedPool starts the jobs of newExecution's executions.
var sharedPool *supervise.Pool

// ownPool gives ex a serving supervisor of its own, with ex's lease file
// and state directory, or none (a supervisor per job) when perJob.
func ownPool(t *testing.T, ex *Execution, perJob bool) {
	t.Helper()
	if perJob {
		ex.Jobs = nil
		return
	}
	p := supervise.NewPool(ex.Supervisor, supervise.Options{LeaseFile: ex.LeaseFile, StateDir: ex.StateDir})
	ex.Jobs = p
	t.Cleanup(func() { p.Close() })
}

// bothModes runs test with a serving supervisor and with one per job.
func bothModes(t *testing.T, test func(t *testing.T, perJob bool)) {
	t.Parallel()
	for _, perJob := range []bool{false, true} {
		name := "served"
		if perJob {
			name = "per-job"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, perJob)
		})
	}
}
