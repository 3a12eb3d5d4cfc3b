package cli

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/crawlctl/crawlctl/pkg/internal/alert"
	"github.com/crawlctl/crawlctl/pkg/internal/auth"
	"github.com/crawlctl/crawlctl/pkg/internal/azkaban"
	"github.com/crawlctl/crawlctl/pkg/internal/dispatch"
	"github.com/crawlctl/crawlctl/pkg/internal/executor"
	"github.com/crawlctl/crawlctl/pkg/internal/flow"
	"github.com/crawlctl/crawlctl/pkg/internal/metrics"
	"github.com/crawlctl/crawlctl/pkg/internal/retention"
	"github.com/crawlctl/crawlctl/pkg/internal/runner"
	"github.com/crawlctl/crawlctl/pkg/internal/schedule"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/webserver"
)

// newLogger builds a daemon logger: JSON, or console output on a terminal.
func newLogger(g *globals, w io.Writer) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(strings.ToLower(g.logLevel))
	if err != nil || g.logLevel == "" {
		return zerolog.Nop(), usageErr("bad --log-level %q: use debug, info, warn or error", g.logLevel)
	}
	out := w
	switch g.logFormat {
	case "console":
		out = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339}
	case "json":
	case "auto", "":
		if isTerminal(w) {
			out = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339}
		}
	default:
		return zerolog.Nop(), usageErr("bad --log-format %q: use json, console or auto", g.logFormat)
	}
	zerolog.TimeFieldFormat = time.RFC3339Nano
	return zerolog.New(out).Level(lvl).With().Timestamp().Logger(), nil
}

// openStore opens the database and checks its schema for a daemon.
func openStore(ctx context.Context, dsn string, needSchema bool) (*store.Store, error) {
	st, err := store.Open(ctx, dsn)
	if err != nil {
		return nil, withCode(ExitServer, err)
	}
	if needSchema {
		if err := st.CheckSchema(ctx); err != nil {
			st.Close()
			if errors.Is(err, store.ErrSchemaOutdated) {
				return nil, withCode(ExitServer, fmt.Errorf("%s is not migrated to this version: run `crawlctl migrate up --db ...` first", st))
			}
			return nil, withCode(ExitServer, err)
		}
	}
	return st, nil
}

func newMigrateCmd(g *globals) *cobra.Command {
	var db dbSetting
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Create or upgrade the database schema (talks to the database directly)",
		Long: `Create or upgrade crawlctl's schema. The migrations are embedded in the
binary; run "crawlctl migrate up" after every upgrade, before the daemons.

  crawlctl migrate up --db mysql://crawlctl:secret@db:3306/crawlctl
  crawlctl migrate status --db sqlite:///var/lib/crawlctl/crawlctl.db`,
	}
	db.flags(cmd.PersistentFlags(), "database: mysql://user:pass@host:3306/db or sqlite:///path/file.db (env CRAWLCTL_DB)")
	cmd.AddCommand(&cobra.Command{
		Use:   "up",
		Short: "Apply every pending migration",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := db.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer st.Close()
			applied, err := st.Migrate(cmd.Context())
			if err != nil {
				return withCode(ExitServer, err)
			}
			state, err := st.MigrationStatus(cmd.Context())
			if err != nil {
				return withCode(ExitServer, err)
			}
			if g.output == "json" {
				return printJSON(g.stdout, map[string]any{"applied": applied, "version": state.Current})
			}
			if !g.quiet {
				if len(applied) == 0 {
					fmt.Fprintln(g.stdout, "nothing to apply")
				}
				for _, m := range applied {
					fmt.Fprintf(g.stdout, "applied %s\n", migrationName(m))
				}
				fmt.Fprintf(g.stdout, "%s is at schema version %d (latest)\n", st, state.Current)
			}
			return nil
		},
	}, &cobra.Command{
		Use:   "status",
		Short: "Show the schema version and pending migrations",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := db.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer st.Close()
			state, err := st.MigrationStatus(cmd.Context())
			if err != nil {
				return withCode(ExitServer, err)
			}
			if g.output == "json" {
				return printJSON(g.stdout, state)
			}
			fmt.Fprintf(g.stdout, "database: %s\ncurrent:  %d\nlatest:   %d\n", st, state.Current, state.Latest)
			for _, m := range state.Pending {
				fmt.Fprintf(g.stdout, "pending:  %s\n", migrationName(m))
			}
			if len(state.Pending) > 0 {
				fmt.Fprintln(g.stdout, "run `crawlctl migrate up` to apply them")
			}
			return nil
		},
	})
	return cmd
}

// migrationName is how a migration is shown: its file name, which starts
// with its version (00001_init.sql).
func migrationName(m store.MigrationInfo) string {
	if name := filepath.Base(m.Source); strings.HasPrefix(name, fmt.Sprintf("%05d", m.Version)) {
		return name
	}
	return fmt.Sprintf("%05d %s", m.Version, m.Source)
}

func newWebCmd(g *globals) *cobra.Command {
	web := &cobra.Command{Use: "web", Short: "The web server daemon: REST API, dispatcher, reaper"}
	var (
		db           dbSetting
		listen       string
		offlineAfter time.Duration
		claimTimeout time.Duration
		poll         time.Duration
		maxArchive   int64
		maxUnpacked  int64
		misfire      time.Duration
		sec          security
		executorCA   string
		sessionIdle  time.Duration
		alerts       alertSettings
		retain       retentionSettings
	)
	serve := &cobra.Command{
		Use:   "serve",
		Short: "Run the web server",
		Long: `Run the web server: the REST API under /api/v1 (used by the CLI), Azkaban's
web AJAX API (/, /manager, /executor, /schedule, /status), /healthz,
/readyz, the web UI under /ui/, the dispatcher that assigns queued flows to a random active online
executor, the reaper that recovers the work of lost executors, and the prune
loop that deletes, every --prune-every, what the --retain-* flags say is old
(see crawlctl prune --help). Several web servers may run against one database.

  crawlctl web serve --db mysql://crawlctl:secret@db:3306/crawlctl --listen 0.0.0.0:8081`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := newLogger(g, g.stderr)
			if err != nil {
				return err
			}
			if err := sec.resolve("web serve"); err != nil {
				return err
			}
			dsn, err := db.resolve()
			if err != nil {
				return err
			}
			forgetSecretEnv()
			execTLS, err := caPool(executorCA)
			if err != nil {
				return err
			}
			ctx, stop := signalContext(cmd.Context())
			defer stop()
			st, err := openStore(ctx, dsn, true)
			if err != nil {
				return err
			}
			defer st.Close()
			ln, err := listenTCP(listen, "--listen")
			if err != nil {
				return err
			}
			for name, d := range map[string]time.Duration{"--offline-after": offlineAfter, "--claim-timeout": claimTimeout, "--dispatch-poll": poll, "--misfire-threshold": misfire, "--session-idle": sessionIdle} {
				if d <= 0 {
					ln.Close()
					return usageErr("bad %s %s: must be positive", name, d)
				}
			}
			keep, err := retain.retention(sessionIdle)
			if err != nil {
				ln.Close()
				return err
			}
			return runWeb(ctx, log, st, ln, webOptions{offlineAfter: offlineAfter, claimTimeout: claimTimeout, poll: poll, misfireThreshold: misfire,
				security: sec, executorTLS: execTLS, sessionIdle: sessionIdle, alerts: &alerts, retention: keep, pruneEvery: retain.every,
				limits: flow.Limits{MaxArchiveBytes: maxArchive << 20, MaxUnpackedBytes: maxUnpacked << 20, MaxFiles: flow.DefaultLimits().MaxFiles}})
		},
	}
	f := serve.Flags()
	db.flags(f, "database: mysql://user:pass@host:3306/db or sqlite:///path/file.db")
	f.StringVar(&listen, "listen", defaultWebPort, "address to serve HTTP on")
	f.DurationVar(&offlineAfter, "offline-after", 30*time.Second, "an executor whose heartbeat is older than this is offline (database clock) and its flows run elsewhere; recorded in the database, and executors kill their own jobs after 2/3 of it without a heartbeat (their lease)")
	f.DurationVar(&claimTimeout, "claim-timeout", 15*time.Second, "re-queue a dispatched flow its executor has not claimed after this long")
	f.DurationVar(&poll, "dispatch-poll", 500*time.Millisecond, "how often to look for flows queued through other web servers")
	sec.flags(f)
	f.StringVar(&executorCA, "executor-ca-cert", "", "CA certificate (PEM) to trust for executors that serve HTTPS")
	f.DurationVar(&misfire, "misfire-threshold", 5*time.Second, "a schedule's fire time handled later than this is a misfire (its --misfire policy applies)")
	f.DurationVar(&sessionIdle, "session-idle", azkaban.DefaultSessionIdle, "a session of the Azkaban-compatible API (POST /?action=login) ends after this long unused")
	f.Int64Var(&maxArchive, "max-archive-size", flow.DefaultLimits().MaxArchiveBytes>>20, "largest project archive accepted, MiB")
	f.Int64Var(&maxUnpacked, "max-unpacked-size", flow.DefaultLimits().MaxUnpackedBytes>>20, "largest total unpacked size of a project, MiB")
	alerts.flags(f)
	retain.flags(f, true)
	web.AddCommand(serve)
	return web
}

type webOptions struct {
	offlineAfter, claimTimeout, poll time.Duration
	misfireThreshold                 time.Duration
	limits                           flow.Limits
	security                         security
	executorTLS                      *tls.Config
	sessionIdle                      time.Duration  // 0 = azkaban.DefaultSessionIdle
	alerts                           *alertSettings // nil: no alert channel
	retention                        store.Retention
	pruneEvery                       time.Duration // 0: no prune loop
}

// runWeb serves the REST API and runs the dispatcher until ctx ends.
func runWeb(ctx context.Context, log zerolog.Logger, st *store.Store, ln net.Listener, o webOptions) error {
	// Executors size their lease from the threshold the reaper judges by.
	if err := st.SetOfflineAfter(ctx, o.offlineAfter); err != nil {
		log.Warn().Err(err).Msg("could not record --offline-after in the database; executors keep the last one recorded")
	}
	disp := dispatch.New(dispatch.Config{OfflineAfter: o.offlineAfter, ClaimTimeout: o.claimTimeout, Poll: o.poll,
		ClusterSecret: o.security.secret, TLS: o.executorTLS}, st, log.With().Str("component", "dispatcher").Logger())
	var alerter *alert.Deliverer
	if o.alerts != nil {
		var err error
		if alerter, err = o.alerts.build(st, log.With().Str("component", "alerts").Logger()); err != nil {
			return err
		}
	}
	m := metrics.NewWeb(st, o.offlineAfter)
	disp.OnAssign = func(d time.Duration) { m.DispatchLatency.Observe(d.Seconds()) }
	disp.OnNudge = func(outcome string) { m.Dispatched.WithLabelValues(outcome).Inc() }
	srv := &http.Server{
		Handler: webserver.New(webserver.Config{OfflineAfter: o.offlineAfter, Limits: o.limits, Insecure: o.security.insecure,
			SessionIdle: o.sessionIdle, Alerts: alertTester(alerter)}, st, disp, m.Handler(), log).Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Minute, // a 200 MiB upload on a slow link
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	sched := schedule.NewScheduler(st, log.With().Str("component", "scheduler").Logger())
	sched.Wake = disp.Wake
	sched.OnFire = func(outcome string) { m.Fired.WithLabelValues(outcome).Inc() }
	if o.misfireThreshold > 0 {
		sched.MisfireThreshold = o.misfireThreshold
	}
	dctx, stopDisp := context.WithCancel(context.Background())
	done := make(chan struct{}, 4)
	go func() { disp.Run(dctx); done <- struct{}{} }()
	go func() { sched.Run(dctx); done <- struct{}{} }()
	go runAlerts(dctx, alerter, done)
	go func() {
		retention.Run(dctx, st, o.retention, o.pruneEvery, log.With().Str("component", "retention").Logger())
		done <- struct{}{}
	}()
	serveErr := make(chan error, 1)
	go func() {
		if o.security.tlsCert != "" {
			serveErr <- srv.ServeTLS(ln, o.security.tlsCert, o.security.tlsKey)
			return
		}
		serveErr <- srv.Serve(ln)
	}()
	log.Info().Str("listen", ln.Addr().String()).Str("db", st.String()).Bool("tls", o.security.tlsCert != "").Msg("web server started")
	if a, ok := ln.Addr().(*net.TCPAddr); ok && !a.IP.IsLoopback() && o.security.tlsCert == "" && !o.security.insecure {
		log.Warn().Str("listen", ln.Addr().String()).Msg("serving plain HTTP on a non-loopback address: passwords and API tokens cross the network in clear; give --tls-cert and --tls-key (or listen on 127.0.0.1 behind a TLS proxy)")
	}
	if o.security.insecure {
		go auth.WarnInsecure(dctx, log, "the REST API accepts every request without a token")
	} else if n, err := st.CountUsers(ctx); err == nil && n == 0 {
		log.Warn().Msg("no users yet: create the first admin with `crawlctl user add admin --role admin --db DSN`")
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	stopDisp()
	for range cap(done) {
		<-done
	}
	log.Info().Msg("web server stopped")
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return withCode(ExitServer, err)
	}
	return nil
}

func listenTCP(addr, flag string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, usageErr("%s %s: address already in use; stop whatever listens there or choose another", flag, addr)
		}
		return nil, usageErr("%s %s: %v", flag, addr, err)
	}
	return ln, nil
}

func newExecutorCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "executor",
		Short: "Run an executor, or list and (de)activate executors",
		Long: `Executors run flows. Each one registers itself INACTIVE in the database when
it starts; an operator activates it, and only then does the dispatcher
assign flows to it (chosen at random among the active online executors).

  crawlctl executor serve --db mysql://... --name node-3 --cluster-secret-file cluster.secret
  crawlctl executor list                                     from anywhere
  crawlctl executor activate node-3

or Azkaban style on the node itself (bash), with the cluster secret:
  curl --fail-with-body -H "Authorization: Bearer $(<cluster.secret)" -G "node-3:$(<./executor.port)/executor?action=activate"

REF is an executor id, host:port, a name or a host; an ambiguous REF fails
and lists the candidates.`,
	}
	cmd.AddCommand(newExecutorServeCmd(g))
	addExecutorAdminCmds(cmd, g)
	return cmd
}

func newExecutorServeCmd(g *globals) *cobra.Command {
	hostname, _ := os.Hostname()
	var (
		db     dbSetting
		cfg    executor.Config
		labels []string
		sec    security
		disk   diskSettings
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run an executor daemon on this node",
		Long: `Run an executor: it binds its port, registers (host, port) in the database as
INACTIVE - always, even if it was active before it stopped - writes the bound
port to the port file, heartbeats with the database clock, serves Azkaban's
/executor servlet (ping, activate, deactivate, getStatus, execute, cancel,
log), and claims the flows dispatched to it.

SIGTERM/SIGINT stop it gracefully: no new work, running flows may finish for
--drain-timeout, then are killed; the row is marked stopped and the port file
removed.

  crawlctl executor serve --db mysql://crawlctl:secret@db:3306/crawlctl --port 12321
  crawlctl executor serve --db ... --port 0 --port-file /run/crawlctl/executor.port`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := newLogger(g, g.stderr)
			if err != nil {
				return err
			}
			if cfg.Port < 0 || cfg.Port > 65535 {
				return usageErr("bad --port %d: use 0-65535 (0 picks a free port)", cfg.Port)
			}
			if cfg.Heartbeat <= 0 {
				return usageErr("bad --heartbeat %s: must be positive", cfg.Heartbeat)
			}
			if err := sec.resolve("executor serve"); err != nil {
				return err
			}
			dsn, err := db.resolve()
			if err != nil {
				return err
			}
			forgetSecretEnv()
			if err := runner.CheckEnvPatterns(cfg.JobEnvPass); err != nil {
				return usageErr("--job-env-pass: %v", err)
			}
			cfg.ClusterSecret, cfg.Insecure, cfg.TLSCert, cfg.TLSKey = sec.secret, sec.insecure, sec.tlsCert, sec.tlsKey
			cfg.Disk = disk.limits()
			cfg.Labels = map[string]string{}
			for _, l := range labels {
				k, v, ok := strings.Cut(l, "=")
				if !ok || k == "" {
					return usageErr("bad --label %q: use key=value", l)
				}
				cfg.Labels[k] = v
			}
			for flag, v := range map[string]string{"--name": cfg.Name, "--host": cfg.Host} {
				if len(v) > store.MaxName {
					return usageErr("%s is %d bytes long; the limit is %d", flag, len(v), store.MaxName)
				}
			}
			if b, _ := json.Marshal(cfg.Labels); len(b) > store.MaxText {
				return usageErr("--label: the labels take %d bytes as JSON; the limit is %d (64 KiB)", len(b), store.MaxText)
			}
			ctx, stop := signalContext(cmd.Context())
			defer stop()
			st, err := openStore(ctx, dsn, true)
			if err != nil {
				return err
			}
			defer st.Close()
			ex := executor.New(cfg, st, log)
			if err := ex.Start(ctx); err != nil {
				return withCode(ExitServer, err)
			}
			return ex.Run(ctx)
		},
	}
	f := cmd.Flags()
	db.flags(f, "database: mysql://user:pass@host:3306/db or sqlite:///path/file.db")
	f.StringVar(&cfg.Host, "host", hostname, "host name other nodes use to reach this executor")
	f.StringVar(&cfg.Bind, "bind", "", "address to listen on (default: all interfaces)")
	f.IntVar(&cfg.Port, "port", defaultExecPort, "port to listen on; 0 picks a free one (see --port-file)")
	f.StringVar(&cfg.Name, "name", hostname, "executor name shown by executor list and usable as REF")
	f.StringVar(&cfg.PortFile, "port-file", "executor.port", "file the bound port is written to, digits only (\"\" = none)")
	f.StringVar(&cfg.WorkDir, "work-dir", "var/executor", "directory for project caches, execution working directories and logs")
	f.IntVar(&cfg.MaxFlows, "max-flows", 0, "most flows this executor runs at once (0 = unlimited)")
	f.StringArrayVar(&labels, "label", nil, "label key=value (repeatable)")
	f.DurationVar(&cfg.Heartbeat, "heartbeat", 5*time.Second, "heartbeat interval")
	f.DurationVar(&cfg.Poll, "poll", time.Second, "how often to look in the database for work and cancels (covers lost HTTP nudges)")
	f.DurationVar(&cfg.DrainTimeout, "drain-timeout", 10*time.Minute, "on SIGTERM, how long running flows may finish before they are killed")
	jobEnvPassFlag(f, &cfg.JobEnvPass)
	disk.flags(f)
	sec.flags(f)
	f.DurationVar(&cfg.ClockOffset, "clock-offset", 0, "shift the clock this executor reports (to rehearse clock skew)")
	_ = f.MarkHidden("clock-offset")
	return cmd
}
