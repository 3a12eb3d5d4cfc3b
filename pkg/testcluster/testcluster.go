// Package testcluster starts real crawlctl processes for end-to-end tests: it
// builds the binary once per test process (the daemons' copy with the race
// detector), then gives each test a fresh migrated database, a web server and
// executors on free loopback ports with short timers (or the daemons' own
// defaults), and a way to run the CLI against them. Everything is stopped
// and removed by t.Cleanup, and a data race reported by any daemon fails the
// test that started it.
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

// buildBinary builds ./cmd/crawlctl into a new temp directory with extra
// go build flags.
func buildBinary(flags ...string) (string, error) {
	dir, err := os.MkdirTemp("", "crawlctl-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "crawlctl")
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	args := append(append([]string{"build"}, flags...), "-o", bin, "./cmd/crawlctl")
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin, nil
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error

	raceOnce sync.Once
	racePath string
	raceErr  error
	raceTook time.Duration
)

// Binary builds crawlctl once and returns its path. The CLI runs from this
// build; the daemons from DaemonBinary.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() { binPath, buildErr = buildBinary() })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// RaceEnabled reports whether daemons run from a -race build: always,
// unless CRAWLCTL_E2E_RACE=0 (for a quick local run on a machine without
// cgo).
func RaceEnabled() bool { return os.Getenv("CRAWLCTL_E2E_RACE") != "0" }

// DaemonBinary builds crawlctl with the race detector once and returns its
// path (the plain Binary when RaceEnabled is false). Every web server and
// executor a Cluster starts runs from it.
func DaemonBinary(t testing.TB) string {
	t.Helper()
	if !RaceEnabled() {
		return Binary(t)
	}
	raceOnce.Do(func() {
		start := time.Now()
		racePath, raceErr = buildBinary("-race")
		raceTook = time.Since(start)
		t.Logf("built the daemons with -race in %s", raceTook.Round(100*time.Millisecond))
		if raceErr != nil {
			raceErr = fmt.Errorf("%v\nthe daemons of end-to-end tests are built with -race, which needs cgo and a C compiler; set CRAWLCTL_E2E_RACE=0 to run them without", raceErr)
		}
	})
	if raceErr != nil {
		t.Fatal(raceErr)
	}
	return racePath
}

// RaceBuildTime is how long the -race build of the daemons took (0 before
// it ran or when it was not needed).
func RaceBuildTime() time.Duration { return raceTook }

// raceEnv makes race reports visible and complete, and exits without the
// race runtime's default one-second pause. A GORACE already set is kept
// and wins (later options override earlier ones).
func raceEnv() []string {
	v := "atexit_sleep_ms=0 history_size=2 halt_on_error=0"
	if cur := os.Getenv("GORACE"); cur != "" {
		v += " " + cur
	}
	return []string{"GORACE=" + v}
}

// Cluster is one test's database and processes.
type Cluster struct {
	t testing.TB
	// Bin is the crawlctl the CLI runs from; DaemonBin the one web servers
	// and executors run from (built with -race).
	Bin       string
	DaemonBin string
	DSN       string
	Dir       string
	// Offline is the web servers' --offline-after (the daemon's default,
	// 30s, with ProductionTimers).
	Offline time.Duration
	// Claim is the web servers' --claim-timeout.
	Claim time.Duration
	// Production is Options.ProductionTimers.
	Production bool
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
	procs      []*Proc // every daemon, in start order
}

// Default short timers of a cluster. An executor's lease is 2/3 of the
// offline threshold: with 500ms heartbeats, 4s leaves a lease of 2.67s, more
// than five heartbeats, so a daemon slowed by the race detector on a loaded
// machine does not lose it by accident.
const (
	DefaultOfflineAfter = 4 * time.Second
	DefaultClaimTimeout = 3 * time.Second
	DefaultHeartbeat    = 500 * time.Millisecond
	DefaultPoll         = 500 * time.Millisecond
	DefaultDispatchPoll = 200 * time.Millisecond
	// DefaultDrainTimeout keeps the cleanup of a test quick.
	DefaultDrainTimeout = 5 * time.Second
)

// The daemons' own defaults (crawlctl web serve / executor serve), in force
// with Options.ProductionTimers.
const (
	ProductionOfflineAfter = 30 * time.Second
	ProductionClaimTimeout = 15 * time.Second
	ProductionHeartbeat    = 5 * time.Second
	ProductionPoll         = time.Second
)

// Options tunes a cluster.
type Options struct {
	Dialect      string        // "mysql" (default) or "sqlite"
	OfflineAfter time.Duration // default DefaultOfflineAfter
	ClaimTimeout time.Duration // default DefaultClaimTimeout
	// ProductionTimers starts the daemons with their own default timers:
	// no --heartbeat, --poll, --offline-after, --claim-timeout or
	// --dispatch-poll (OfflineAfter and ClaimTimeout must be zero). Only
	// --drain-timeout stays short, which matters only when a test ends.
	ProductionTimers bool
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
	if o.ProductionTimers {
		if o.OfflineAfter != 0 || o.ClaimTimeout != 0 {
			t.Fatal("testcluster: ProductionTimers runs the daemons' default timers; leave OfflineAfter and ClaimTimeout zero")
		}
		o.OfflineAfter, o.ClaimTimeout = ProductionOfflineAfter, ProductionClaimTimeout
	}
	if o.OfflineAfter == 0 {
		o.OfflineAfter = DefaultOfflineAfter
	}
	if o.ClaimTimeout == 0 {
		o.ClaimTimeout = DefaultClaimTimeout
	}
	c := &Cluster{t: t, Bin: Binary(t), DaemonBin: DaemonBinary(t), DSN: storetest.NewMigratedDSN(t, o.Dialect), Dir: t.TempDir(),
		Offline: o.OfflineAfter, Claim: o.ClaimTimeout, Production: o.ProductionTimers, insecure: o.Insecure}
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
	c.mu.Lock()
	c.procs = append(c.procs, p)
	c.mu.Unlock()
	c.t.Cleanup(func() {
		c.stop(p)
		if reports := RaceReports(p.Log.String()); len(reports) > 0 {
			c.t.Errorf("%s reported %d data race(s):\n%s", p.Name, len(reports), strings.Join(limit(reports, 5), "\n"))
		}
		if c.t.Failed() {
			c.t.Logf("--- log of %s ---\n%s", p.Name, p.Log.String())
		}
	})
	return p
}

// StopAll stops every daemon of the cluster, the last started first, as
// the cleanup would (a test that checks what outlives the daemons calls it
// first).
func (c *Cluster) StopAll() {
	c.mu.Lock()
	procs := append([]*Proc(nil), c.procs...)
	c.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		c.stop(procs[i])
	}
}

// stop ends p: SIGCONT (a test may have frozen it), SIGTERM, and SIGKILL if
// it has not exited 15s later.
func (c *Cluster) stop(p *Proc) {
	select {
	case <-p.done:
		return
	default:
	}
	p.Signal(syscall.SIGCONT)
	p.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		c.t.Logf("%s did not exit 15s after SIGTERM; killing it", p.Name)
		p.Signal(syscall.SIGKILL)
		<-p.done
	}
}

// RaceReports returns each "WARNING: DATA RACE" report in a process's
// output, with the lines that belong to it.
func RaceReports(log string) []string {
	const sep = "=================="
	var out []string
	for {
		i := strings.Index(log, "WARNING: DATA RACE")
		if i < 0 {
			return out
		}
		start := strings.LastIndex(log[:i], sep)
		if start < 0 || strings.Count(log[start:i], "\n") > 1 {
			start = i
		}
		rest := log[i:]
		end := strings.Index(rest, sep)
		if end < 0 {
			end = len(rest)
		} else {
			end += len(sep)
		}
		out = append(out, log[start:i]+rest[:end])
		log = rest[end:]
	}
}

func limit(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("... and %d more", len(s)-n))
	}
	return s
}

func (c *Cluster) launch(p *Proc) {
	cmd := exec.Command(c.DaemonBin, p.args...)
	cmd.Dir = p.Dir
	cmd.Env = append(append(append(append(os.Environ(), "CRAWLCTL_LOG_FORMAT=json", "CRAWLCTL_LOG_LEVEL=debug"), raceEnv()...), c.Env()...), p.env...)
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
	args := []string{"web", "serve", "--db", c.DSN, "--listen", addr}
	if !c.Production {
		args = append(args, "--offline-after", c.Offline.String(), "--claim-timeout", c.Claim.String(), "--dispatch-poll", DefaultDispatchPoll.String())
	}
	args = append(append(args, c.authArgs()...), extra...)
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
// its own directory and waits for its port file. Later flags in extra win
// (e.g. "--host", "127.0.0.2" to advertise another address than it binds).
func (c *Cluster) StartExecutor(name string, extra ...string) *Proc {
	c.t.Helper()
	return c.StartExecutorWith(name, ExecutorOptions{}, extra...)
}

// ExecutorOptions change how StartExecutorWith starts an executor.
type ExecutorOptions struct {
	// Env is added to the executor's environment.
	Env []string
	// NoDBFlag and NoSecretFlag leave out --db and --cluster-secret-file:
	// the test gives them another way (CRAWLCTL_DB or --db-file,
	// CRAWLCTL_CLUSTER_SECRET).
	NoDBFlag, NoSecretFlag bool
}

// StartExecutorWith is StartExecutor with options.
func (c *Cluster) StartExecutorWith(name string, o ExecutorOptions, extra ...string) *Proc {
	c.t.Helper()
	dir := filepath.Join(c.Dir, name)
	args := []string{"executor", "serve", "--host", "127.0.0.1", "--bind", "127.0.0.1", "--port", "0", "--name", name,
		"--drain-timeout", DefaultDrainTimeout.String()}
	if !o.NoDBFlag {
		args = append(args, "--db", c.DSN)
	}
	if !c.Production {
		args = append(args, "--heartbeat", DefaultHeartbeat.String(), "--poll", DefaultPoll.String())
	}
	if !o.NoSecretFlag {
		args = append(args, c.authArgs()...)
	}
	args = append(args, extra...)
	p := c.start(name, dir, o.Env, args...)
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
