// Package executor is the executor daemon: it registers its node in the
// database (always inactive), writes its port file, heartbeats with the
// database clock, serves Azkaban's /executor servlet, and claims and runs the
// executions the dispatcher assigns to it. `crawlctl executor serve` and
// `crawlctl solo` run it.
package executor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/crawlctl/crawlctl/pkg/internal/auth"
	"github.com/crawlctl/crawlctl/pkg/internal/backoff"
	"github.com/crawlctl/crawlctl/pkg/internal/buildinfo"
	"github.com/crawlctl/crawlctl/pkg/internal/metrics"
	"github.com/crawlctl/crawlctl/pkg/internal/runner"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/supervise"
)

// Config is the executor's settings.
type Config struct {
	Host      string // advertised host (what the web server dials)
	Bind      string // address to listen on; "" = all interfaces
	Port      int    // 0 = any free port
	Name      string
	PortFile  string // "" = none
	WorkDir   string
	MaxFlows  int
	Labels    map[string]string
	Heartbeat time.Duration
	// Poll is how often the executor looks in the database for work assigned
	// to it and for cancels, in case an HTTP nudge was lost.
	Poll time.Duration
	// DrainTimeout is how long a graceful stop waits for running flows.
	DrainTimeout time.Duration
	// AutoActivate activates the executor right after registering (solo mode).
	AutoActivate bool
	// ClockOffset shifts the clock this executor reports (to see skew handling).
	ClockOffset time.Duration
	// ClusterSecret must be presented (Authorization: Bearer) for execute,
	// cancel, activate, deactivate and log; "" only with Insecure.
	ClusterSecret string
	Insecure      bool
	// TLSCert and TLSKey make the executor serve HTTPS.
	TLSCert, TLSKey string
	// JobEnvPass names the variables of the executor's environment that
	// jobs get besides runner.BaseEnv (patterns: HTTP_PROXY, AWS_*); no
	// CRAWLCTL_ variable ever reaches a job.
	JobEnvPass []string
	// Disk is what the executor removes from its work directory: old
	// project versions it extracted, old local log files.
	Disk DiskLimits
}

// Executor is a running executor daemon.
type Executor struct {
	cfg   Config
	store *store.Store
	log   zerolog.Logger

	id       atomic.Int64
	active   atomic.Bool
	stopping atomic.Bool
	// refusedFull is set when a claim was refused for --max-flows: the
	// next run to end wakes the poll to take it.
	refusedFull atomic.Bool
	// lastReply is the last heartbeat's reply (only the heartbeat loop
	// touches it).
	lastReply *store.HeartbeatReply
	ln        net.Listener
	srv       *http.Server

	// wake nudges the claim loop.
	wake chan struct{}
	// claimMu serializes claims (servlet and poll loop), so --max-flows is
	// never overshot by two claims at once.
	claimMu sync.Mutex
	runs    *runSet
	wg      sync.WaitGroup

	// projects caches parsed project versions (they never change).
	projects projectCache
	// cache holds the extracted project versions executions start from.
	cache *runner.WorkDirCache
	// halt ends what would otherwise wait for the database forever (a
	// run's last writes); cancelled once the drain is over.
	halt    context.Context
	haltNow context.CancelFunc

	metrics  *metrics.Executor
	lastBeat atomic.Int64 // unix nanoseconds of the last successful heartbeat
	lease    lease
	lock     *os.File // holds the work directory's lock
	// leaseWarned: the heartbeat/lease mismatch was reported.
	leaseWarned atomic.Bool
	// jobEnv is the environment jobs start from (runner.JobEnv).
	jobEnv []string
	// commits writes the runs' reports, several in one transaction.
	commits *committer
	// jobs starts every job through one long-lived supervisor (set by
	// Start; nil = a supervisor per job).
	jobs *supervise.Pool
}

// New prepares an executor; Start listens and registers.
func New(cfg Config, st *store.Store, log zerolog.Logger) *Executor {
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 5 * time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 10 * time.Minute
	}
	if cfg.WorkDir == "" {
		cfg.WorkDir = "var/executor"
	}
	// Jobs and their supervisors run elsewhere: every path they are given
	// (the lease file, the job records) must not depend on the directory.
	if abs, err := filepath.Abs(cfg.WorkDir); err == nil {
		cfg.WorkDir = abs
	}
	e := &Executor{cfg: cfg, store: st, log: log, wake: make(chan struct{}, 1), runs: newRunSet(), projects: projectCache{max: 64},
		cache: &runner.WorkDirCache{Root: filepath.Join(cfg.WorkDir, "projects")}, jobEnv: runner.JobEnv(os.Environ(), cfg.JobEnvPass)}
	e.halt, e.haltNow = context.WithCancel(context.Background())
	e.commits = newCommitter(e)
	e.metrics = metrics.NewExecutor(e.runs.len, func() time.Time {
		if n := e.lastBeat.Load(); n > 0 {
			return time.Unix(0, n)
		}
		return time.Time{}
	})
	return e
}

// jobsDir is where job supervisors record the jobs they run. Executors on
// one host may share a work directory, but never a port: the port keeps
// each one's records (and lease file) its own, across restarts too.
func (e *Executor) jobsDir() string {
	return filepath.Join(e.cfg.WorkDir, "jobs."+strconv.Itoa(e.Port()))
}

// ID is the executor's id in the executors table (0 before Start).
func (e *Executor) ID() int64 { return e.id.Load() }

// Addr is the address the executor listens on.
func (e *Executor) Addr() net.Addr { return e.ln.Addr() }

// Port is the bound port.
func (e *Executor) Port() int { return e.ln.Addr().(*net.TCPAddr).Port }

// ErrPortInUse: Start found its port taken, which the operator must fix.
var ErrPortInUse = errors.New("already in use")

// Start binds the port, registers the executor (inactive) and writes the port
// file. Errors are meant for the operator: port in use, database down.
func (e *Executor) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", net.JoinHostPort(e.cfg.Bind, strconv.Itoa(e.cfg.Port)))
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("port %d is %w: stop whatever listens there or pick another with --port (0 picks a free one)", e.cfg.Port, ErrPortInUse)
		}
		return fmt.Errorf("listen on port %d: %w", e.cfg.Port, err)
	}
	e.ln = ln
	if err := os.MkdirAll(e.cfg.WorkDir, 0o755); err != nil {
		ln.Close()
		return fmt.Errorf("work directory (--work-dir): %w", err)
	}
	// Jobs of an earlier run of this executor die with it; only a job whose
	// supervisor was itself killed (OOM) can be left, and it goes now.
	if n, err := supervise.KillLeftovers(e.jobsDir()); err != nil {
		e.log.Warn().Err(err).Msg("could not check for jobs left by an earlier run")
	} else if n > 0 {
		e.log.Warn().Int("killed", n).Msg("killed jobs left running by an earlier run of this executor")
	}
	if runtime.GOOS == "linux" {
		e.jobs = supervise.NewPool("", supervise.Options{LeaseFile: e.leaseFile(), StateDir: e.jobsDir()})
	}
	if err := e.register(ctx); err != nil {
		ln.Close()
		return err
	}
	if e.cfg.AutoActivate {
		if _, err := e.store.SetExecutorActive(ctx, e.ID(), true, "solo"); err != nil {
			ln.Close()
			return err
		}
		e.active.Store(true)
	}
	if e.cfg.PortFile != "" {
		if err := writePortFile(e.cfg.PortFile, e.Port()); err != nil {
			ln.Close()
			return err
		}
	}
	e.srv = &http.Server{
		Handler:           e.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      time.Minute,
		IdleTimeout:       2 * time.Minute,
	}
	return nil
}

func (e *Executor) register(ctx context.Context) error {
	sent := leaseNow()
	ex, err := e.store.RegisterExecutor(ctx, store.ExecutorSpec{
		ID: e.ID(), Name: e.cfg.Name, Host: e.cfg.Host, Port: e.Port(),
		Labels: e.cfg.Labels, MaxFlows: e.cfg.MaxFlows, Version: buildinfo.String(), LocalTime: e.now(), TLS: e.cfg.TLSCert != "",
	})
	if err != nil {
		return err
	}
	e.id.Store(ex.ID)
	e.active.Store(ex.Active)
	offline, err := e.store.OfflineAfter(ctx)
	if err != nil {
		return err
	}
	e.renewLease(sent, offline)
	e.lastBeat.Store(time.Now().UnixNano())
	msg := "registered inactive; activate with `crawlctl executor activate` or /executor?action=activate"
	if e.cfg.AutoActivate {
		msg = "registered; activating it (solo)"
	}
	e.log.Info().Int64("executor_id", ex.ID).Str("name", ex.Name).Str("addr", ex.Addr()).Msg(msg)
	return nil
}

// writePortFile writes the port, digits only, atomically.
func writePortFile(path string, port int) error {
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("port file: %w", err)
		}
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(port)), 0o644); err != nil {
		return fmt.Errorf("write port file %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write port file %s: %w", path, err)
	}
	return nil
}

// Run serves until ctx is cancelled, then stops gracefully: no new work,
// running flows drain up to DrainTimeout (then are killed), the row is marked
// stopped and the port file removed.
func (e *Executor) Run(ctx context.Context) error {
	serveErr := make(chan error, 1)
	go func() {
		if e.cfg.TLSCert != "" {
			serveErr <- e.srv.ServeTLS(e.ln, e.cfg.TLSCert, e.cfg.TLSKey)
			return
		}
		serveErr <- e.srv.Serve(e.ln)
	}()

	loops, stopLoops := context.WithCancel(context.Background())
	if e.cfg.Insecure {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			auth.WarnInsecure(loops, e.log, "anyone who reaches this port can run, cancel and activate work here")
		}()
	}
	e.wg.Add(4)
	go e.heartbeatLoop(loops)
	go e.claimLoop(loops)
	go e.leaseLoop(loops)
	go e.pruneLoop(loops)

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		err = fmt.Errorf("executor HTTP server: %w", err)
	}
	e.shutdown(stopLoops)
	return err
}

func (e *Executor) shutdown(stopLoops context.CancelFunc) {
	e.stopping.Store(true)
	e.active.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if _, err := e.store.SetExecutorActive(ctx, e.ID(), false, e.cfg.Name+" (shutdown)"); err != nil {
		e.log.Warn().Err(err).Msg("could not mark executor inactive")
	}
	cancel()
	e.drain()
	e.haltNow()
	stopLoops()
	e.wg.Wait()
	if e.jobs != nil {
		// Every run has ended: this only stops the supervisor.
		e.jobs.Close()
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = e.srv.Shutdown(sctx)
	scancel()
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.store.MarkExecutorStopped(ctx, e.ID(), e.cfg.Name, "graceful shutdown"); err != nil {
		e.log.Warn().Err(err).Msg("could not mark executor stopped")
	}
	if e.cfg.PortFile != "" {
		if err := os.Remove(e.cfg.PortFile); err != nil && !os.IsNotExist(err) {
			e.log.Warn().Err(err).Str("port_file", e.cfg.PortFile).Msg("could not remove port file")
		}
	}
	e.log.Info().Int64("executor_id", e.ID()).Msg("executor stopped")
}

// heartbeatLoop writes the heartbeat, follows the active flag, re-creates a
// deleted row, and rides out database outages with backoff.
func (e *Executor) heartbeatLoop(ctx context.Context) {
	defer e.wg.Done()
	t := time.NewTimer(e.cfg.Heartbeat)
	defer t.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		next := e.cfg.Heartbeat
		if err := e.beat(ctx); err != nil {
			failures++
			// Retries start at a second and never wait longer than the
			// heartbeat interval: back within seconds of the database.
			next = backoff.Policy{Base: min(time.Second, e.cfg.Heartbeat), Max: e.cfg.Heartbeat}.Delay(failures)
			e.log.Error().Err(err).Int("failures", failures).Dur("retry_in", next).Msg("heartbeat failed")
		} else if failures > 0 {
			e.log.Info().Int("failures", failures).Msg("heartbeat recovered")
			failures = 0
		}
		t.Reset(next)
	}
}

func (e *Executor) beat(ctx context.Context) error {
	// A heartbeat that takes longer than the lease renews nothing.
	ctx, cancel := context.WithTimeout(ctx, min(e.cfg.Heartbeat+5*time.Second, e.lease.duration()))
	defer cancel()
	sent := leaseNow()
	reply, err := e.store.ExecutorHeartbeat(ctx, e.ID(), store.Heartbeat{LocalTime: e.now(), RunningFlows: e.runs.len(), Load1: load1(), Last: e.lastReply})
	if errors.Is(err, store.ErrNotFound) {
		e.lastReply = nil
		e.log.Warn().Int64("executor_id", e.ID()).Msg("executor row was deleted; registering again (inactive)")
		return e.register(ctx)
	}
	if err != nil {
		return err
	}
	e.lastReply = &reply
	e.renewLease(sent, reply.OfflineAfter)
	e.lastBeat.Store(time.Now().UnixNano())
	active := reply.Active
	if e.active.Swap(active) != active {
		e.log.Info().Bool("active", active).Msg("activation changed")
		if active {
			e.nudge()
		}
	}
	return nil
}

// now is this executor's own clock reading, as reported to the database.
func (e *Executor) now() time.Time { return time.Now().Add(e.cfg.ClockOffset) }

// load1 reads the 1-minute load average; 0 where unavailable.
func load1() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var l float64
	_, _ = fmt.Sscanf(string(b), "%f", &l)
	return l
}

func (e *Executor) nudge() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}
