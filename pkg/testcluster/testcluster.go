// Package testcluster starts real crawlctl processes for end-to-end tests: it
// builds the binary once per test process, then gives each test a fresh
// migrated database, a web server and executors on free loopback ports with
// short timers, and a way to run the CLI against them. Everything is stopped
// and removed by t.Cleanup.
package testcluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/store/storetest"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds crawlctl once and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "crawlctl-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "crawlctl")
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/crawlctl")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// Cluster is one test's database and processes.
type Cluster struct {
	t       testing.TB
	Bin     string
	DSN     string
	Dir     string
	Offline time.Duration
	// Token is an admin's API token; SecretFile holds the cluster secret
	// (both empty with Options.Insecure).
	Token      string
	Secret     string
	SecretFile string
	insecure   bool
	scheme     string // "" = http
	caFile     string
	mu         sync.Mutex
	webs       []*Proc
}

// Options tunes a cluster.
type Options struct {
	Dialect      string        // "mysql" (default) or "sqlite"
	OfflineAfter time.Duration // default 2s
	ClaimTimeout time.Duration // default 3s
	// Insecure starts the daemons with --insecure instead of creating an
	// admin and a cluster secret.
	Insecure bool
}

// New makes a fresh migrated database and an empty cluster around it.
func New(t testing.TB, o Options) *Cluster {
	t.Helper()
	if o.Dialect == "" {
		o.Dialect = "mysql"
	}
	if o.OfflineAfter == 0 {
		o.OfflineAfter = 2 * time.Second
	}
	c := &Cluster{t: t, Bin: Binary(t), DSN: storetest.NewMigratedDSN(t, o.Dialect), Dir: t.TempDir(), Offline: o.OfflineAfter, insecure: o.Insecure}
	if err := os.MkdirAll(filepath.Join(c.Dir, "config"), 0o700); err != nil {
		t.Fatal(err)
	}
	if !o.Insecure {
		c.Secret = "test-cluster-secret-" + strconv.FormatInt(time.Now().UnixNano(), 36)
		c.SecretFile = filepath.Join(c.Dir, "cluster.secret")
		if err := os.WriteFile(c.SecretFile, []byte(c.Secret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(c.Bin, "user", "add", "admin", "--role", "admin", "--db", c.DSN, "-o", "json").CombinedOutput()
		if err != nil {
			t.Fatalf("create the admin: %v\n%s", err, out)
		}
		var res struct{ Token string }
		if err := json.Unmarshal(out, &res); err != nil || res.Token == "" {
			t.Fatalf("user add printed %q", out)
		}
		c.Token = res.Token
	}
	return c
}

// authArgs are the daemon flags for this cluster's security setting.
func (c *Cluster) authArgs() []string {
	if c.insecure {
		return []string{"--insecure"}
	}
	return []string{"--cluster-secret-file", c.SecretFile}
}

// Env is the environment every process of the cluster gets: a private
// config directory (token file) and, for the CLI, the admin token.
func (c *Cluster) Env() []string {
	env := []string{"XDG_CONFIG_HOME=" + filepath.Join(c.Dir, "config")}
	if c.Token != "" {
		env = append(env, "CRAWLCTL_TOKEN="+c.Token)
	}
	return env
}

// Proc is a running crawlctl daemon.
type Proc struct {
	Name string
	Dir  string
	Cmd  *exec.Cmd
	Log  *syncBuffer
	Addr string // web: host:port; executor: 127.0.0.1:port once known
	done chan struct{}
	err  error
	args []string
	env  []string
}

// Done is closed when the process exits.
func (p *Proc) Done() <-chan struct{} { return p.done }

// ExitCode is the exit code once Done is closed (-1 for a signal death).
func (p *Proc) ExitCode() int {
	<-p.done
	if p.Cmd.ProcessState == nil {
		return -1
	}
	return p.Cmd.ProcessState.ExitCode()
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig syscall.Signal) { _ = p.Cmd.Process.Signal(sig) }

func (c *Cluster) start(name, dir string, env []string, args ...string) *Proc {
	c.t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		c.t.Fatal(err)
	}
	p := &Proc{Name: name, Dir: dir, Log: &syncBuffer{}, done: make(chan struct{}), args: args, env: env}
	c.launch(p)
	c.t.Cleanup(func() {
		select {
		case <-p.done:
			return
		default:
		}
		p.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			p.Signal(syscall.SIGKILL)
			<-p.done
		}
		if c.t.Failed() {
			c.t.Logf("--- log of %s ---\n%s", p.Name, p.Log.String())
		}
	})
	return p
}

func (c *Cluster) launch(p *Proc) {
	cmd := exec.Command(c.Bin, p.args...)
	cmd.Dir = p.Dir
	cmd.Env = append(append(append(os.Environ(), "CRAWLCTL_LOG_FORMAT=json", "CRAWLCTL_LOG_LEVEL=debug"), c.Env()...), p.env...)
	cmd.Stdout, cmd.Stderr = p.Log, p.Log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("start %s: %v", p.Name, err)
	}
	p.Cmd, p.done = cmd, make(chan struct{})
	go func(done chan struct{}) { p.err = cmd.Wait(); close(done) }(p.done)
}

// Restart starts an exited process again with the same arguments plus extra
// (a later flag wins, e.g. "--port", "12345" to come back on the same port).
func (c *Cluster) Restart(p *Proc, extra ...string) {
	c.t.Helper()
	<-p.done
	p.args = append(p.args, extra...)
	c.launch(p)
}

// FreePort asks the OS for a free loopback port.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// StartWebTLS starts a web server serving HTTPS with cert and key; the
// cluster's CLI calls then use https (trusting CRAWLCTL_CA_CERT).
func (c *Cluster) StartWebTLS(cert, key string, extra ...string) *Proc {
	c.t.Helper()
	c.scheme = "https"
	c.caFile = cert
	return c.StartWeb(append([]string{"--tls-cert", cert, "--tls-key", key}, extra...)...)
}

// StartWeb starts a web server and waits until it is ready.
func (c *Cluster) StartWeb(extra ...string) *Proc {
	c.t.Helper()
	c.mu.Lock()
	n := len(c.webs) + 1
	c.mu.Unlock()
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(c.t))
	args := append(append([]string{"web", "serve", "--db", c.DSN, "--listen", addr, "--offline-after", c.Offline.String(),
		"--claim-timeout", "3s", "--dispatch-poll", "200ms"}, c.authArgs()...), extra...)
	p := c.start(fmt.Sprintf("web-%d", n), filepath.Join(c.Dir, fmt.Sprintf("web-%d", n)), nil, args...)
	p.Addr = addr
	c.mu.Lock()
	c.webs = append(c.webs, p)
	c.mu.Unlock()
	c.WaitFor(20*time.Second, "web server "+addr+" ready", func() (bool, string) {
		select {
		case <-p.done:
			c.t.Fatalf("web server exited: %s", p.Log.String())
		default:
		}
		resp, err := c.httpClient().Get(c.scheme0() + "://" + addr + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	return p
}

// Server is the first web server's URL.
func (c *Cluster) Server() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.webs) == 0 {
		c.t.Fatal("no web server started")
	}
	return c.scheme0() + "://" + c.webs[0].Addr
}

func (c *Cluster) scheme0() string {
	if c.scheme == "" {
		return "http"
	}
	return c.scheme
}

// httpClient trusts the cluster's test CA, if any.
func (c *Cluster) httpClient() *http.Client {
	if c.caFile == "" {
		return http.DefaultClient
	}
	pem, err := os.ReadFile(c.caFile)
	if err != nil {
		c.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// StartExecutor starts an executor named name on a free port (--port 0) in
// its own directory and waits for its port file.
func (c *Cluster) StartExecutor(name string, extra ...string) *Proc {
	c.t.Helper()
	dir := filepath.Join(c.Dir, name)
	args := append(append([]string{"executor", "serve", "--db", c.DSN, "--host", "127.0.0.1", "--bind", "127.0.0.1", "--port", "0", "--name", name,
		"--heartbeat", "500ms", "--poll", "500ms", "--drain-timeout", "5s"}, c.authArgs()...), extra...)
	p := c.start(name, dir, nil, args...)
	c.WaitExecutorPort(p)
	return p
}

// WaitExecutorPort waits until the executor's port file exists and sets Addr.
func (c *Cluster) WaitExecutorPort(p *Proc) int {
	c.t.Helper()
	var port int
	c.WaitFor(20*time.Second, p.Name+" port file", func() (bool, string) {
		select {
		case <-p.done:
			c.t.Fatalf("%s exited: %s", p.Name, p.Log.String())
		default:
		}
		b, err := os.ReadFile(filepath.Join(p.Dir, "executor.port"))
		if err != nil {
			return false, err.Error()
		}
		port, err = strconv.Atoi(string(b))
		return err == nil && port > 0, string(b)
	})
	p.Addr = fmt.Sprintf("127.0.0.1:%d", port)
	return port
}

// Result is a finished CLI run.
type Result struct {
	Code           int
	Stdout, Stderr string
}

// CLI runs crawlctl against the first web server.
func (c *Cluster) CLI(args ...string) Result {
	c.t.Helper()
	return c.CLIEnv(nil, args...)
}

// CLIEnv runs crawlctl with extra environment variables.
func (c *Cluster) CLIEnv(env []string, args ...string) Result {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Bin, args...)
	cmd.Dir = c.Dir
	cmd.Env = append(append(append(os.Environ(), "CRAWLCTL_SERVER="+c.Server()), c.Env()...), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("run crawlctl %v: %v", args, err)
	}
	return Result{Code: code, Stdout: out.String(), Stderr: errb.String()}
}

// MustCLI runs crawlctl and fails the test unless it exits 0.
func (c *Cluster) MustCLI(args ...string) string {
	c.t.Helper()
	r := c.CLI(args...)
	if r.Code != 0 {
		c.t.Fatalf("crawlctl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// JSON runs crawlctl with -o json and decodes its output into v.
func (c *Cluster) JSON(v any, args ...string) {
	c.t.Helper()
	out := c.MustCLI(append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		c.t.Fatalf("crawlctl %v: bad JSON %v: %s", args, err, out)
	}
}

// WaitFor polls cond every 50ms until it holds or timeout passes; then the
// test fails with the last thing cond saw.
func (c *Cluster) WaitFor(timeout time.Duration, what string, cond func() (bool, string)) {
	c.t.Helper()
	WaitFor(c.t, timeout, what, cond)
}

// WaitFor polls cond until it holds or fails the test with what it saw last.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, seen := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last seen: %s", timeout, what, seen)
		}
		<-tick.C
	}
}

// Get fetches an HTTP URL and returns status and body.
func Get(t testing.TB, url string) (int, string) {
	t.Helper()
	return Do(t, http.MethodGet, url, "", nil)
}

// Do sends a request with an optional bearer token and body.
func Do(t testing.TB, method, url, bearer string, body io.Reader) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// GroupAlive reports whether process group pgid has a live member. Zombies
// do not count: a killed orphan stays one until PID 1 reaps it, which some
// container inits never do.
func GroupAlive(pgid int) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return syscall.Kill(-pgid, 0) == nil
	}
	for _, e := range entries {
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" && f[0] != "X" {
			return true
		}
	}
	return false
}

// syncBuffer is a goroutine-safe bytes.Buffer for process output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
