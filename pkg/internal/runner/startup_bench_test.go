package runner

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/flow"
	"github.com/crawlctl/crawlctl/pkg/internal/supervise"
)

// BenchmarkJobStartup measures one job process, `true`, from start to
// reaped: the runner's whole cost per command, without and with the
// executor's lease file and state directory. The supervisor is the test
// binary unless CRAWLCTL_BENCH_SUPERVISOR names another (a crawlctl built
// by `make build`, to measure what an executor pays).
func BenchmarkJobStartup(b *testing.B) {
	for _, mode := range []string{"plain", "lease+state"} {
		b.Run(mode, func(b *testing.B) {
			ex := Execution{
				ID:         1,
				Flow:       &flow.Flow{Name: "bench", Nodes: []*flow.Node{command("a", "true")}},
				WorkDir:    b.TempDir(),
				Supervisor: os.Getenv("CRAWLCTL_BENCH_SUPERVISOR"),
			}
			if mode == "lease+state" {
				ex.LeaseFile = filepath.Join(b.TempDir(), "lease")
				ex.StateDir = filepath.Join(b.TempDir(), "supervisors")
				if err := supervise.WriteLease(ex.LeaseFile, supervise.Now()+int64(time.Hour)); err != nil {
					b.Fatal(err)
				}
			}
			r, err := newRunner(context.Background(), ex, discardReporter{})
			if err != nil {
				b.Fatal(err)
			}
			defer r.close()
			env := os.Environ()
			for b.Loop() {
				if p := r.runProcess(context.Background(), "a", "true", ex.WorkDir, env, io.Discard); p.err != nil {
					b.Fatal(p.err)
				}
			}
		})
	}
}
