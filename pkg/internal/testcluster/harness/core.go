// Package harness starts crawlctl daemons without a test: the part of
// package testcluster that needs no *testing.T, so that the benchmark
// (pkg/bench, run by cmd/crawlbench outside `go test`) starts its cluster
// the way the end-to-end tests do. Given a crawlctl binary, a migrated
// database and a directory, a Core writes a cluster secret, creates an
// admin, and starts web servers and executors on free loopback ports with
// the timers, labels, TLS and flags of its Config; every method returns its
// errors. testcluster.Cluster wraps a Core for tests.
package harness

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/crawlctl/crawlctl/pkg/client"
)

// Timers are the daemons' timer flags. A zero field is not passed: the
// daemon's own default holds.
type Timers struct {
	OfflineAfter time.Duration // web serve --offline-after (default 30s)
	ClaimTimeout time.Duration // web serve --claim-timeout (default 15s)
	DispatchPoll time.Duration // web serve --dispatch-poll
	Heartbeat    time.Duration // executor serve --heartbeat (default 5s)
	Poll         time.Duration // executor serve --poll (default 1s)
	DrainTimeout time.Duration // executor serve --drain-timeout
}

// The daemons' own defaults (crawlctl web serve / executor serve), in force
// for a zero Timers field.
const (
	ProductionOfflineAfter = 30 * time.Second
	ProductionClaimTimeout = 15 * time.Second
	ProductionHeartbeat    = 5 * time.Second
	ProductionPoll         = time.Second
)

// Default short timers of a test cluster. An executor's lease is 2/3 of the
// offline threshold: with 500ms heartbeats, 4s leaves a lease of 2.67s, more
// than five heartbeats, so a daemon slowed by the race detector on a loaded
// machine does not lose it by accident.
const (
	DefaultOfflineAfter = 4 * time.Second
	DefaultClaimTimeout = 3 * time.Second
	DefaultHeartbeat    = 500 * time.Millisecond
	DefaultPoll         = 500 * time.Millisecond
	DefaultDispatchPoll = 200 * time.Millisecond
	// DefaultDrainTimeout keeps the end of a test quick.
	DefaultDrainTimeout = 5 * time.Second
)

var (
	// ShortTimers, the default of a test cluster, make heartbeats, offline
	// detection and dispatch fast.
	ShortTimers = Timers{OfflineAfter: DefaultOfflineAfter, ClaimTimeout: DefaultClaimTimeout, DispatchPoll: DefaultDispatchPoll,
		Heartbeat: DefaultHeartbeat, Poll: DefaultPoll, DrainTimeout: DefaultDrainTimeout}
	// ProductionTimers run the daemons with their own default timers: no
	// --heartbeat, --poll, --offline-after, --claim-timeout or
	// --dispatch-poll. Only --drain-timeout stays short, which matters only
	// when a cluster stops.
	ProductionTimers = Timers{DrainTimeout: DefaultDrainTimeout}
)

// offlineAfter is the web servers' effective --offline-after.
func (tm Timers) offlineAfter() time.Duration {
	if tm.OfflineAfter == 0 {
		return ProductionOfflineAfter
	}
	return tm.OfflineAfter
}

func (tm Timers) claimTimeout() time.Duration {
	if tm.ClaimTimeout == 0 {
		return ProductionClaimTimeout
	}
	return tm.ClaimTimeout
}

func durationFlags(pairs ...any) []string {
	var out []string
	for i := 0; i < len(pairs); i += 2 {
		if d := pairs[i+1].(time.Duration); d != 0 {
			out = append(out, pairs[i].(string), d.String())
		}
	}
	return out
}

func (tm Timers) webFlags() []string {
	return durationFlags("--offline-after", tm.OfflineAfter, "--claim-timeout", tm.ClaimTimeout, "--dispatch-poll", tm.DispatchPoll)
}

func (tm Timers) executorFlags() []string {
	return durationFlags("--drain-timeout", tm.DrainTimeout, "--heartbeat", tm.Heartbeat, "--poll", tm.Poll)
}

// Auth is how the daemons authenticate each other and the CLI.
type Auth int

const (
	// AuthSecret (the default): a cluster secret in a file
	// (--cluster-secret-file) and an admin created in the database, whose
	// API token the cluster's clients use.
	AuthSecret Auth = iota
	// AuthInsecure: --insecure, no secret, no admin.
	AuthInsecure
	// AuthNone passes neither: for a crawlctl built before authentication.
	AuthNone
)

// Config is what a Core starts its daemons with. Bin, DSN and Dir are
// required; every other field has a working zero value.
type Config struct {
	Bin       string // crawlctl the CLI runs from (user add, the tests' CLI)
	DaemonBin string // crawlctl the daemons run from; default Bin
	DSN       string // a migrated database
	Dir       string // every daemon's directory, the config dir and the secret go here
	Timers    Timers // zero fields: the daemons' defaults
	Auth      Auth
	Secret    string // the cluster secret with AuthSecret; default random
	Admin     string // the admin created with AuthSecret; default "admin"
	// TLSCert and TLSKey, when set, make every web server and executor
	// serve HTTPS with them (web servers trust TLSCert for executors, and
	// so do the cluster's clients).
	TLSCert, TLSKey string
	// Labels are given to every executor (--label k=v).
	Labels map[string]string
	// WebFlags and ExecutorFlags are appended to every web server's and
	// executor's flags (a later flag wins, so they override the harness's).
	WebFlags, ExecutorFlags []string
	// Env is added to every daemon's environment, which is otherwise this
	// process's without any CRAWLCTL_* setting and with XDG_CONFIG_HOME
	// in Dir.
	Env []string
	// KillWithParent has the kernel kill the daemons should this process
	// die without stopping them (Linux).
	KillWithParent bool
	// LogFiles writes each daemon's output to DIR/NAME/NAME.log instead of
	// keeping it in memory.
	LogFiles bool
	// Logf, when set, is told what takes long (building, waiting).
	Logf func(format string, args ...any)
}

// Core is a database and the crawlctl daemons started on it, without a
// test: every method returns its errors.
type Core struct {
	cfg Config
	// Bin is the crawlctl the CLI runs from; DaemonBin the one web servers
	// and executors run from.
	Bin       string
	DaemonBin string
	DSN       string
	Dir       string
	// Offline is the web servers' --offline-after (the daemon's default,
	// 30s, when the timers leave it out); Claim their --claim-timeout.
	Offline time.Duration
	Claim   time.Duration
	// Token is an admin's API token; Secret the cluster secret, in
	// SecretFile (all empty unless Auth is AuthSecret).
	Token      string
	Secret     string
	SecretFile string

	mu    sync.Mutex
	webs  []*Proc
	execs []*Proc
	procs []*Proc // every daemon, in start order
}

// NewCore prepares Dir (config directory, cluster secret) and creates the
// admin; it starts nothing.
func NewCore(cfg Config) (*Core, error) {
	if cfg.Bin == "" || cfg.DSN == "" || cfg.Dir == "" {
		return nil, errors.New("testcluster: Config needs Bin, DSN and Dir")
	}
	if cfg.DaemonBin == "" {
		cfg.DaemonBin = cfg.Bin
	}
	if cfg.Admin == "" {
		cfg.Admin = "admin"
	}
	c := &Core{cfg: cfg, Bin: cfg.Bin, DaemonBin: cfg.DaemonBin, DSN: cfg.DSN, Dir: cfg.Dir,
		Offline: cfg.Timers.offlineAfter(), Claim: cfg.Timers.claimTimeout()}
	if err := os.MkdirAll(filepath.Join(c.Dir, "config"), 0o700); err != nil {
		return nil, err
	}
	if cfg.Auth != AuthSecret {
		return c, nil
	}
	c.Secret = cfg.Secret
	if c.Secret == "" {
		var b [24]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		c.Secret = "test-cluster-secret-" + hex.EncodeToString(b[:])
	}
	c.SecretFile = filepath.Join(c.Dir, "cluster.secret")
	if err := os.WriteFile(c.SecretFile, []byte(c.Secret+"\n"), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(c.Bin, "user", "add", cfg.Admin, "--role", "admin", "--db", c.DSN, "-o", "json")
	cmd.Env = c.daemonEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("create the admin: %v\n%s", err, out)
	}
	var res struct{ Token string }
	if err := json.Unmarshal(out, &res); err != nil || res.Token == "" {
		return nil, fmt.Errorf("crawlctl user add printed no token: %s", out)
	}
	c.Token = res.Token
	return c, nil
}

// Config is what the core was made with.
func (c *Core) Config() Config { return c.cfg }

// authArgs are the daemon flags for the cluster's security setting.
func (c *Core) authArgs() []string {
	switch c.cfg.Auth {
	case AuthInsecure:
		return []string{"--insecure"}
	case AuthSecret:
		return []string{"--cluster-secret-file", c.SecretFile}
	}
	return nil
}

// Env is the environment the cluster's CLI runs with on top of this
// process's: a private config directory (token file), the admin's token
// and the CA of a TLS cluster.
func (c *Core) Env() []string {
	env := []string{"XDG_CONFIG_HOME=" + filepath.Join(c.Dir, "config")}
	if c.Token != "" {
		env = append(env, "CRAWLCTL_TOKEN="+c.Token)
	}
	if c.cfg.TLSCert != "" {
		env = append(env, "CRAWLCTL_CA_CERT="+c.cfg.TLSCert)
	}
	return env
}

// CleanEnv is this process's environment without crawlctl settings (so
// nothing of the caller's own setup, nor a saved token, leaks into what runs
// with it) and with XDG_CONFIG_HOME set to configHome.
func CleanEnv(configHome string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CRAWLCTL_") && !strings.HasPrefix(kv, "XDG_CONFIG_HOME=") {
			env = append(env, kv)
		}
	}
	return append(env, "XDG_CONFIG_HOME="+configHome)
}

// daemonEnv is CleanEnv with the cluster's config directory, and Config.Env.
func (c *Core) daemonEnv() []string {
	return append(CleanEnv(filepath.Join(c.Dir, "config")), c.cfg.Env...)
}

func (c *Core) logf(format string, args ...any) {
	if c.cfg.Logf != nil {
		c.cfg.Logf(format, args...)
	}
}

// Proc is a running crawlctl daemon.
type Proc struct {
	Name string
	Dir  string
	Cmd  *exec.Cmd
	Log  *Output
	Addr string // web: host:port; executor: 127.0.0.1:port once known
	done chan struct{}
	err  error
	args []string
	env  []string // added to the daemons' environment for this one
}

// Done is closed when the process exits.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

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

// SignalGroup sends sig to the process's group (each daemon leads one;
// jobs run in groups of their own).
func (p *Proc) SignalGroup(sig syscall.Signal) {
	if !p.Exited() {
		_ = syscall.Kill(-p.Cmd.Process.Pid, sig)
	}
}

// Pid is the daemon's process id.
func (p *Proc) Pid() int { return p.Cmd.Process.Pid }

// Freeze stops the process with SIGSTOP (its jobs, in their own process
// groups, keep running); Thaw resumes it. The cluster's cleanup thaws a
// frozen process before it stops it.
func (p *Proc) Freeze() { p.Signal(syscall.SIGSTOP) }

// Thaw resumes a frozen process with SIGCONT.
func (p *Proc) Thaw() { p.Signal(syscall.SIGCONT) }

// Output is a daemon's output: in memory, or in a file with
// Config.LogFiles. It is safe for concurrent use.
type Output struct {
	mu   sync.Mutex
	b    bytes.Buffer
	f    *os.File
	Path string // the log file, "" in memory
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.f != nil {
		return o.f.Write(p)
	}
	return o.b.Write(p)
}

// String is everything written so far.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.Path != "" {
		b, _ := os.ReadFile(o.Path)
		return string(b)
	}
	return o.b.String()
}

// Tail is the last n lines.
func (o *Output) Tail(n int) []string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(o.String()))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return lines
}

func (o *Output) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.f != nil {
		o.f.Close()
		o.f = nil
	}
}

// Start runs the daemon binary with args as a process named name in dir
// (created), in a process group of its own, and records it for StopAll.
func (c *Core) Start(name, dir string, args ...string) (*Proc, error) {
	return c.start(name, dir, nil, args...)
}

func (c *Core) start(name, dir string, env []string, args ...string) (*Proc, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	p := &Proc{Name: name, Dir: dir, Log: &Output{}, args: args, env: env}
	if c.cfg.LogFiles {
		p.Log.Path = filepath.Join(dir, name+".log")
	}
	if err := c.launch(p); err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.procs = append(c.procs, p)
	c.mu.Unlock()
	return p, nil
}

func (c *Core) launch(p *Proc) error {
	if p.Log.Path != "" {
		f, err := os.OpenFile(p.Log.Path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		p.Log.f = f
	}
	cmd := exec.Command(c.DaemonBin, p.args...)
	cmd.Dir = p.Dir
	cmd.Env = append(c.daemonEnv(), p.env...)
	cmd.Stdout, cmd.Stderr = p.Log, p.Log
	cmd.SysProcAttr = sysProcAttr(c.cfg.KillWithParent)
	if err := cmd.Start(); err != nil {
		p.Log.close()
		return fmt.Errorf("start %s: %w", p.Name, err)
	}
	p.Cmd, p.done = cmd, make(chan struct{})
	go func(done chan struct{}) { p.err = cmd.Wait(); p.Log.close(); close(done) }(p.done)
	return nil
}

// Restart starts an exited process again with the same arguments plus extra
// (a later flag wins, e.g. "--port", "12345" to come back on the same port).
func (c *Core) Restart(p *Proc, extra ...string) error {
	<-p.done
	p.args = append(p.args, extra...)
	return c.launch(p)
}

// Procs is every daemon started, in start order.
func (c *Core) Procs() []*Proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Proc(nil), c.procs...)
}

// Stop ends p: SIGCONT (it may be frozen), SIGTERM, and SIGKILL if it has
// not exited grace later.
func (c *Core) Stop(p *Proc, grace time.Duration) {
	if p.Exited() {
		return
	}
	p.Signal(syscall.SIGCONT)
	p.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		c.logf("%s did not exit %s after SIGTERM; killing it", p.Name, grace)
		p.Signal(syscall.SIGKILL)
		<-p.done
	}
}

// StopAll stops every daemon, the last started first, each as Stop does.
func (c *Core) StopAll(grace time.Duration) {
	procs := c.Procs()
	for i := len(procs) - 1; i >= 0; i-- {
		c.Stop(procs[i], grace)
	}
}

// StartWeb starts a web server on a free port and waits until it is ready.
func (c *Core) StartWeb(ctx context.Context, extra ...string) (*Proc, error) {
	c.mu.Lock()
	n := len(c.webs) + 1
	c.mu.Unlock()
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args := append([]string{"web", "serve", "--db", c.DSN, "--listen", addr}, c.cfg.Timers.webFlags()...)
	if c.cfg.TLSCert != "" {
		args = append(args, "--tls-cert", c.cfg.TLSCert, "--tls-key", c.cfg.TLSKey, "--executor-ca-cert", c.cfg.TLSCert)
	}
	args = append(append(append(args, c.authArgs()...), c.cfg.WebFlags...), extra...)
	name := fmt.Sprintf("web-%d", n)
	p, err := c.Start(name, filepath.Join(c.Dir, name), args...)
	if err != nil {
		return nil, err
	}
	p.Addr = addr
	c.mu.Lock()
	c.webs = append(c.webs, p)
	c.mu.Unlock()
	hc, err := c.HTTPClient()
	if err != nil {
		return p, err
	}
	url := c.scheme() + "://" + addr + "/readyz"
	return p, WaitUntil(ctx, 30*time.Second, "web server "+addr+" ready", func() (bool, string, error) {
		if p.Exited() {
			return false, "", fmt.Errorf("web server exited: %s", strings.Join(p.Log.Tail(20), "\n"))
		}
		resp, err := hc.Get(url)
		if err != nil {
			return false, err.Error(), nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status, nil
	})
}

// StartExecutor starts an executor named name on a free port (--port 0) in
// its own directory and waits for its port file. Later flags in extra win
// (e.g. "--host", "127.0.0.2" to advertise another address than it binds).
func (c *Core) StartExecutor(ctx context.Context, name string, extra ...string) (*Proc, error) {
	return c.StartExecutorWith(ctx, name, ExecutorOptions{}, extra...)
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
func (c *Core) StartExecutorWith(ctx context.Context, name string, o ExecutorOptions, extra ...string) (*Proc, error) {
	args := []string{"executor", "serve", "--host", "127.0.0.1", "--bind", "127.0.0.1", "--port", "0", "--name", name}
	if !o.NoDBFlag {
		args = append(args, "--db", c.DSN)
	}
	args = append(args, c.cfg.Timers.executorFlags()...)
	if c.cfg.TLSCert != "" {
		args = append(args, "--tls-cert", c.cfg.TLSCert, "--tls-key", c.cfg.TLSKey)
	}
	for _, k := range sortedKeys(c.cfg.Labels) {
		args = append(args, "--label", k+"="+c.cfg.Labels[k])
	}
	if !o.NoSecretFlag {
		args = append(args, c.authArgs()...)
	}
	args = append(append(args, c.cfg.ExecutorFlags...), extra...)
	p, err := c.start(name, filepath.Join(c.Dir, name), o.Env, args...)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.execs = append(c.execs, p)
	c.mu.Unlock()
	_, err = c.WaitExecutorPort(ctx, p)
	return p, err
}

// WaitExecutorPort waits until the executor's port file exists and sets
// p.Addr.
func (c *Core) WaitExecutorPort(ctx context.Context, p *Proc) (int, error) {
	var port int
	err := WaitUntil(ctx, 30*time.Second, p.Name+" port file", func() (bool, string, error) {
		if p.Exited() {
			return false, "", fmt.Errorf("%s exited: %s", p.Name, strings.Join(p.Log.Tail(20), "\n"))
		}
		b, err := os.ReadFile(filepath.Join(p.Dir, "executor.port"))
		if err != nil {
			return false, err.Error(), nil
		}
		port, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && port > 0, string(b), nil
	})
	if err != nil {
		return 0, err
	}
	p.Addr = "127.0.0.1:" + strconv.Itoa(port)
	return port, nil
}

// Webs are the web servers started, in start order.
func (c *Core) Webs() []*Proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Proc(nil), c.webs...)
}

// Executors are the executors started, in start order.
func (c *Core) Executors() []*Proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Proc(nil), c.execs...)
}

// URL is the base URL of web server p.
func (c *Core) URL(p *Proc) string { return c.scheme() + "://" + p.Addr }

func (c *Core) scheme() string {
	if c.cfg.TLSCert != "" {
		return "https"
	}
	return "http"
}

// HTTPClient trusts the cluster's certificate, if any.
func (c *Core) HTTPClient() (*http.Client, error) {
	cfg, err := c.tlsConfig()
	if err != nil || cfg == nil {
		return http.DefaultClient, err
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}, nil
}

func (c *Core) tlsConfig() (*tls.Config, error) {
	if c.cfg.TLSCert == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(c.cfg.TLSCert)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &tls.Config{RootCAs: pool}, nil
}

// ClientOf is a REST client of web server p, authenticated as the admin
// (as nobody in particular with AuthInsecure).
func (c *Core) ClientOf(p *Proc) (*client.Client, error) {
	tc, err := c.tlsConfig()
	if err != nil {
		return nil, err
	}
	return client.New(c.URL(p), client.Options{ConnectTimeout: 10 * time.Second, Token: c.Token, User: c.cfg.Admin, TLS: tc}), nil
}

// BuildBinary builds ./cmd/crawlctl of this source tree into a new temp
// directory, with extra go build flags (e.g. -race).
func BuildBinary(ctx context.Context, flags ...string) (string, error) {
	dir, err := os.MkdirTemp("", "crawlctl-bin-")
	if err != nil {
		return "", err
	}
	return BuildBinaryIn(ctx, dir, flags...)
}

// BuildBinaryIn is BuildBinary into dir.
func BuildBinaryIn(ctx context.Context, dir string, flags ...string) (string, error) {
	bin := filepath.Join(dir, "crawlctl")
	args := append(append([]string{"build"}, flags...), "-o", bin, "./cmd/crawlctl")
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = ModuleRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go %s in %s: %v\n%s", strings.Join(args, " "), cmd.Dir, err, out)
	}
	return bin, nil
}

// ModuleRoot is the crawlctl source tree: the one this file was compiled
// from when it is still there, else the working directory.
func ModuleRoot() string {
	if _, file, _, ok := runtime.Caller(0); ok {
		root := filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", "..", ".."))
		if _, err := os.Stat(filepath.Join(root, "cmd", "crawlctl")); err == nil {
			return root
		}
	}
	return "."
}

// FreePort asks the OS for a free loopback port.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// WaitUntil polls cond every 20ms until it holds, returns an error, ctx
// ends or timeout passes; the timeout's error says what cond saw last.
func WaitUntil(ctx context.Context, timeout time.Duration, what string, cond func() (ok bool, seen string, err error)) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, seen, err := cond()
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s; last seen: %s", timeout, what, seen)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
