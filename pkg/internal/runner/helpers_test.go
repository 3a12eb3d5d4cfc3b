package runner

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/flow"
	"github.com/crawlctl/crawlctl/pkg/internal/procstat"
)

// recorder is a Reporter that keeps everything it is given.
type recorder struct {
	mu       sync.Mutex
	updates  []JobUpdate
	logs     map[string][]byte // by job, all attempts
	chunks   map[string]int    // number of Log calls by job
	flowLog  bytes.Buffer
	onUpdate func(JobUpdate) error                             // optional; its error is returned
	onLog    func(job string, attempt int, chunk []byte) error // optional; its error is returned
}

func newRecorder() *recorder {
	return &recorder{logs: make(map[string][]byte), chunks: make(map[string]int)}
}

func (r *recorder) JobUpdate(_ context.Context, u JobUpdate) error {
	r.mu.Lock()
	r.updates = append(r.updates, u)
	hook := r.onUpdate
	r.mu.Unlock()
	if hook != nil {
		return hook(u)
	}
	return nil
}

func (r *recorder) Log(_ context.Context, job string, attempt int, chunk []byte) error {
	r.mu.Lock()
	if job == "" {
		r.flowLog.Write(chunk)
	} else {
		r.logs[job] = append(r.logs[job], chunk...)
		r.chunks[job]++
	}
	hook := r.onLog
	r.mu.Unlock()
	if hook != nil {
		return hook(job, attempt, chunk)
	}
	return nil
}

// all returns a copy of every update received.
func (r *recorder) all() []JobUpdate {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]JobUpdate(nil), r.updates...)
}

// of returns the updates of one job, in order.
func (r *recorder) of(job string) []JobUpdate {
	var out []JobUpdate
	for _, u := range r.all() {
		if u.Job == job {
			out = append(out, u)
		}
	}
	return out
}

// last returns the last update of a job.
func (r *recorder) last(t *testing.T, job string) JobUpdate {
	t.Helper()
	us := r.of(job)
	if len(us) == 0 {
		t.Fatalf("no update for job %q; flow log:\n%s", job, r.flowText())
	}
	return us[len(us)-1]
}

// index returns the position of the first update of job with status s, or -1.
func (r *recorder) index(job string, s JobStatus) int {
	for i, u := range r.all() {
		if u.Job == job && u.Status == s {
			return i
		}
	}
	return -1
}

func (r *recorder) log(job string) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.logs[job])
}

func (r *recorder) chunkCount(job string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.chunks[job]
}

func (r *recorder) flowText() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.flowLog.String()
}

// expectStatuses checks the final status of each named job.
func (r *recorder) expectStatuses(t *testing.T, want map[string]JobStatus) {
	t.Helper()
	for job, s := range want {
		if got := r.last(t, job); got.Status != s {
			t.Errorf("job %q: status %s (error %q), want %s", job, got.Status, got.Error, s)
		}
	}
	if t.Failed() {
		t.Logf("flow log:\n%s", r.flowText())
	}
}

// command returns a command node.
func command(name, cmd string, deps ...string) *flow.Node {
	return &flow.Node{Name: name, Type: flow.TypeCommand, Config: map[string]string{"command": cmd}, DependsOn: deps}
}

// withConfig adds config entries to a node.
func withConfig(n *flow.Node, kv ...string) *flow.Node {
	if n.Config == nil {
		n.Config = map[string]string{}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		n.Config[kv[i]] = kv[i+1]
	}
	return n
}

// withCondition sets a node's condition.
func withCondition(n *flow.Node, cond string) *flow.Node {
	n.Condition = cond
	return n
}

// embedded returns an embedded-flow node.
func embedded(name string, children []*flow.Node, deps ...string) *flow.Node {
	return &flow.Node{Name: name, Type: flow.TypeFlow, Nodes: children, DependsOn: deps}
}

func newExecution(t *testing.T, nodes ...*flow.Node) Execution {
	t.Helper()
	return Execution{
		ID:             42,
		Project:        "proj",
		ProjectVersion: 3,
		Flow:           &flow.Flow{Name: "flow1", Nodes: nodes},
		WorkDir:        t.TempDir(),
		KillGrace:      time.Second,
		Jobs:           sharedPool,
	}
}

// run runs ex to its end, failing the test if it takes more than 30s.
func run(t *testing.T, ex Execution, rep Reporter) Result {
	t.Helper()
	ctx, cancel := context.WithTimeoutCause(context.Background(), 30*time.Second, fmt.Errorf("test %s took too long", t.Name()))
	defer cancel()
	return Run(ctx, ex, rep)
}

// waitFor is a shell snippet that waits for a file to exist, giving up
// (exit 99) after about 10 seconds.
func waitFor(path string) string {
	return fmt.Sprintf(`i=0; while [ ! -e %q ]; do i=$((i+1)); if [ $i -gt 400 ]; then echo "gave up waiting for %s"; exit 99; fi; sleep 0.025; done`, path, path)
}

// eventually polls cond until it holds, failing the test after 10 seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

// readTrim reads a file written by a job.
func readTrim(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// touch creates an empty file.
func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Error(err)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// inDir joins a name to the execution's working directory.
func inDir(ex Execution, name string) string { return filepath.Join(ex.WorkDir, name) }

// realPath resolves symbolic links, as pwd -P does.
func realPath(t *testing.T, path string) string {
	t.Helper()
	p, err := filepath.EvalSymlinks(path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// embeddedWith returns an embedded-flow node holding the given nodes.
func embeddedWith(name string, children ...*flow.Node) *flow.Node {
	return embedded(name, children)
}

// expectGroupGone checks that no live process of group pgid is left, and
// that the group disappears once the killed members have been reaped (by
// init, which some inits do lazily).
func expectGroupGone(t *testing.T, pgid int) {
	t.Helper()
	if procstat.GroupAlive(pgid) {
		t.Errorf("process group %d still has live processes", pgid)
	}
	eventually(t, fmt.Sprintf("process group %d to disappear", pgid), func() bool {
		return syscall.Kill(-pgid, 0) == syscall.ESRCH
	})
}
