package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/crawlctl/crawlctl/pkg/executor"
	"github.com/crawlctl/crawlctl/pkg/flow"
)

func newSoloCmd(g *globals) *cobra.Command {
	var (
		dataDir      string
		listen       string
		execPort     int
		drainTimeout time.Duration
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
			ex := executor.New(executor.Config{
				Host: "127.0.0.1", Bind: "127.0.0.1", Port: execPort, Name: "solo",
				PortFile: filepath.Join(dataDir, "executor.port"), WorkDir: filepath.Join(dataDir, "executor"),
				Heartbeat: 2 * time.Second, Poll: time.Second, DrainTimeout: drainTimeout, AutoActivate: true,
			}, st, log.With().Str("component", "executor").Logger())
			if err := ex.Start(ctx); err != nil {
				ln.Close()
				return withCode(ExitUsage, err)
			}
			execDone := make(chan error, 1)
			go func() { execDone <- ex.Run(ctx) }()
			if !g.quiet {
				fmt.Fprintf(g.stdout, `crawlctl solo is running
  web server: http://%s   (database %s)
  executor:   solo, 127.0.0.1:%d, active
Try, in another terminal:
  crawlctl executor list
  crawlctl project upload configs/examples/hello-crawl
  crawlctl flow run hello-crawl crawl --wait
  crawlctl exec list
Stop with Ctrl-C.
`, ln.Addr(), st, ex.Port())
			}
			webErr := runWeb(ctx, log, st, ln, webOptions{offlineAfter: 10 * time.Second, claimTimeout: 10 * time.Second, poll: time.Second, limits: flow.DefaultLimits()})
			if err := <-execDone; err != nil && webErr == nil {
				webErr = withCode(ExitServer, err)
			}
			return webErr
		},
	}
	f := cmd.Flags()
	f.StringVar(&dataDir, "data-dir", "var", "directory for the SQLite database, the executor's files and its port file")
	f.StringVar(&listen, "listen", "127.0.0.1:8081", "address of the web server (loopback only by default)")
	f.IntVar(&execPort, "executor-port", 0, "port of the embedded executor (0 picks a free one)")
	f.DurationVar(&drainTimeout, "drain-timeout", time.Minute, "on Ctrl-C, how long running flows may finish before they are killed")
	return cmd
}
