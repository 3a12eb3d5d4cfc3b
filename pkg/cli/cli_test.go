package cli

import (
	"io"
	"strings"
	"testing"
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
