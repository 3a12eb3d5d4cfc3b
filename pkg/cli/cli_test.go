package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/crawlctl/crawlctl/pkg/internal/config"
	"github.com/crawlctl/crawlctl/pkg/internal/executor"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

// TestSoloListensOnLoopbackByDefault: `crawlctl solo` with no flags must not
// be reachable from other hosts.
func TestSoloListensOnLoopbackByDefault(t *testing.T) {
	root := NewRoot(io.Discard, io.Discard)
	solo, _, err := root.Find([]string{"solo"})
	if err != nil {
		t.Fatal(err)
	}
	if got := solo.Flags().Lookup("listen").DefValue; got != "127.0.0.1:8081" {
		t.Fatalf("solo --listen defaults to %q, want 127.0.0.1:8081", got)
	}
}

// TestDaemonsRefuseWithoutAuth: web serve and executor serve need a cluster
// secret or an explicit --insecure, before they touch anything.
func TestDaemonsRefuseWithoutAuth(t *testing.T) {
	t.Setenv("CRAWLCTL_CLUSTER_SECRET", "")
	for _, args := range [][]string{{"web", "serve", "--db", "sqlite:///nonexistent/x.db"}, {"executor", "serve", "--db", "sqlite:///nonexistent/x.db"}} {
		var stderr stringsBuilder
		if code := Main(t.Context(), args, io.Discard, &stderr); code != ExitUsage {
			t.Fatalf("%v: exit %d (%s), want %d", args, code, stderr.String(), ExitUsage)
		}
		if s := stderr.String(); !contains(s, "--cluster-secret-file") || !contains(s, "--insecure") {
			t.Fatalf("%v: %q does not say how to configure auth", args, s)
		}
	}
}

type stringsBuilder = strings.Builder

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// TestExitCodesOfDaemonErrors: a bad database setting or a taken port is the
// operator's mistake (exit 2) even where the daemon marks its failures as
// server errors (exit 3); the message is the store's or executor's own.
func TestExitCodesOfDaemonErrors(t *testing.T) {
	for _, dsn := range []string{"", "postgres://db/x", "mysql://u@h:3306/"} {
		_, err := store.Open(t.Context(), dsn)
		if err == nil {
			t.Fatalf("Open(%q) succeeded", dsn)
		}
		if code := exitCode(withCode(ExitServer, err)); code != ExitUsage {
			t.Errorf("Open(%q): %v: exit %d, want %d", dsn, err, code, ExitUsage)
		}
		if s := err.Error(); !strings.HasPrefix(s, "no database configured") && !strings.HasPrefix(s, "bad --db") {
			t.Errorf("Open(%q): message %q", dsn, s)
		}
	}
	portErr := fmt.Errorf("port 12321 is %w: stop whatever listens there", executor.ErrPortInUse)
	if code := exitCode(withCode(ExitServer, portErr)); code != ExitUsage {
		t.Errorf("%v: exit %d", portErr, code)
	}
	if code := exitCode(withCode(ExitServer, errors.New("database 127.0.0.1:3306 unreachable"))); code != ExitServer {
		t.Errorf("unreachable database: exit %d", code)
	}
}

// TestConfigFileKeys: the shipped example holds only known keys; a misspelt
// one is refused with the file, the key and what was meant.
func TestConfigFileKeys(t *testing.T) {
	for _, args := range [][]string{{"version"}} {
		var stderr strings.Builder
		if code := Main(t.Context(), append(args, "--config", "../../configs/crawlctl.yaml"), io.Discard, &stderr); code != ExitOK {
			t.Fatalf("%v with the shipped config: exit %d: %s", args, code, stderr.String())
		}
	}
	path := t.TempDir() + "/crawlctl.yaml"
	if err := os.WriteFile(path, []byte("executor:\n  heartbeet: 5s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	code := Main(t.Context(), []string{"version", "--config", path}, io.Discard, &stderr)
	want := fmt.Sprintf(`config %s: unknown key "executor.heartbeet" (did you mean "executor.heartbeat"?)`, path)
	if code != ExitUsage || !strings.Contains(stderr.String(), want) {
		t.Errorf("exit %d, %q; want %d and %s", code, stderr.String(), ExitUsage, want)
	}
}

// --db-file gives the DSN from a file; between --db and --db-file the
// stronger source wins (command line, environment, config file), and the
// same source for both is an error.
func TestDBFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "db.dsn")
	if err := os.WriteFile(file, []byte("mysql://u:pw@db:3306/x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CRAWLCTL_DB", "")
	t.Setenv("CRAWLCTL_DB_FILE", "")
	for _, c := range []struct {
		args    []string
		env     map[string]string
		want    string
		wantErr string
	}{
		{args: []string{"--db-file", file}, want: "mysql://u:pw@db:3306/x"},
		{args: []string{"--db", "sqlite:///a.db"}, want: "sqlite:///a.db"},
		{args: []string{"--db-file", file}, env: map[string]string{"CRAWLCTL_DB": "sqlite:///env.db"}, want: "mysql://u:pw@db:3306/x"},
		{args: []string{"--db", "sqlite:///a.db"}, env: map[string]string{"CRAWLCTL_DB_FILE": file}, want: "sqlite:///a.db"},
		{env: map[string]string{"CRAWLCTL_DB_FILE": file}, want: "mysql://u:pw@db:3306/x"},
		{args: []string{"--db", "sqlite:///a.db", "--db-file", file}, wantErr: "not both"},
		{env: map[string]string{"CRAWLCTL_DB": "sqlite:///env.db", "CRAWLCTL_DB_FILE": file}, wantErr: "not both"},
	} {
		for k, v := range c.env {
			t.Setenv(k, v)
		}
		var db dbSetting
		fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
		db.flags(fs, "")
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		if err := config.Apply(fs, "", config.File{}); err != nil {
			t.Fatal(err)
		}
		got, err := db.resolve()
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%v %v: %q, %v; want an error saying %q", c.args, c.env, got, err, c.wantErr)
			}
		} else if err != nil || got != c.want {
			t.Errorf("%v %v: %q, %v; want %q", c.args, c.env, got, err, c.want)
		}
		for k := range c.env {
			t.Setenv(k, "")
		}
	}
}
