// Command crawlbench measures crawlctl on a real loopback cluster against
// this machine's own limits (see pkg/bench). `make bench` runs it with a
// MySQL/MariaDB server in CRAWLCTL_TEST_MYSQL_DSN.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/crawlctl/crawlctl/pkg/bench"
)

func main() {
	var cfg bench.Config
	flag.IntVar(&cfg.Executors, "executors", 4, "executor processes to start")
	flag.BoolVar(&cfg.Quick, "quick", false, "small counts: the whole run takes under a minute")
	flag.StringVar(&cfg.Out, "out", "var/bench/latest.json", "JSON report file (\"\" = none)")
	flag.StringVar(&cfg.Bin, "bin", "", "crawlctl binary (default: build one into a temp dir)")
	flag.IntVar(&cfg.Runs, "runs", 0, "latency samples (default 500; 100 with --quick)")
	flag.DurationVar(&cfg.Duration, "duration", 0, "throughput submission window (default 20s; 5s with --quick)")
	flag.IntVar(&cfg.SoakExecutions, "soak-executions", 0, "ended executions the soak inserts and prunes (default 100,000; 20,000 with --quick; -1 skips the soak, e.g. for a crawlctl without retention)")
	flag.DurationVar(&cfg.LatencyPoll, "latency-poll", time.Millisecond, "how often a latency run is fetched while it runs (the figures come from recorded times)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: crawlbench [flags]\n\n"+
			"Starts a crawlctl web server and executors on loopback against a fresh database on the\n"+
			"MySQL/MariaDB server of $CRAWLCTL_TEST_MYSQL_DSN (default %s), measures\n"+
			"latency, throughput and scale next to this machine's limits, prints a table and writes JSON.\n\n", bench.DefaultServerDSN)
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	cfg.Log, cfg.Table = os.Stderr, os.Stdout

	// Ctrl-C or SIGTERM cancels the run; Run still stops its processes and
	// drops its databases before returning.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	start := time.Now()
	if _, err := bench.Run(ctx, cfg); err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(os.Stderr, "crawlbench: interrupted after %s; its processes are stopped and its databases dropped\n", time.Since(start).Round(time.Second))
			os.Exit(130)
		}
		fmt.Fprintf(os.Stderr, "crawlbench: failed after %s: %v\n", time.Since(start).Round(time.Second), err)
		os.Exit(1)
	}
}
