package e2e

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/testcluster"
)

// TestLabelRouting: flows with a selector run only on executors with those
// labels, uniformly among them; a selector nobody matches waits with the
// reason until a matching executor is activated; labels change at run
// time; a broadcast with a selector reaches only the matching executors.
func TestLabelRouting(t *testing.T) {
	c := testcluster.New(t)
	c.StartWeb()
	c.StartExecutor("eu1", "--label", "region=eu")
	c.StartExecutor("eu2", "--label", "region=eu", "--label", "gpu=true")
	c.StartExecutor("us1", "--label", "region=us")
	c.MustCLI("executor", "activate", "eu1", "eu2", "us1")
	c.MustCLI("project", "upload", writeProject(t, map[string]string{
		// The selector in the flow's config, as a Flow 2.0 map...
		"eu": "config:\n  executor.labels:\n    region: eu\n" + oneJob("true"),
		// ...and as Azkaban's string.
		"gpu": "config:\n  executor.labels: gpu=true\n" + oneJob("true"),
		"any": oneJob("true"),
	}), "--name", "p")

	ran := func(ids []int64) map[string]int {
		t.Helper()
		counts := map[string]int{}
		for _, id := range ids {
			e := waitStatus(t, c, id, 60*time.Second, "SUCCEEDED", "FAILED", "KILLED")
			if e.Status != "SUCCEEDED" {
				t.Fatalf("execution %d: %s %s", id, e.Status, e.Error)
			}
			counts[e.ExecutorName]++
		}
		return counts
	}

	// The flow's region=eu: only eu1 and eu2, uniformly.
	const n = 60
	var ids []int64
	for range n {
		ids = append(ids, submit(t, c, "p", "eu"))
	}
	counts := ran(ids)
	if counts["us1"] != 0 || counts["eu1"]+counts["eu2"] != n {
		t.Fatalf("region=eu flows ran on %v", counts)
	}
	chi := 0.0
	for _, name := range []string{"eu1", "eu2"} {
		d := float64(counts[name]) - n/2
		chi += d * d / (n / 2)
	}
	if chi > 10.83 { // chi-square, 1 degree of freedom, p = 0.001
		t.Fatalf("not uniform among the matching executors: %v (chi-square %.1f)", counts, chi)
	}
	var raw map[string]any
	b, _ := json.Marshal(showExecRaw(t, c, ids[0]))
	_ = json.Unmarshal(b, &raw)
	if sel, _ := raw["selector"].(map[string]any); sel["region"] != "eu" {
		t.Fatalf("execution does not show its selector: %s", b)
	}

	// gpu=true from the config, region=us at submit: us1 only; the
	// selector at submit wins over the flow's for the same key.
	ids = ids[:0]
	for range 5 {
		ids = append(ids, submit(t, c, "p", "gpu"))
	}
	if counts := ran(ids); counts["eu2"] != 5 {
		t.Fatalf("gpu=true ran on %v", counts)
	}
	ids = []int64{submit(t, c, "p", "any", "--selector", "region=us"), submit(t, c, "p", "eu", "--selector", "region=us"),
		// Azkaban's flowOverride[executor.labels] arrives as a parameter.
		submit(t, c, "p", "any", "--param", "executor.labels=region=us")}
	if counts := ran(ids); counts["us1"] != 3 {
		t.Fatalf("region=us ran on %v", counts)
	}

	// Nobody is region=ap: it waits and says why.
	ap := submit(t, c, "p", "any", "--selector", "region=ap", "--selector", "tier=1")
	c.WaitFor(10*time.Second, "a waiting reason", func() (bool, string) {
		e := showExec(c, ap)
		return e.Status == "QUEUED" && strings.Contains(e.WaitReason, "no active online executor with region=ap,tier=1 (3 active ones lack it"), toJSON(e)
	})
	// A matching executor that is not active yet changes nothing...
	c.StartExecutor("ap1", "--label", "region=ap", "--label", "tier=1")
	c.WaitFor(10*time.Second, "ap1 registered", func() (bool, string) {
		out := c.MustCLI("executor", "list")
		return strings.Contains(out, "ap1"), out
	})
	if e := showExec(c, ap); e.Status != "QUEUED" {
		t.Fatalf("ran on an inactive executor: %+v", e)
	}
	// ...until it is activated.
	c.MustCLI("executor", "activate", "ap1")
	if e := waitStatus(t, c, ap, 20*time.Second, "SUCCEEDED", "FAILED"); e.ExecutorName != "ap1" || e.Status != "SUCCEEDED" {
		t.Fatalf("region=ap execution: %+v", e)
	}

	// Labels changed on a running executor: flows waiting for them run.
	z := submit(t, c, "p", "any", "--selector", "zone=z9")
	c.WaitFor(10*time.Second, "waiting for zone=z9", func() (bool, string) {
		e := showExec(c, z)
		return e.Status == "QUEUED" && strings.Contains(e.WaitReason, "zone=z9"), toJSON(e)
	})
	out := c.MustCLI("executor", "label", "us1", "zone=z9", "spare=yes")
	if !strings.Contains(out, "zone=z9") {
		t.Fatalf("executor label printed %q", out)
	}
	if e := waitStatus(t, c, z, 20*time.Second, "SUCCEEDED", "FAILED"); e.ExecutorName != "us1" {
		t.Fatalf("zone=z9 execution: %+v", e)
	}
	c.MustCLI("executor", "label", "us1", "spare-")
	show := c.MustCLI("executor", "show", "us1")
	if !strings.Contains(show, "LABELED") || !strings.Contains(show, "labels region=us,spare=yes,zone=z9 (were region=us)") ||
		strings.Contains(strings.SplitN(show, "events:", 2)[0], "spare=yes") {
		t.Fatalf("executor show after label changes:\n%s", show)
	}
	if r := c.CLI("executor", "label", "us1", "bad key=1"); r.Code != 2 {
		t.Fatalf("bad label: %+v", r)
	}

	// A broadcast with a selector: one execution on each matching executor.
	out = c.MustCLI("flow", "run", "p", "any", "--all-executors", "--selector", "region=eu")
	var bids []int64
	for _, f := range strings.Fields(out) {
		id, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			t.Fatalf("broadcast printed %q", out)
		}
		bids = append(bids, id)
	}
	if counts := ran(bids); len(bids) != 2 || counts["eu1"] != 1 || counts["eu2"] != 1 {
		t.Fatalf("broadcast to region=eu: %v", counts)
	}
	if r := c.CLI("flow", "run", "p", "any", "--all-executors", "--selector", "region=mars"); r.Code == 0 || !strings.Contains(r.Stderr, "none has region=mars") {
		t.Fatalf("broadcast to nobody: %+v", r)
	}

	// A schedule keeps its selector for its runs.
	var sc struct {
		ID       int64             `json:"id"`
		Selector map[string]string `json:"selector"`
	}
	c.JSON(&sc, "schedule", "add", "p", "any", "--cron", "0 0 0 1 1 ? 2099", "--selector", "region=us", "-o", "json")
	if sc.Selector["region"] != "us" {
		t.Fatalf("schedule selector: %+v", sc)
	}
}

// showExecRaw reads an execution as the REST API shows it.
func showExecRaw(t *testing.T, c *testcluster.Cluster, id int64) any {
	t.Helper()
	var v any
	c.Read(&v, execution(id))
	return v
}
