package cli

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/crawlctl/crawlctl/pkg/config"
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
