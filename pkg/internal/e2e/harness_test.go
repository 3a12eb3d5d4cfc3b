package e2e

import (
	"context"
	"slices"
	"testing"

	"github.com/crawlctl/crawlctl/pkg/client"
	"github.com/crawlctl/crawlctl/pkg/internal/testcluster"
)

// TestHarnessOptions: the executors, labels, activation and flags that
// Options ask for are what the cluster runs, and Client reads them as the
// admin.
func TestHarnessOptions(t *testing.T) {
	c := testcluster.New(t, func(o *testcluster.Options) {
		o.Executors = 2
		o.Activate = true
		o.Labels = map[string]string{"zone": "a", "tier": "bulk"}
		o.ExecutorFlags = []string{"--max-flows", "3"}
	})
	if n := len(c.Webs()); n != 1 {
		t.Fatalf("%d web servers, want 1", n)
	}
	var names []string
	for _, p := range c.Executors() {
		names = append(names, p.Name)
		if !slices.Contains(p.Cmd.Args, "--max-flows") {
			t.Errorf("%s started without the extra flag: %q", p.Name, p.Cmd.Args)
		}
	}
	if !slices.Equal(names, []string{"exec-1", "exec-2"}) {
		t.Fatalf("executors %q, want exec-1 and exec-2", names)
	}
	for _, n := range names {
		e := waitExecutor(t, c, n, "active and online", func(e executorJSON) bool { return e.Active && e.Status == "online" })
		if e.Labels["zone"] != "a" || e.Labels["tier"] != "bulk" {
			t.Errorf("%s labels %v", n, e.Labels)
		}
	}
	var who struct{ User, Role string }
	c.Read(&who, func(ctx context.Context, cl *client.Client) (any, error) { return cl.WhoAmI(ctx) })
	if who.User != "admin" || who.Role != "admin" {
		t.Fatalf("the cluster's client is %+v, want the admin", who)
	}
}
