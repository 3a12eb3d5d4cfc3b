// Package testcluster starts real crawlctl processes: it is the one harness
// of the end-to-end tests, the deployment tests and the benchmark.
//
// Core (core.go) needs no test: given a binary, a migrated database and a
// directory it writes a cluster secret, creates an admin and starts web
// servers and executors on free loopback ports with the timers, labels,
// TLS and flags of its Config, returning errors. The benchmark
// (pkg/bench) runs on it outside `go test`.
//
// Cluster wraps a Core for a test: New(t, func(o *Options) {...}) builds
// the binary once per test process (the daemons' copy with the race
// detector), makes a fresh migrated database and starts what Options ask
// for; Client gives a REST client authenticated as the admin, CLI runs the
// command line. Everything is stopped and removed by t.Cleanup, and a data
// race reported by any daemon fails the test that started it.
package testcluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/client"
	"github.com/crawlctl/crawlctl/pkg/internal/procstat"
	"github.com/crawlctl/crawlctl/pkg/internal/store/storetest"
	"github.com/crawlctl/crawlctl/pkg/internal/testcluster/harness"
)

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
	buildOnce.Do(func() { binPath, buildErr = harness.BuildBinary(context.Background()) })
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
		racePath, raceErr = harness.BuildBinary(context.Background(), "-race")
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

// Aliases of package harness, which holds what needs no test.
type (
	// Proc is a running crawlctl daemon.
	Proc = harness.Proc
	// Timers are the daemons' timer flags (a zero field is not passed).
	Timers = harness.Timers
	// ExecutorOptions change how StartExecutorWith starts an executor.
	ExecutorOptions = harness.ExecutorOptions
)

var (
	// ShortTimers, the default, make heartbeats, offline detection and
	// dispatch fast (see harness.DefaultOfflineAfter and its neighbours).
	ShortTimers = harness.ShortTimers
	// ProductionTimers run the daemons with their own default timers; only
	// --drain-timeout stays short, which matters only when a test ends.
	ProductionTimers = harness.ProductionTimers
)

// Options tune a cluster; New calls its callbacks on the defaults.
type Options struct {
	// Dialect of the fresh database New makes: "mysql" (the default: a new
	// database on the server of CRAWLCTL_TEST_MYSQL_DSN, see storetest) or
	// "sqlite".
	Dialect string
	// DSN, when set, is a migrated database to use instead of a fresh one.
	DSN string
	// Timers default to ShortTimers; ProductionTimers runs the daemons'
	// own defaults. Change single fields on the default, e.g.
	// o.Timers.OfflineAfter = 3 * time.Second.
	Timers Timers
	// Webs is how many web servers New starts (default 0, or 1 when it
	// starts executors); more start with StartWeb.
	Webs int
	// Executors is how many executors New starts after the web servers,
	// named exec-1, exec-2, ... unless ExecutorNames names them (then
	// Executors may stay 0). Default none: they start with StartExecutor.
	Executors     int
	ExecutorNames []string
	// Activate activates the executors New starts (see Cluster.Activate).
	Activate bool
	// Labels are given to every executor (--label k=v).
	Labels map[string]string
	// Secret is the cluster secret (default: a random one). Insecure
	// starts the daemons with --insecure instead, with no secret and no
	// admin.
	Secret   string
	Insecure bool
	// TLS makes every web server and executor serve HTTPS with a fresh
	// self-signed certificate, which web servers, the CLI and Client
	// trust.
	TLS bool
	// WebFlags and ExecutorFlags are appended to every web server's and
	// executor's flags (they override the harness's own).
	WebFlags, ExecutorFlags []string
}

// Cluster is one test's database and processes: a Core whose failures fail
// the test, whose daemons stop when the test ends and whose data races
// fail it.
type Cluster struct {
	*harness.Core
	t       testing.TB
	clients sync.Map // *Proc -> *client.Client
}

// New makes a fresh migrated database and a cluster around it, configured
// by the callbacks, e.g.
//
//	c := testcluster.New(t, func(o *testcluster.Options) {
//		o.Executors = 2
//		o.Timers = testcluster.ProductionTimers
//	})
func New(t testing.TB, configure ...func(*Options)) *Cluster {
	t.Helper()
	o := Options{Dialect: "mysql", Timers: ShortTimers}
	for _, f := range configure {
		f(&o)
	}
	names := o.ExecutorNames
	for i := len(names); i < o.Executors; i++ {
		names = append(names, fmt.Sprintf("exec-%d", i+1))
	}
	if len(names) > 0 && o.Webs == 0 {
		o.Webs = 1
	}
	dsn := o.DSN
	if dsn == "" {
		dsn = storetest.NewMigratedDSN(t, o.Dialect)
	}
	cfg := harness.Config{Bin: Binary(t), DaemonBin: DaemonBinary(t), DSN: dsn, Dir: t.TempDir(), Timers: o.Timers,
		Secret: o.Secret, Labels: o.Labels, WebFlags: o.WebFlags, ExecutorFlags: o.ExecutorFlags,
		Env: append([]string{"CRAWLCTL_LOG_FORMAT=json", "CRAWLCTL_LOG_LEVEL=debug"}, raceEnv()...), Logf: t.Logf}
	if o.Insecure {
		cfg.Auth = harness.AuthInsecure
	}
	if o.TLS {
		var err error
		if cfg.TLSCert, cfg.TLSKey, err = harness.WriteSelfSignedCert(t.TempDir()); err != nil {
			t.Fatal(err)
		}
	}
	core, err := harness.NewCore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{Core: core, t: t}
	for range o.Webs {
		c.StartWeb()
	}
	for _, n := range names {
		c.StartExecutor(n)
	}
	if o.Activate {
		c.Activate(names...)
	}
	return c
}

// Activate activates the executors named through Client, as `crawlctl
// executor activate NAME...` does.
func (c *Cluster) Activate(names ...string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, n := range names {
		if _, err := c.Client().SetActive(ctx, n, true); err != nil {
			c.t.Fatalf("activate %s: %v", n, err)
		}
	}
}

// T is the test the cluster belongs to.
func (c *Cluster) T() testing.TB { return c.t }

// watch stops p when the test ends, fails the test on a data race in its
// output and shows its log when the test failed.
func (c *Cluster) watch(p *Proc) {
	c.t.Cleanup(func() {
		c.Stop(p, 15*time.Second)
		if reports := RaceReports(p.Log.String()); len(reports) > 0 {
			c.t.Errorf("%s reported %d data race(s):\n%s", p.Name, len(reports), strings.Join(limit(reports, 5), "\n"))
		}
		if c.t.Failed() {
			c.t.Logf("--- log of %s ---\n%s", p.Name, p.Log.String())
		}
	})
}

// StopAll stops every daemon of the cluster, the last started first, as
// the cleanup would (a test that checks what outlives the daemons calls it
// first).
func (c *Cluster) StopAll() { c.Core.StopAll(15 * time.Second) }

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

// Restart starts an exited process again with the same arguments plus extra
// (a later flag wins, e.g. "--port", "12345" to come back on the same port).
func (c *Cluster) Restart(p *Proc, extra ...string) {
	c.t.Helper()
	if err := c.Core.Restart(p, extra...); err != nil {
		c.t.Fatal(err)
	}
}

// FreePort asks the OS for a free loopback port.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := harness.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// StartWeb starts a web server and waits until it is ready.
func (c *Cluster) StartWeb(extra ...string) *Proc {
	c.t.Helper()
	p, err := c.Core.StartWeb(context.Background(), extra...)
	if p != nil {
		c.watch(p)
	}
	if err != nil {
		c.t.Fatal(err)
	}
	return p
}

// Server is the first web server's URL.
func (c *Cluster) Server() string {
	c.t.Helper()
	webs := c.Webs()
	if len(webs) == 0 {
		c.t.Fatal("no web server started")
	}
	return c.URL(webs[0])
}

// Client is a REST client (the CLI's) of the first web server,
// authenticated as the admin.
func (c *Cluster) Client() *client.Client {
	c.t.Helper()
	webs := c.Webs()
	if len(webs) == 0 {
		c.t.Fatal("no web server started")
	}
	return c.ClientOf(webs[0])
}

// ClientOf is a REST client of web server p, authenticated as the admin.
func (c *Cluster) ClientOf(p *Proc) *client.Client {
	c.t.Helper()
	if cl, ok := c.clients.Load(p); ok {
		return cl.(*client.Client)
	}
	cl, err := c.Core.ClientOf(p)
	if err != nil {
		c.t.Fatal(err)
	}
	got, _ := c.clients.LoadOrStore(p, cl)
	return got.(*client.Client)
}

// Read calls the first web server through Client and decodes what call
// returns into v by way of JSON: the shape `crawlctl ... -o json` prints
// for the same call. It fails the test on an error.
func (c *Cluster) Read(v any, call func(ctx context.Context, cl *client.Client) (any, error)) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := call(ctx, c.Client())
	if err != nil {
		c.t.Fatalf("%s: %v", c.Server(), err)
	}
	b, err := json.Marshal(res)
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		c.t.Fatalf("decode %T into %T: %v", res, v, err)
	}
}

// StartExecutor starts an executor named name on a free port (--port 0) in
// its own directory and waits for its port file. Later flags in extra win
// (e.g. "--host", "127.0.0.2" to advertise another address than it binds).
func (c *Cluster) StartExecutor(name string, extra ...string) *Proc {
	c.t.Helper()
	return c.StartExecutorWith(name, ExecutorOptions{}, extra...)
}

// StartExecutorWith is StartExecutor with options.
func (c *Cluster) StartExecutorWith(name string, o ExecutorOptions, extra ...string) *Proc {
	c.t.Helper()
	p, err := c.Core.StartExecutorWith(context.Background(), name, o, extra...)
	if p != nil {
		c.watch(p)
	}
	if err != nil {
		c.t.Fatal(err)
	}
	return p
}

// WaitExecutorPort waits until the executor's port file exists and sets Addr.
func (c *Cluster) WaitExecutorPort(p *Proc) int {
	c.t.Helper()
	port, err := c.Core.WaitExecutorPort(context.Background(), p)
	if err != nil {
		c.t.Fatal(err)
	}
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

// GroupAlive reports whether process group pgid has a live member (see
// package procstat).
func GroupAlive(pgid int) bool { return procstat.GroupAlive(pgid) }
