package runner

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/flow"
	"github.com/crawlctl/crawlctl/pkg/internal/supervise"
)

// BenchmarkJobStartup measures one job process, `true`, from start to
// reaped: the runner's whole cost per command, without and with the
// executor's lease file and state directory, under a supervisor per job
// and under a serving supervisor (served/…, what an executor does on
// Linux). The supervisor is the test binary unless
// CRAWLCTL_BENCH_SUPERVISOR names another (a crawlctl built by `make
// build`, to measure what an executor pays). BenchmarkSpawn is the bare
// fork/exec of /bin/sh -c true to compare with.
func BenchmarkJobStartup(b *testing.B) {
	for _, mode := range []string{"plain", "lease+state", "served/plain", "served/lease+state"} {
		b.Run(mode, func(b *testing.B) {
			ex := Execution{
				ID:         1,
				Flow:       &flow.Flow{Name: "bench", Nodes: []*flow.Node{command("a", "true")}},
				WorkDir:    b.TempDir(),
				Supervisor: os.Getenv("CRAWLCTL_BENCH_SUPERVISOR"),
			}
			if strings.HasSuffix(mode, "lease+state") {
				ex.LeaseFile = filepath.Join(b.TempDir(), "lease")
				ex.StateDir = filepath.Join(b.TempDir(), "supervisors")
				if err := supervise.WriteLease(ex.LeaseFile, supervise.Now()+int64(time.Hour)); err != nil {
					b.Fatal(err)
				}
			}
			if strings.HasPrefix(mode, "served/") {
				p := supervise.NewPool(ex.Supervisor, supervise.Options{LeaseFile: ex.LeaseFile, StateDir: ex.StateDir})
				defer p.Close()
				ex.Jobs = p
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

// BenchmarkSpawn is a bare fork/exec and wait of /bin/sh -c true, the
// limit of BenchmarkJobStartup.
func BenchmarkSpawn(b *testing.B) {
	for b.Loop() {
		if err := exec.Command("/bin/sh", "-c", "true").Run(); err != nil {
			b.Fatal(err)
		}
	}
}
