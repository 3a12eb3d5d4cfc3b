package bench

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/testcluster/harness"
)

// runCLI runs one crawlctl command to its end and returns its stdout.
func runCLI(ctx context.Context, bin, dir string, args ...string) ([]byte, error) {
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, bin, args...)
	cmd.Env = harness.CleanEnv(filepath.Join(dir, "config"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("crawlctl %s: %v\n%s%s", strings.Join(args[:min(2, len(args))], " "), err, stdout.Bytes(), stderr.Bytes())
	}
	return stdout.Bytes(), nil
}

func migrateUp(ctx context.Context, bin, dir, dsn string) error {
	_, err := runCLI(ctx, bin, dir, "migrate", "up", "--db", dsn)
	return err
}

// authOf is how the daemons authenticate: with a cluster secret and an
// admin's API token when bin's web server takes --cluster-secret-file, as
// in production; not at all when it has no authentication.
func authOf(ctx context.Context, bin, dir string) harness.Auth {
	help, _ := runCLI(ctx, bin, dir, "web", "serve", "--help")
	if !bytes.Contains(help, []byte("--cluster-secret-file")) {
		return harness.AuthNone
	}
	return harness.AuthSecret
}

// cluster is the web server and executors of one run, started by the
// harness of the end-to-end tests (package testcluster/harness).
type cluster struct {
	*harness.Core
	web       *harness.Proc
	executors []*harness.Proc
	api       *api
	auth      string // "token" or "none"
	stopOnce  sync.Once
}

// benchTimers are the daemons' timers in the benchmark: the production
// offline threshold and claim timeout, quicker heartbeats and polls.
var benchTimers = harness.Timers{DispatchPoll: 200 * time.Millisecond, Heartbeat: time.Second, Poll: time.Second, DrainTimeout: 5 * time.Second}

// startCluster starts a web server and n executors on dsn, activates the
// executors, waits until each one has seen its activation, uploads the
// benchmark project and warms every executor up. It returns the cluster
// also on error, for stopping.
func startCluster(ctx context.Context, bin, dsn, dir string, n int, st *store.Store, logf func(string, ...any)) (*cluster, error) {
	c := &cluster{}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return c, err
	}
	core, err := harness.NewCore(harness.Config{Bin: bin, DSN: dsn, Dir: dir, Timers: benchTimers, Auth: authOf(ctx, bin, dir),
		Admin: "crawlbench", LogFiles: true, KillWithParent: true, Logf: logf,
		WebFlags: []string{"--log-format", "json"}, ExecutorFlags: []string{"--log-format", "json"}})
	if err != nil {
		return c, err
	}
	c.Core = core
	c.auth = "none"
	if core.Token != "" {
		c.auth = "token"
	}
	c.web, err = core.StartWeb(ctx)
	if err != nil {
		return c, err
	}
	c.api = newAPI(core.URL(c.web), core.Token)

	// One at a time: executors registering at the same moment can deadlock
	// in the database, and the loser exits.
	names := make([]string, n)
	for i := range n {
		names[i] = fmt.Sprintf("bench-%d", i+1)
		edir := filepath.Join(dir, names[i])
		d, err := core.StartExecutor(ctx, names[i], "--port-file", filepath.Join(edir, "executor.port"), "--work-dir", filepath.Join(edir, "work"))
		if d != nil {
			c.executors = append(c.executors, d)
		}
		if err != nil {
			return c, err
		}
	}
	for _, name := range names {
		if err := c.api.activate(ctx, name); err != nil {
			return c, err
		}
	}
	// An executor learns that it is active from its next heartbeat; until
	// then it refuses work. Wait for a heartbeat of each one written after
	// the activations.
	activated, err := st.Now(ctx)
	if err != nil {
		return c, err
	}
	if err := waitUntil(ctx, 30*time.Second, "executors seeing their activation", func() (bool, error) {
		list, err := c.api.executors(ctx)
		if err != nil {
			return false, nil
		}
		seen := 0
		for _, e := range list {
			if e.Active && e.LastHeartbeat != nil && e.LastHeartbeat.After(activated) {
				seen++
			}
		}
		return seen >= n, nil
	}); err != nil {
		return c, err
	}

	zipBody, err := benchProject()
	if err != nil {
		return c, err
	}
	if err := c.api.upload(ctx, "bench", zipBody); err != nil {
		return c, err
	}

	// Warm up: every executor unpacks the project into its cache on its
	// first execution; run enough flows that each has had one.
	warm := 4 * n
	logf("warming up with %d runs", warm)
	for range warm {
		id, err := c.api.submit(ctx, "one")
		if err != nil {
			return c, err
		}
		ev, err := c.api.waitEnd(ctx, id, time.Millisecond, 60*time.Second)
		if err != nil {
			return c, err
		}
		if ev.Status != store.ExecSucceeded {
			return c, fmt.Errorf("warm-up execution %d ended %s: %s", id, ev.Status, ev.Error)
		}
	}
	return c, nil
}

// stop ends every daemon at once: SIGTERM to its process group, then
// SIGKILL after 15 seconds.
func (c *cluster) stop(ctx context.Context) {
	if c.Core == nil {
		return
	}
	c.stopOnce.Do(func() {
		all := c.Procs()
		for _, d := range all {
			d.SignalGroup(syscall.SIGTERM)
		}
		allDone := make(chan struct{})
		go func() {
			for _, d := range all {
				<-d.Done()
			}
			close(allDone)
		}()
		deadline := time.NewTimer(15 * time.Second)
		defer deadline.Stop()
		select {
		case <-allDone:
			return
		case <-deadline.C:
		case <-ctx.Done():
		}
		for _, d := range all {
			d.SignalGroup(syscall.SIGKILL)
		}
		<-allDone
	})
}

// dumpLogs writes the last n lines of every daemon's log to w.
func (c *cluster) dumpLogs(w io.Writer, n int) {
	if c.Core == nil {
		return
	}
	for _, d := range c.Procs() {
		fmt.Fprintf(w, "--- last lines of %s (%s) ---\n", d.Name, d.Log.Path)
		for _, l := range d.Log.Tail(n) {
			fmt.Fprintln(w, l)
		}
	}
}

// waitUntil polls cond every 20ms until it holds, fails, or timeout passes.
func waitUntil(ctx context.Context, timeout time.Duration, what string, cond func() (bool, error)) error {
	return harness.WaitUntil(ctx, timeout, what, func() (bool, string, error) {
		ok, err := cond()
		return ok, "", err
	})
}

// chainJobs is the length of the chain flow.
const chainJobs = 40

// benchProject is the zip of the benchmark's Flow 2.0 project: flow one (one
// `true` job) and flow chain40 (40 sequential `true` jobs).
func benchProject() ([]byte, error) {
	var chain strings.Builder
	chain.WriteString("nodes:\n")
	for i := 1; i <= chainJobs; i++ {
		fmt.Fprintf(&chain, "  - name: j%02d\n    type: command\n    config:\n      command: \"true\"\n", i)
		if i > 1 {
			fmt.Fprintf(&chain, "    dependsOn: [j%02d]\n", i-1)
		}
	}
	files := []struct{ name, body string }{
		{"bench.project", "azkaban-flow-version: 2.0\n"},
		{"one.flow", "nodes:\n  - name: job\n    type: command\n    config:\n      command: \"true\"\n"},
		{"chain40.flow", chain.String()},
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		w, err := zw.Create(f.name)
		if err != nil {
			return nil, err
		}
		if _, err := io.WriteString(w, f.body); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
