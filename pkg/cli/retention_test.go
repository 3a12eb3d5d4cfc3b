package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRetentionFlagValues(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"0": 0, "90d": 90 * day, "1d12h": 36 * time.Hour, "36h": 36 * time.Hour, "5m": 5 * time.Minute, "200ms": 200 * time.Millisecond, " 7d ": 7 * day,
	} {
		if got, err := parseDays(in); err != nil || got != want {
			t.Errorf("parseDays(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"3x", "", "d", "-1d", "-5m", "1.5d", "90 days", "1d-1h"} {
		if got, err := parseDays(in); err == nil {
			t.Errorf("parseDays(%q) = %v, want an error", in, got)
		}
	}
	for in, want := range map[string]int64{
		"0": 0, "5GiB": 5 << 30, "500MiB": 500 << 20, "64kib": 64 << 10, "5G": 5 << 30, "5GB": 5e9, "1024": 1024, "10B": 10, "2TiB": 2 << 40,
	} {
		var n int64
		if err := (byteSize{&n}).Set(in); err != nil || n != want {
			t.Errorf("size %q = %d, %v; want %d", in, n, err, want)
		}
	}
	for _, in := range []string{"5XB", "GiB", "-1GiB", "1.5GiB", "99999999TiB"} {
		var n int64
		if err := (byteSize{&n}).Set(in); err == nil {
			t.Errorf("size %q = %d, want an error", in, n)
		}
	}
	n := int64(5 << 30)
	if s := (byteSize{&n}).String(); s != "5GiB" {
		t.Errorf("5 GiB shows as %q", s)
	}
}

// TestPruneCommand: crawlctl prune reads its flags, refuses bad ones with
// exit 2, and prints a table of what it would delete.
func TestPruneCommand(t *testing.T) {
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "crawlctl.db")
	ctx := context.Background()
	run := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := Main(ctx, args, &out, &errb)
		return code, out.String() + errb.String()
	}
	if code, out := run("migrate", "up", "--db", dsn); code != 0 {
		t.Fatalf("migrate: %d %s", code, out)
	}
	for _, bad := range [][]string{{"--retain-executions", "3x"}, {"--retain-versions", "-1"}, {"--retain-logs", "-1h"}} {
		code, out := run(append([]string{"prune", "--db", dsn}, bad...)...)
		if code != ExitUsage || !strings.Contains(out, bad[0]) {
			t.Errorf("prune %s: exit %d, want %d and a message naming the flag: %s", strings.Join(bad, " "), code, ExitUsage, out)
		}
	}
	code, out := run("prune", "--db", dsn, "--dry-run", "--retain-executions", "1d")
	if code != 0 || !strings.Contains(out, "WOULD DELETE") || !strings.Contains(out, "execution_logs") || !strings.Contains(out, "dry run: nothing was deleted") {
		t.Fatalf("prune --dry-run: exit %d: %s", code, out)
	}
	if code, out := run("prune", "--db", dsn, "-o", "json"); code != 0 || !strings.Contains(out, `"total": 0`) {
		t.Fatalf("prune -o json: exit %d: %s", code, out)
	}
}
