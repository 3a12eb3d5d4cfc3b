package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/bench"
)

// requiredKeys must be in every report, each a number above zero.
var requiredKeys = []string{
	"machine.cores",
	"limits.spawn_ms", "limits.spawns_per_s", "limits.spawns_per_s_parallel_2",
	"limits.commit_ms", "limits.commits_per_s_parallel_16", "limits.http_rtt_ms",
	"latency.submit_to_start.p50", "latency.submit_to_start.p90", "latency.submit_to_start.p99", "latency.submit_to_start.max",
	"latency.submit_to_start.p50_ratio_to_spawn", "latency.submit_to_start.p99_ratio_to_spawn",
	"latency.submit_to_done.p50", "latency.submit_to_done.p90", "latency.submit_to_done.p99", "latency.submit_to_done.max",
	"latency.submit_to_done.p50_ratio_to_spawn", "latency.submit_to_done.p99_ratio_to_spawn",
	"latency.start_limit_ms", "latency.start_ratio_to_limit",
	"cli_wait.process_ms", "cli_wait.one_wall_ms", "cli_wait.one_late_ms", "cli_wait.chain_wall_ms", "cli_wait.exec_wait_late_ms",
	"soak.executions", "soak.deleted", "soak.prune_s", "soak.before.start_p50_ms", "soak.during.start_p50_ms", "soak.after.start_p50_ms",
	"soak.sizes_before.execution_logs.rows",
	"chain40.total_ms", "chain40.per_job_overhead_ms", "chain40.ratio_to_spawn",
	"throughput.flows_per_s", "throughput.ratio_to_spawn_limit", "throughput.completed",
	"scale.dispatch_rate_4", "scale.dispatch_rate_1000", "scale.dispatch_rate_ratio_1000_vs_4",
	"scale.claim_p50_ms_at_100k_queued", "scale.claim_p99_ms_at_100k_queued", "scale.queued",
	"scale.claim_p50_ratio_to_commit",
}

// requiredText must be non-empty strings.
var requiredText = []string{"machine.go_version", "machine.database", "machine.os", "machine.kernel", "machine.date"}

// TestRunSmoke runs the whole benchmark with tiny counts against the
// MySQL/MariaDB of CRAWLCTL_TEST_MYSQL_DSN and checks the report's shape.
// It asserts nothing about speed. Without a database it fails.
func TestRunSmoke(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out", "bench.json")
	log := &lineLogger{t: t}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	_, err := bench.Run(ctx, bench.Config{
		Out:             out,
		Executors:       2,
		Runs:            5,
		Duration:        time.Second,
		Chain40Runs:     1,
		CLIRuns:         2,
		SoakExecutions:  1500,
		SoakRuns:        2,
		LimitSamples:    30,
		HTTPSamples:     100,
		ScaleExecutions: 200,
		ScaleExecutors:  50,
		BulkQueued:      500,
		ClaimSamples:    5,
		Log:             log,
		Table:           log,
	})
	if err != nil {
		t.Fatalf("benchmark failed: %v", err)
	}

	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("no report: %v", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, b)
	}
	for _, key := range requiredKeys {
		v, ok := lookup(doc, key)
		if !ok {
			t.Errorf("report has no %s", key)
			continue
		}
		n, ok := v.(float64)
		if !ok || !(n > 0) {
			t.Errorf("%s = %v, want a number > 0", key, v)
		}
	}
	for _, key := range requiredText {
		v, ok := lookup(doc, key)
		if s, isString := v.(string); !ok || !isString || s == "" {
			t.Errorf("%s = %v, want a non-empty string", key, v)
		}
	}
	if t.Failed() {
		t.Logf("report:\n%s", b)
	}
}

// TestRunFailsWithoutDatabase checks that an unreachable server is an
// error, not a silent pass.
func TestRunFailsWithoutDatabase(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Port 1 on loopback: nothing listens there.
	_, err := bench.Run(ctx, bench.Config{ServerDSN: "root@tcp(127.0.0.1:1)/?timeout=2s", Bin: "/nonexistent/crawlctl", Out: filepath.Join(t.TempDir(), "x.json")})
	if err == nil {
		t.Fatal("Run succeeded without a database")
	}
	if !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("error does not name the server: %v", err)
	}
}

// lookup follows a dotted path through nested JSON objects.
func lookup(doc map[string]any, path string) (any, bool) {
	var cur any = doc
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// lineLogger writes whole lines to the test log.
type lineLogger struct {
	t   *testing.T
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	for {
		line, err := l.buf.ReadString('\n')
		if err != nil {
			l.buf.WriteString(line)
			return len(p), nil
		}
		l.t.Log(strings.TrimRight(line, "\n"))
	}
}
