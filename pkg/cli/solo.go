package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/crawlctl/crawlctl/pkg/client"
	"github.com/crawlctl/crawlctl/pkg/internal/auth"
	"github.com/crawlctl/crawlctl/pkg/internal/azkaban"
	"github.com/crawlctl/crawlctl/pkg/internal/executor"
	"github.com/crawlctl/crawlctl/pkg/internal/flow"
	"github.com/crawlctl/crawlctl/pkg/internal/runner"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

// soloOfflineAfter is solo's offline threshold (the web server's default).
const soloOfflineAfter = 30 * time.Second

func newSoloCmd(g *globals) *cobra.Command {
	var (
		dataDir      string
		listen       string
		execPort     int
		drainTimeout time.Duration
		jobEnvPass   []string
		alerts       alertSettings
		retain       retentionSettings
		disk         diskSettings
	)
	cmd := &cobra.Command{
		Use:   "solo",
		Short: "Run the web server and one executor in one process on an embedded SQLite file",
		Long: `Run crawlctl on one host with nothing else to install: the web server and
one executor in one process, on the SQLite file DATA-DIR/crawlctl.db. The
schema is migrated and the executor activated automatically. Every CLI
command works against it. Ctrl-C stops it cleanly (running flows may finish
for --drain-timeout).

  crawlctl solo
  crawlctl solo --data-dir /var/lib/crawlctl --listen 127.0.0.1:8081`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := newLogger(g, g.stderr)
			if err != nil {
				return err
			}
			forgetSecretEnv()
			if err := runner.CheckEnvPatterns(jobEnvPass); err != nil {
				return usageErr("--job-env-pass: %v", err)
			}
			keep, err := retain.retention(azkaban.DefaultSessionIdle)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(dataDir, 0o755); err != nil {
				return usageErr("--data-dir: %v", err)
			}
			ctx, stop := signalContext(cmd.Context())
			defer stop()
			dsn := "sqlite://" + filepath.Join(dataDir, "crawlctl.db")
			st, err := openStore(ctx, dsn, false)
			if err != nil {
				return err
			}
			defer st.Close()
			if _, err := st.Migrate(ctx); err != nil {
				return withCode(ExitServer, err)
			}
			ln, err := listenTCP(listen, "--listen")
			if err != nil {
				return err
			}
			server := "http://" + ln.Addr().String()
			tokenPath, err := soloAdminToken(ctx, st, dataDir, server)
			if err != nil {
				ln.Close()
				return withCode(ExitServer, err)
			}
			// The web server and the executor share this process: a fresh
			// secret per start authenticates the nudges between them.
			sec := security{secret: auth.NewSecret()}
			exLog := log.With().Str("component", "executor").Logger()
			newExecutor := func(port int) *executor.Executor {
				return executor.New(executor.Config{
					ClusterSecret: sec.secret,
					Host:          "127.0.0.1", Bind: "127.0.0.1", Port: port, Name: "solo",
					PortFile: filepath.Join(dataDir, "executor.port"), WorkDir: filepath.Join(dataDir, "executor"),
					Heartbeat: 2 * time.Second, Poll: time.Second, DrainTimeout: drainTimeout, AutoActivate: true, JobEnvPass: jobEnvPass,
					Disk: disk.limits(),
				}, st, exLog)
			}
			// The executor keeps its identity, (127.0.0.1, port), across
			// restarts: the port it had is saved in the data directory.
			savedPort := filepath.Join(dataDir, "executor.saved-port")
			port := execPort
			if port == 0 {
				if b, err := os.ReadFile(savedPort); err == nil {
					port, _ = strconv.Atoi(strings.TrimSpace(string(b)))
				}
			}
			ex := newExecutor(port)
			err = ex.Start(ctx)
			if err != nil && execPort == 0 && port != 0 && strings.Contains(err.Error(), "already in use") {
				exLog.Warn().Int("port", port).Msg("the executor's earlier port is taken; it starts on a new one (a new executor row; the old one is removed)")
				ex = newExecutor(0)
				err = ex.Start(ctx)
			}
			if err != nil {
				ln.Close()
				return withCode(ExitUsage, err)
			}
			if err := os.WriteFile(savedPort, []byte(strconv.Itoa(ex.Port())+"\n"), 0o644); err != nil {
				exLog.Warn().Err(err).Msg("could not save the executor's port; it may get a new identity at the next start")
			}
			removeStaleSoloExecutors(ctx, st, ex.ID(), exLog)
			execDone := make(chan error, 1)
			go func() { execDone <- ex.Run(ctx) }()
			if !g.quiet {
				fmt.Fprintf(g.stdout, `crawlctl solo is running
  web server: %s   (database %s)
  executor:   solo, 127.0.0.1:%d, active
  admin token: %s (the CLI on this host uses it for %s)
  web UI:     %[1]s/ui/ (log in as admin after %[6]s user passwd admin)
Try, in another terminal:
  %[6]s executor list
  %[6]s project upload configs/examples/hello-crawl
  %[6]s flow run hello-crawl crawl --wait
  %[6]s exec list
Stop with Ctrl-C.
`, server, st, ex.Port(), tokenPath, server, selfPath())
			}
			// The web server's default threshold: the executor's lease (2/3
			// of it) must ride out a slow SQLite write without killing jobs.
			webErr := runWeb(ctx, log, st, ln, webOptions{offlineAfter: soloOfflineAfter, claimTimeout: 10 * time.Second, poll: time.Second,
				limits: flow.DefaultLimits(), security: sec, alerts: &alerts, retention: keep, pruneEvery: retain.every})
			if err := <-execDone; err != nil && webErr == nil {
				webErr = withCode(ExitServer, err)
			}
			return webErr
		},
	}
	f := cmd.Flags()
	alerts.flags(f)
	f.StringVar(&dataDir, "data-dir", "var", "directory for the SQLite database, the executor's files and its port file")
	f.StringVar(&listen, "listen", "127.0.0.1:8081", "address of the web server (loopback only by default; the API needs a token either way)")
	f.IntVar(&execPort, "executor-port", 0, "port of the embedded executor (0 picks a free one)")
	f.DurationVar(&drainTimeout, "drain-timeout", time.Minute, "on Ctrl-C, how long running flows may finish before they are killed")
	jobEnvPassFlag(f, &jobEnvPass)
	retain.flags(f, true)
	disk.flags(f)
	return cmd
}

// selfPath is how to run this binary again from the same directory: the path
// it was started with (bin/crawlctl in a clone), or its name when it was
// found on PATH.
func selfPath() string {
	if len(os.Args) > 0 && os.Args[0] != "" {
		return os.Args[0]
	}
	return "crawlctl"
}

// removeStaleSoloExecutors deletes the executor rows of earlier solo runs
// that are not this one (they are stopped or offline: solo's database is its
// own), so that "solo" names one executor.
func removeStaleSoloExecutors(ctx context.Context, st *store.Store, keep int64, log zerolog.Logger) {
	list, err := st.ListExecutors(ctx)
	if err != nil {
		log.Warn().Err(err).Msg("could not list executors to remove stale ones")
		return
	}
	for _, e := range list {
		if e.ID == keep {
			continue
		}
		if err := st.DeleteExecutor(ctx, e.ID, soloOfflineAfter, "solo"); err != nil {
			log.Warn().Err(err).Int64("executor_id", e.ID).Msg("could not remove the executor row of an earlier run")
			continue
		}
		log.Info().Int64("executor_id", e.ID).Str("addr", e.Addr()).Msg("removed the executor row of an earlier run")
	}
}

// soloAdminToken makes sure an admin exists and that DATA-DIR/admin.token
// holds a valid token of it, and saves that token in the CLI's token file for
// server, so the CLI on this host needs nothing typed. It returns the path.
func soloAdminToken(ctx context.Context, st *store.Store, dataDir, server string) (string, error) {
	path := filepath.Join(dataDir, "admin.token")
	if _, err := st.GetUser(ctx, "admin"); errors.Is(err, store.ErrNotFound) {
		hash, err := auth.HashPassword(auth.NewSecret())
		if err != nil {
			return "", err
		}
		// Another solo on this data dir may have added it meanwhile.
		if _, err := st.AddUser(ctx, "admin", auth.Admin, hash); err != nil && !errors.Is(err, store.ErrConflict) {
			return "", err
		}
	} else if err != nil {
		return "", err
	}
	token := ""
	if b, err := os.ReadFile(path); err == nil {
		token = strings.TrimSpace(string(b))
		if _, err := auth.Authenticate(ctx, st, token); err != nil {
			token = ""
		}
	}
	if token == "" {
		tok, hash, prefix := auth.NewToken()
		if _, err := st.AddToken(ctx, "admin", "solo", hash, prefix, time.Time{}); err != nil {
			return "", err
		}
		if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
			return "", fmt.Errorf("write %s: %w", path, err)
		}
		token = tok
	}
	if _, err := client.SaveToken(server, token); err != nil {
		return "", err
	}
	return path, nil
}
