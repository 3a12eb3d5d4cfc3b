package e2e

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/testcluster"
)

// metric returns the value of the first sample of name whose labels contain
// every one of labels, or -1.
func metric(text, name string, labels ...string) float64 {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `(\{[^}]*\})? ([0-9.e+-]+)$`)
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(m[1], l)
		}
		if ok {
			v, _ := strconv.ParseFloat(m[2], 64)
			return v
		}
	}
	return -1
}

func TestMetrics(t *testing.T) {
	c := testcluster.New(t)
	web := c.StartWeb()
	ex := c.StartExecutor("m")
	c.StartExecutor("idle")
	c.MustCLI("executor", "activate", "m")
	c.MustCLI("project", "upload", writeProject(t, map[string]string{"two": "nodes:\n  - name: a\n    type: command\n    config: {command: 'true'}\n  - name: b\n    type: command\n    dependsOn: [a]\n    config: {command: 'true'}\n"}), "--name", "p")
	id := submit(t, c, "p", "two")
	waitStatus(t, c, id, 20*time.Second, "SUCCEEDED")

	_, text := testcluster.Get(t, "http://"+web.Addr+"/metrics")
	checks := []struct {
		name   string
		labels []string
		min    float64
	}{
		{"crawlctl_executions", []string{`status="SUCCEEDED"`}, 1},
		{"crawlctl_queue_depth", nil, 0},
		{"crawlctl_executors", []string{`active="true"`, `status="online"`}, 1},
		{"crawlctl_executors", []string{`active="false"`, `status="online"`}, 1},
		{"crawlctl_dispatch_latency_seconds_count", nil, 1},
		{"crawlctl_executor_heartbeat_age_seconds", []string{`name="m"`}, 0},
	}
	for _, ch := range checks {
		if v := metric(text, ch.name, ch.labels...); v < ch.min {
			t.Errorf("web %s%v = %v, want >= %v", ch.name, ch.labels, v, ch.min)
		}
	}
	if strings.Contains(text, c.DSN) || strings.Contains(text, "mysql://") {
		t.Error("the DSN appears in /metrics")
	}
	if v := metric(text, "crawlctl_executions", `status="SUCCEEDED"`); v != 1 {
		t.Errorf("SUCCEEDED executions = %v, want exactly 1", v)
	}
	c.WaitFor(10*time.Second, "executor metrics", func() (bool, string) {
		_, text := testcluster.Get(t, "http://"+ex.Addr+"/metrics")
		return metric(text, "crawlctl_executor_job_starts_total") == 2 &&
			metric(text, "crawlctl_executor_claims_total") == 1 &&
			metric(text, "crawlctl_executor_executions_finished_total", `status="SUCCEEDED"`) == 1, text
	})
}
