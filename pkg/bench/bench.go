// Package bench measures crawlctl on a real loopback cluster against this
// machine's own limits; `make bench` runs it through cmd/crawlbench.
//
// One Run creates a throwaway database on the MySQL/MariaDB server named by
// CRAWLCTL_TEST_MYSQL_DSN, starts a web server and executors as real
// processes on free loopback ports, and measures, in order:
//
//   - limits: what the machine itself allows, with nothing of crawlctl in
//     the way: fork/exec of `sh -c true`, one autocommit INSERT, one HTTP
//     round trip on loopback;
//   - latency: submit -> first job started and submit -> SUCCEEDED of a
//     one-job flow on an idle cluster, one execution at a time;
//   - chain40: a flow of 40 sequential `true` jobs, against 40 spawns;
//   - throughput: one-job flows per second with 8 clients submitting;
//   - scale: in-process against a second database, the dispatch rate with 4
//     and with 1000 registered executors, and the latency of one
//     assign+claim with 100,000 executions queued (with 4 executors; one
//     sample with 1000).
//
// Every figure comes from the times the system recorded (database clock for
// executions, executor clock for jobs; one machine, so they compare), never
// from when the benchmark noticed. Each is reported next to the limit it is
// bounded by, with their ratio.
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/store/benchdb"
	"github.com/crawlctl/crawlctl/pkg/internal/testcluster/harness"
)

// Config sets what Run measures; zero fields take the defaults (or the
// quick defaults when Quick is set).
type Config struct {
	// ServerDSN is the MySQL/MariaDB server, go-sql-driver/mysql style
	// (root@tcp(127.0.0.1:3306)/). Default: $CRAWLCTL_TEST_MYSQL_DSN, else
	// root@tcp(127.0.0.1:3306)/.
	ServerDSN string
	// Bin is the crawlctl binary; empty builds one into a temp dir.
	Bin string
	// Out is where the JSON report is written (directories are created);
	// empty writes none.
	Out string
	// Quick shrinks every count so the whole run takes under a minute.
	Quick bool

	Executors int           // executor processes (4)
	Runs      int           // latency samples (500; quick 100)
	Duration  time.Duration // throughput submission window (20s; quick 5s)
	Clients   int           // throughput submitters (8)
	// Backlog bounds the throughput phase's submitted-but-not-ended flows,
	// so the queue never runs dry yet drains in a few seconds (32 per
	// executor).
	Backlog     int
	Chain40Runs int // chain40 executions (3)
	CLIRuns     int // `crawlctl flow run --wait` and `exec wait` runs of flow one (20; quick 10)
	// SoakExecutions ended executions are inserted and then pruned while
	// SoakRuns flows run before and after, and as many as fit during it
	// (100,000 and 100; quick 20,000 and 30). SoakExecutions < 0 skips the
	// soak.
	SoakExecutions int
	SoakRuns       int
	// LatencyPoll is how often a latency run's execution is fetched while
	// it runs (1ms). The figures come from the recorded times; the interval
	// only sets how soon the next run starts, and how much load the
	// polling adds.
	LatencyPoll time.Duration

	LimitSamples int // spawns and commits timed for the limits (500; quick 200)
	HTTPSamples  int // loopback GETs timed (2000; quick 1000)

	ScaleExecutions int // queued executions per dispatch-rate measurement (2000; quick 500)
	ScaleExecutors  int // executors of the large dispatch measurement (1000)
	BulkQueued      int // executions queued for the claim latency (100,000; quick 20,000)
	ClaimSamples    int // assign+claim samples (200; quick 50)

	// Log receives progress lines; nil discards them.
	Log io.Writer
	// Table receives the result table; nil discards it.
	Table io.Writer
}

// DefaultServerDSN is the MySQL server used when neither Config.ServerDSN
// nor CRAWLCTL_TEST_MYSQL_DSN is set.
const DefaultServerDSN = "root@tcp(127.0.0.1:3306)/"

func (c *Config) defaults() {
	pick := func(v *int, normal, quick int) {
		if *v <= 0 {
			*v = normal
			if c.Quick {
				*v = quick
			}
		}
	}
	if c.ServerDSN == "" {
		c.ServerDSN = os.Getenv("CRAWLCTL_TEST_MYSQL_DSN")
	}
	if c.ServerDSN == "" {
		c.ServerDSN = DefaultServerDSN
	}
	pick(&c.Executors, 4, 4)
	pick(&c.Runs, 500, 100)
	if c.Duration <= 0 {
		c.Duration = 20 * time.Second
		if c.Quick {
			c.Duration = 5 * time.Second
		}
	}
	pick(&c.Clients, 8, 8)
	pick(&c.Backlog, 32*c.Executors, 32*c.Executors)
	pick(&c.Chain40Runs, 3, 3)
	pick(&c.CLIRuns, 20, 10)
	if c.SoakExecutions >= 0 {
		pick(&c.SoakExecutions, 100_000, 20_000)
	}
	pick(&c.SoakRuns, 100, 30)
	if c.LatencyPoll <= 0 {
		c.LatencyPoll = time.Millisecond
	}
	pick(&c.LimitSamples, 500, 200)
	pick(&c.HTTPSamples, 2000, 1000)
	pick(&c.ScaleExecutions, 2000, 500)
	pick(&c.ScaleExecutors, 1000, 1000)
	c.ScaleExecutors = max(c.ScaleExecutors, smallCluster+1)
	pick(&c.BulkQueued, 100_000, 20_000)
	pick(&c.ClaimSamples, 200, 50)
	if c.Log == nil {
		c.Log = io.Discard
	}
	if c.Table == nil {
		c.Table = io.Discard
	}
}

// Report is everything one run measured; its JSON form is the file Run
// writes. Times are milliseconds unless a name says otherwise.
type Report struct {
	Machine    Machine    `json:"machine"`
	Config     RunConfig  `json:"config"`
	Limits     Limits     `json:"limits"`
	Latency    Latency    `json:"latency"`
	Chain40    Chain40    `json:"chain40"`
	Throughput Throughput `json:"throughput"`
	CLIWait    CLIWait    `json:"cli_wait"`
	Soak       Soak       `json:"soak"`
	Scale      Scale      `json:"scale"`
	// TotalS is how long the whole run took, seconds.
	TotalS float64 `json:"total_s"`
}

// RunConfig records the counts a run used.
type RunConfig struct {
	Quick           bool    `json:"quick"`
	Executors       int     `json:"executors"`
	Runs            int     `json:"runs"`
	DurationS       float64 `json:"duration_s"`
	Clients         int     `json:"clients"`
	Backlog         int     `json:"backlog"`
	Chain40Runs     int     `json:"chain40_runs"`
	LimitSamples    int     `json:"limit_samples"`
	HTTPSamples     int     `json:"http_samples"`
	ScaleExecutions int     `json:"scale_executions"`
	ScaleExecutors  int     `json:"scale_executors"`
	BulkQueued      int     `json:"bulk_queued"`
	ClaimSamples    int     `json:"claim_samples"`
	CLIRuns         int     `json:"cli_runs"`
	SoakExecutions  int     `json:"soak_executions"`
	SoakRuns        int     `json:"soak_runs"`
	// Auth is how clients authenticated to the web server: "token" (a
	// bearer token checked on every request, as in production) or "none".
	Auth string `json:"auth"`
}

// Run performs the whole benchmark and returns its report; it writes the
// JSON to cfg.Out and the table to cfg.Table. Every process it started is
// stopped and every database it created is dropped before it returns,
// also when it fails or ctx is cancelled.
func Run(ctx context.Context, cfg Config) (rep *Report, err error) {
	cfg.defaults()
	began := time.Now()
	rep = &Report{Config: RunConfig{
		Quick: cfg.Quick, Executors: cfg.Executors, Runs: cfg.Runs, DurationS: cfg.Duration.Seconds(), Clients: cfg.Clients,
		Backlog: cfg.Backlog, Chain40Runs: cfg.Chain40Runs, LimitSamples: cfg.LimitSamples, HTTPSamples: cfg.HTTPSamples,
		ScaleExecutions: cfg.ScaleExecutions, ScaleExecutors: cfg.ScaleExecutors, BulkQueued: cfg.BulkQueued, ClaimSamples: cfg.ClaimSamples,
		CLIRuns: cfg.CLIRuns, SoakExecutions: cfg.SoakExecutions, SoakRuns: cfg.SoakRuns,
	}}
	logf := func(format string, a ...any) {
		fmt.Fprintf(cfg.Log, "crawlbench: "+format+"\n", a...)
	}

	// Cleanups run last-in first-out whatever happens, with their own
	// deadline: ctx may be the cancelled one.
	var cleanups []func(context.Context)
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i](cctx)
		}
	}()
	dropOnExit := func(db *benchdb.ScratchDatabase) {
		cleanups = append(cleanups, func(cctx context.Context) {
			if derr := db.Drop(cctx); derr != nil {
				logf("%v", derr)
				err = errors.Join(err, derr)
			}
		})
	}

	tmp, err := os.MkdirTemp("", "crawlbench-")
	if err != nil {
		return nil, err
	}
	cleanups = append(cleanups, func(context.Context) { os.RemoveAll(tmp) })

	db, err := benchdb.CreateScratchDatabase(ctx, cfg.ServerDSN, "crawlbench")
	if err != nil {
		return nil, err
	}
	dropOnExit(db)
	logf("database %s", db.Name)

	bin := cfg.Bin
	if bin == "" {
		logf("building crawlctl")
		if bin, err = harness.BuildBinaryIn(ctx, tmp); err != nil {
			return nil, err
		}
	}
	if err := migrateUp(ctx, bin, tmp, db.DSN); err != nil {
		return nil, err
	}
	st, err := openDB(ctx, db.DSN)
	if err != nil {
		return nil, err
	}
	cleanups = append(cleanups, func(context.Context) { st.close() })

	if rep.Machine, err = machineInfo(ctx, st); err != nil {
		return nil, err
	}

	logf("limits: spawn, commit, HTTP round trip")
	if rep.Limits, err = measureLimits(ctx, db.DSN, cfg); err != nil {
		return nil, fmt.Errorf("limits: %w", err)
	}

	logf("starting a web server and %d executors", cfg.Executors)
	cl, err := startCluster(ctx, bin, db.DSN, filepath.Join(tmp, "cluster"), cfg.Executors, st.Store, logf)
	cleanups = append(cleanups, func(cctx context.Context) {
		if cl != nil {
			cl.stop(cctx)
		}
	})
	if err != nil {
		if ctx.Err() == nil {
			cl.dumpLogs(cfg.Log, 20)
		}
		return nil, fmt.Errorf("cluster: %w", err)
	}
	rep.Config.Auth = cl.auth
	if err := measureCluster(ctx, cl, st, cfg, rep, logf); err != nil {
		if ctx.Err() == nil {
			// Show what the daemons said last.
			cl.dumpLogs(cfg.Log, 20)
		}
		return nil, err
	}
	logf("stopping the cluster")
	cl.stop(ctx)

	scaleDB, err := benchdb.CreateScratchDatabase(ctx, cfg.ServerDSN, "crawlbench")
	if err != nil {
		return nil, err
	}
	dropOnExit(scaleDB)
	logf("scale: database %s", scaleDB.Name)
	if rep.Scale, err = measureScale(ctx, scaleDB.DSN, cfg, rep.Limits, began.Add(runLimit(cfg)), logf); err != nil {
		return nil, fmt.Errorf("scale: %w", err)
	}

	rep.TotalS = time.Since(began).Seconds()
	writeTable(cfg.Table, rep)
	if cfg.Out != "" {
		if err := writeJSON(cfg.Out, rep); err != nil {
			return rep, err
		}
		logf("wrote %s", cfg.Out)
	}
	return rep, nil
}

// measureCluster runs the phases that need the daemons.
func measureCluster(ctx context.Context, cl *cluster, st db, cfg Config, rep *Report, logf func(string, ...any)) error {
	var err error
	logf("latency: %d sequential runs of flow one", cfg.Runs)
	if rep.Latency, err = measureLatency(ctx, cl.api, cfg.Runs, cfg.LatencyPoll, rep.Limits.SpawnMs, logf); err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	// A submit's first job cannot start sooner than one spawn, the
	// submit's, the claim's and the job start's commits, and two round
	// trips (the submit call, the nudge).
	l := rep.Limits
	rep.Latency.StartLimitMs = l.SpawnMs + 3*l.CommitMs + 2*l.HTTPRTTMs
	rep.Latency.StartRatioToLimit = ratio(rep.Latency.SubmitToStart.P50, rep.Latency.StartLimitMs)
	logf("chain40: %d runs", cfg.Chain40Runs)
	if rep.Chain40, err = measureChain40(ctx, cl.api, cfg.Chain40Runs, rep.Limits.SpawnMs); err != nil {
		return fmt.Errorf("chain40: %w", err)
	}
	logf("cli: %d runs of crawlctl flow run --wait and exec wait", cfg.CLIRuns)
	if rep.CLIWait, err = measureCLIWait(ctx, cl, cl.Config().Bin, cfg.CLIRuns, cfg.Chain40Runs); err != nil {
		return fmt.Errorf("cli: %w", err)
	}
	logf("throughput: %d clients for %s", cfg.Clients, cfg.Duration)
	if rep.Throughput, err = measureThroughput(ctx, cl, st, cfg, rep.Limits, logf); err != nil {
		return fmt.Errorf("throughput: %w", err)
	}
	if cfg.SoakExecutions < 0 {
		logf("soak: skipped")
		return nil
	}
	if rep.Soak, err = measureSoak(ctx, cl, st, cfg, pruneWith(st), logf); err != nil {
		return fmt.Errorf("soak: %w", err)
	}
	return nil
}

// runLimit is how long a run may take: the deep-queue claim samples stop
// early (keeping at least 20) to stay within it.
func runLimit(cfg Config) time.Duration {
	if cfg.Quick {
		return 55 * time.Second
	}
	return 170 * time.Second
}

func writeJSON(path string, rep *Report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return os.Rename(tmp, path)
}
