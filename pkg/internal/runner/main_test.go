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
	os.Exit(m.Run())
}
