package bench

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

// buildBinary builds crawlctl into dir and returns its path.
func buildBinary(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "crawlctl")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/crawlctl")
	cmd.Dir = moduleRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/crawlctl in %s: %v\n%s", cmd.Dir, err, out)
	}
	return bin, nil
}

// moduleRoot is the crawlctl source tree: the one this file was compiled
// from when it is still there, else the working directory.
func moduleRoot() string {
	if _, file, _, ok := runtime.Caller(0); ok {
		root := filepath.Join(filepath.Dir(file), "..", "..")
		if _, err := os.Stat(filepath.Join(root, "cmd", "crawlctl")); err == nil {
			return root
		}
	}
	return "."
}

// runCLI runs one crawlctl command to its end and returns its stdout.
func runCLI(ctx context.Context, bin, dir string, args ...string) ([]byte, error) {
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, bin, args...)
	cmd.Env = daemonEnv(dir)
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

// security is how the daemons authenticate: with a cluster secret and an
// admin's API token when the binary has authentication, as in production;
// not at all when it has none.
type security struct {
	daemonArgs []string
	token      string
	mode       string // "token" or "none"
}

// setUpSecurity writes a cluster secret and creates an admin with a token
// when bin's web server takes --cluster-secret-file.
func setUpSecurity(ctx context.Context, bin, dir, dsn string) (security, error) {
	help, _ := runCLI(ctx, bin, dir, "web", "serve", "--help")
	if !bytes.Contains(help, []byte("--cluster-secret-file")) {
		return security{mode: "none"}, nil
	}
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return security{}, err
	}
	secretFile := filepath.Join(dir, "cluster.secret")
	if err := os.WriteFile(secretFile, []byte(hex.EncodeToString(b[:])+"\n"), 0o600); err != nil {
		return security{}, err
	}
	out, err := runCLI(ctx, bin, dir, "user", "add", "crawlbench", "--role", "admin", "--db", dsn, "-o", "json")
	if err != nil {
		return security{}, err
	}
	var res struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(out, &res); err != nil || res.Token == "" {
		return security{}, fmt.Errorf("crawlctl user add printed no token: %s", out)
	}
	return security{daemonArgs: []string{"--cluster-secret-file", secretFile}, token: res.Token, mode: "token"}, nil
}

// daemon is one running crawlctl process.
type daemon struct {
	name    string
	dir     string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{}
}

// startDaemon runs bin with args in its own process group (so a Ctrl-C on
// the terminal reaches only the benchmark, which then stops it), output to
// dir/NAME.log.
func startDaemon(bin, name, dir string, args ...string) (*daemon, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = daemonEnv(dir)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = daemonAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	d := &daemon{name: name, dir: dir, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(d.done)
	}()
	return d, nil
}

// daemonEnv is this process's environment without crawlctl settings (so
// nothing of the operator's own setup leaks into the benchmark), with a
// private config directory under dir.
func daemonEnv(dir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CRAWLCTL_") && !strings.HasPrefix(kv, "XDG_CONFIG_HOME=") {
			env = append(env, kv)
		}
	}
	return append(env, "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
}

func (d *daemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// signal sends sig to the daemon's process group.
func (d *daemon) signal(sig syscall.Signal) {
	if !d.exited() {
		_ = syscall.Kill(-d.cmd.Process.Pid, sig)
	}
}

// tail returns the last n lines of the daemon's log.
func (d *daemon) tail(n int) []string {
	f, err := os.Open(d.logPath)
	if err != nil {
		return nil
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return lines
}

// cluster is the web server and executors of one run.
type cluster struct {
	web       *daemon
	executors []*daemon
	api       *api
	auth      string // "token" or "none"
	stopOnce  sync.Once
}

// freePort asks the OS for a free loopback port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// startCluster starts a web server and n executors on dsn, activates the
// executors, waits until each one has seen its activation, uploads the
// benchmark project and warms every executor up. It returns the cluster
// also on error, for stopping.
func startCluster(ctx context.Context, bin, dsn, dir string, n int, st *store.Store, logf func(string, ...any)) (*cluster, error) {
	c := &cluster{}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return c, err
	}
	sec, err := setUpSecurity(ctx, bin, dir, dsn)
	if err != nil {
		return c, err
	}
	c.auth = sec.mode
	port, err := freePort()
	if err != nil {
		return c, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	c.web, err = startDaemon(bin, "web", filepath.Join(dir, "web"), append([]string{
		"web", "serve", "--db", dsn, "--listen", addr, "--dispatch-poll", "200ms", "--log-format", "json"}, sec.daemonArgs...)...)
	if err != nil {
		return c, err
	}
	c.api = newAPI("http://"+addr, sec.token)
	if err := waitUntil(ctx, 30*time.Second, "web server ready", func() (bool, error) {
		if c.web.exited() {
			return false, fmt.Errorf("web server exited: %s", strings.Join(c.web.tail(10), "\n"))
		}
		return c.api.ready(ctx), nil
	}); err != nil {
		return c, err
	}

	// One at a time: executors registering at the same moment can deadlock
	// in the database, and the loser exits.
	names := make([]string, n)
	for i := range n {
		names[i] = fmt.Sprintf("bench-%d", i+1)
		edir := filepath.Join(dir, names[i])
		d, err := startDaemon(bin, names[i], edir, append([]string{
			"executor", "serve", "--db", dsn, "--host", "127.0.0.1", "--bind", "127.0.0.1", "--port", "0",
			"--port-file", filepath.Join(edir, "executor.port"), "--name", names[i], "--work-dir", filepath.Join(edir, "work"),
			"--heartbeat", "1s", "--poll", "1s", "--drain-timeout", "5s", "--log-format", "json"}, sec.daemonArgs...)...)
		if err != nil {
			return c, err
		}
		c.executors = append(c.executors, d)
		if err := waitUntil(ctx, 30*time.Second, d.name+" port file", func() (bool, error) {
			if d.exited() {
				return false, fmt.Errorf("%s exited: %s", d.name, strings.Join(d.tail(10), "\n"))
			}
			b, err := os.ReadFile(filepath.Join(d.dir, "executor.port"))
			if err != nil {
				return false, nil
			}
			p, err := strconv.Atoi(strings.TrimSpace(string(b)))
			return err == nil && p > 0, nil
		}); err != nil {
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

// stop ends every daemon: SIGTERM, then SIGKILL after 15 seconds.
func (c *cluster) stop(ctx context.Context) {
	c.stopOnce.Do(func() {
		all := append([]*daemon{}, c.executors...)
		if c.web != nil {
			all = append(all, c.web)
		}
		for _, d := range all {
			d.signal(syscall.SIGTERM)
		}
		allDone := make(chan struct{})
		go func() {
			for _, d := range all {
				<-d.done
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
			d.signal(syscall.SIGKILL)
		}
		<-allDone
	})
}

// dumpLogs writes the last n lines of every daemon's log to w.
func (c *cluster) dumpLogs(w io.Writer, n int) {
	all := append([]*daemon{}, c.executors...)
	if c.web != nil {
		all = append([]*daemon{c.web}, all...)
	}
	for _, d := range all {
		fmt.Fprintf(w, "--- last lines of %s (%s) ---\n", d.name, d.logPath)
		for _, l := range d.tail(n) {
			fmt.Fprintln(w, l)
		}
	}
}

// waitUntil polls cond every 20ms until it holds, fails, or timeout passes.
func waitUntil(ctx context.Context, timeout time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", timeout, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
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
