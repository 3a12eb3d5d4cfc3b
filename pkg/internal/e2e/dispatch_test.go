package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/client"
	"github.com/crawlctl/crawlctl/pkg/internal/testcluster"
)

type execJSON struct {
	ID           int64  `json:"id"`
	Project      string `json:"project"`
	Flow         string `json:"flow"`
	Status       string `json:"status"`
	ExecutorID   *int64 `json:"executor_id"`
	ExecutorName string `json:"executor_name"`
	Attempt      int    `json:"attempt"`
	WaitReason   string `json:"wait_reason"`
	Error        string `json:"error"`
	Jobs         []struct {
		Name     string `json:"name"`
		Status   string `json:"status"`
		Attempt  int    `json:"attempt"`
		ExitCode *int   `json:"exit_code"`
	} `json:"jobs"`
}

// writeProject writes a Flow 2.0 project with one flow per entry of flows
// (flow name -> YAML body of the .flow file) and returns its directory.
func writeProject(t *testing.T, flows map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "proj")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("p.project", "azkaban-flow-version: 2.0\n")
	for name, body := range flows {
		write(name+".flow", body)
	}
	return dir
}

func oneJob(cmd string) string {
	return fmt.Sprintf("nodes:\n  - name: job\n    type: command\n    config:\n      command: %q\n", cmd)
}

// showExec is one execution, as `crawlctl exec show ID -o json` prints it.
func showExec(c *testcluster.Cluster, id int64) execJSON {
	var e execJSON
	c.Read(&e, execution(id))
	return e
}

// execution reads one execution (exec show).
func execution(id int64) func(context.Context, *client.Client) (any, error) {
	return func(ctx context.Context, cl *client.Client) (any, error) { return cl.Execution(ctx, id) }
}

// executions reads the newest executions of flow ("" for all), at most
// limit (exec list --flow FLOW --limit LIMIT).
func executions(flow string, limit int) func(context.Context, *client.Client) (any, error) {
	return func(ctx context.Context, cl *client.Client) (any, error) {
		return cl.Executions(ctx, "", "", flow, limit)
	}
}

// schedule reads one schedule (schedule show).
func schedule(id int64) func(context.Context, *client.Client) (any, error) {
	return func(ctx context.Context, cl *client.Client) (any, error) { return cl.Schedule(ctx, id) }
}

// projectList reads every project (project list).
func projectList(ctx context.Context, cl *client.Client) (any, error) { return cl.Projects(ctx) }

// executors reads every executor (executor list).
func executors(ctx context.Context, cl *client.Client) (any, error) { return cl.Executors(ctx) }

func submit(t *testing.T, c *testcluster.Cluster, args ...string) int64 {
	t.Helper()
	out := c.MustCLI(append([]string{"flow", "run"}, args...)...)
	id, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	if err != nil {
		t.Fatalf("flow run printed %q, want an execution id", out)
	}
	return id
}

func waitStatus(t *testing.T, c *testcluster.Cluster, id int64, timeout time.Duration, want ...string) execJSON {
	t.Helper()
	var e execJSON
	c.WaitFor(timeout, fmt.Sprintf("execution %d %v", id, want), func() (bool, string) {
		e = showExec(c, id)
		for _, w := range want {
			if e.Status == w {
				return true, ""
			}
		}
		return false, toJSON(e)
	})
	return e
}

func TestRandomDispatchToActiveExecutorsOnly(t *testing.T) {
	c := testcluster.New(t)
	c.StartWeb()
	for _, n := range []string{"a", "b", "idle"} {
		c.StartExecutor(n)
	}
	c.MustCLI("executor", "activate", "a", "b")
	c.MustCLI("project", "upload", writeProject(t, map[string]string{"one": oneJob("true")}), "--name", "p")

	const n = 60
	ids := make([]int64, 0, n)
	for i := 0; i < n; i++ {
		ids = append(ids, submit(t, c, "p", "one"))
	}
	counts := map[string]int{}
	for _, id := range ids {
		e := waitStatus(t, c, id, 60*time.Second, "SUCCEEDED", "FAILED", "KILLED")
		if e.Status != "SUCCEEDED" {
			t.Fatalf("execution %d: %s %s", id, e.Status, e.Error)
		}
		counts[e.ExecutorName]++
	}
	if counts["idle"] != 0 {
		t.Fatalf("the never-activated executor ran %d flows", counts["idle"])
	}
	for _, name := range []string{"a", "b"} {
		if counts[name] < n/5 {
			t.Fatalf("executor %s ran %d of %d flows, want at least %d (random choice): %v", name, counts[name], n, n/5, counts)
		}
	}
}

func TestFlowWaitsForAnActiveExecutor(t *testing.T) {
	c := testcluster.New(t)
	c.StartWeb()
	c.StartExecutor("only")
	c.MustCLI("project", "upload", writeProject(t, map[string]string{"one": oneJob("echo hello from the job")}), "--name", "p")
	id := submit(t, c, "p", "one")
	c.WaitFor(10*time.Second, "a waiting reason", func() (bool, string) {
		e := showExec(c, id)
		return e.Status == "QUEUED" && strings.Contains(e.WaitReason, "no active online executor"), toJSON(e)
	})
	if out := c.MustCLI("exec", "show", strconv.FormatInt(id, 10)); !strings.Contains(out, "no active online executor") {
		t.Fatalf("exec show does not say why it waits:\n%s", out)
	}
	c.MustCLI("executor", "activate", "only")
	e := waitStatus(t, c, id, 20*time.Second, "SUCCEEDED")
	if e.ExecutorName != "only" || len(e.Jobs) != 1 || e.Jobs[0].ExitCode == nil || *e.Jobs[0].ExitCode != 0 {
		t.Fatalf("execution: %+v", e)
	}
	if out := c.MustCLI("exec", "logs", strconv.FormatInt(id, 10), "--job", "job"); !strings.Contains(out, "hello from the job") {
		t.Fatalf("job log: %q", out)
	}
	if r := c.CLI("exec", "logs", strconv.FormatInt(id, 10), "--job", "nope"); r.Code != 2 || !strings.Contains(r.Stderr, `no job "nope"`) {
		t.Fatalf("logs of unknown job: %+v", r)
	}
}

func TestDeactivateLetsRunningFlowsFinish(t *testing.T) {
	c := testcluster.New(t)
	c.StartWeb()
	c.StartExecutor("x")
	c.StartExecutor("y")
	c.MustCLI("executor", "activate", "x")
	dir := t.TempDir()
	gate := filepath.Join(dir, "gate")
	c.MustCLI("project", "upload", writeProject(t, map[string]string{
		"slow": oneJob(fmt.Sprintf("while [ ! -e %s ]; do sleep 0.05; done", gate)),
		"fast": oneJob("true"),
	}), "--name", "p")
	slow := submit(t, c, "p", "slow")
	waitStatus(t, c, slow, 20*time.Second, "RUNNING")
	c.MustCLI("executor", "activate", "y")
	c.MustCLI("executor", "deactivate", "x")
	var fast []int64
	for i := 0; i < 10; i++ {
		fast = append(fast, submit(t, c, "p", "fast"))
	}
	for _, id := range fast {
		if e := waitStatus(t, c, id, 30*time.Second, "SUCCEEDED", "FAILED"); e.ExecutorName != "y" || e.Status != "SUCCEEDED" {
			t.Fatalf("after deactivating x, execution %d went to %s (%s)", id, e.ExecutorName, e.Status)
		}
	}
	if e := showExec(c, slow); e.Status != "RUNNING" || e.ExecutorName != "x" {
		t.Fatalf("the running flow on x was disturbed: %+v", e)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, c, slow, 20*time.Second, "SUCCEEDED")
}

func TestExecutorLost(t *testing.T) {
	c := testcluster.New(t)
	c.StartWeb()
	a := c.StartExecutor("a")
	c.MustCLI("executor", "activate", "a")
	marker := filepath.Join(t.TempDir(), "first-attempt")
	c.MustCLI("project", "upload", writeProject(t, map[string]string{
		"sleepy": oneJob("sleep 30"),
		// The first attempt leaves a marker and hangs; a retry finds it and succeeds.
		"retry": "config:\n  flow.retries: 1\n" + oneJob(fmt.Sprintf("if [ -e %s ]; then echo retried; else touch %s; sleep 30; fi", marker, marker)),
	}), "--name", "p")

	// Without retries: FAILED "executor lost" soon after the threshold.
	id := submit(t, c, "p", "sleepy")
	waitStatus(t, c, id, 20*time.Second, "RUNNING")
	a.Signal(syscall.SIGKILL)
	<-a.Done()
	e := waitStatus(t, c, id, 20*time.Second, "FAILED")
	if !strings.Contains(e.Error, "executor lost") {
		t.Fatalf("error %q, want 'executor lost'", e.Error)
	}

	// With flow.retries=1: re-queued as a new attempt and run by another executor.
	b := c.StartExecutor("b")
	c.MustCLI("executor", "activate", "b")
	id = submit(t, c, "p", "retry")
	waitStatus(t, c, id, 20*time.Second, "RUNNING")
	c.WaitFor(10*time.Second, "first attempt started", func() (bool, string) {
		_, err := os.Stat(marker)
		return err == nil, fmt.Sprint(err)
	})
	c.StartExecutor("c")
	c.MustCLI("executor", "activate", "c")
	b.Signal(syscall.SIGKILL)
	<-b.Done()
	e = waitStatus(t, c, id, 30*time.Second, "SUCCEEDED", "FAILED")
	if e.Status != "SUCCEEDED" || e.ExecutorName != "c" || e.Attempt < 2 {
		t.Fatalf("retried execution: %+v", e)
	}
	if out := c.MustCLI("exec", "logs", strconv.FormatInt(id, 10), "--job", "job"); !strings.Contains(out, "retried") {
		t.Fatalf("log of the retry: %q", out)
	}
}

func TestTwoWebServersRunEachExecutionOnce(t *testing.T) {
	c := testcluster.New(t)
	w1 := c.StartWeb()
	w2 := c.StartWeb()
	for _, n := range []string{"e1", "e2", "e3"} {
		c.StartExecutor(n)
	}
	c.MustCLI("executor", "activate", "e1", "e2", "e3")
	ledger := filepath.Join(t.TempDir(), "ledger")
	c.MustCLI("project", "upload", writeProject(t, map[string]string{"once": oneJob(`echo "${azkaban.flow.execid}" >> ` + ledger)}), "--name", "p")

	const n = 300
	ids := submitManyTo(t, c, []string{"http://" + w1.Addr, "http://" + w2.Addr}, "p", "once", n)
	c.WaitFor(3*time.Minute, "all executions ended", func() (bool, string) {
		var list []execJSON
		c.Read(&list, executions("", 1000))
		done := 0
		for _, e := range list {
			if e.Status == "SUCCEEDED" {
				done++
			} else if e.Status == "FAILED" || e.Status == "KILLED" {
				t.Fatalf("execution %d %s: %s", e.ID, e.Status, e.Error)
			}
		}
		return done == n, fmt.Sprintf("%d of %d succeeded", done, n)
	})
	data, err := os.ReadFile(ledger)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, line := range strings.Fields(string(data)) {
		seen[line]++
	}
	for _, id := range ids {
		if k := seen[strconv.FormatInt(id, 10)]; k != 1 {
			t.Fatalf("execution %d ran %d times", id, k)
		}
	}
	if len(seen) != n {
		t.Fatalf("ledger has %d distinct executions, want %d", len(seen), n)
	}
}

func TestLostNudgeStillRuns(t *testing.T) {
	c := testcluster.New(t)
	c.StartWeb()
	// The executor advertises 127.0.0.3, where a listener swallows the
	// web server's nudge; the executor itself listens on 127.0.0.1.
	p := c.StartExecutor("unreachable", "--host", "127.0.0.3")
	port := strings.Split(p.Addr, ":")[1]
	ln, err := net.Listen("tcp", "127.0.0.3:"+port)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	nudged := make(chan struct{}, 16)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			nudged <- struct{}{}
			defer conn.Close() // hold it open: the nudge never gets an answer
		}
	}()
	c.MustCLI("executor", "activate", "unreachable")
	c.MustCLI("project", "upload", writeProject(t, map[string]string{"one": oneJob("true")}), "--name", "p")
	id := submit(t, c, "p", "one")
	e := waitStatus(t, c, id, 20*time.Second, "SUCCEEDED", "FAILED")
	if e.Status != "SUCCEEDED" || e.ExecutorName != "unreachable" {
		t.Fatalf("execution: %+v", e)
	}
	select {
	case <-nudged:
	default:
		t.Fatal("the nudge never reached the swallowing listener; the test did not test a lost nudge")
	}
}

func TestCancelKillsTheProcesses(t *testing.T) {
	c := testcluster.New(t, func(o *testcluster.Options) {
		o.ExecutorNames = []string{"k"}
		o.Activate = true
	})
	pidFile := filepath.Join(t.TempDir(), "pid")
	c.MustCLI("project", "upload", writeProject(t, map[string]string{
		"stubborn": oneJob(fmt.Sprintf("trap '' TERM; echo $$ > %s; sleep 300 & sleep 300", pidFile)),
	}), "--name", "p")
	id := submit(t, c, "p", "stubborn")
	var pgid int
	c.WaitFor(20*time.Second, "job pid file", func() (bool, string) {
		b, err := os.ReadFile(pidFile)
		if err != nil {
			return false, err.Error()
		}
		pgid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil, string(b)
	})
	out := c.MustCLI("exec", "cancel", strconv.FormatInt(id, 10))
	if !strings.Contains(out, "KILLING") && !strings.Contains(out, "KILLED") {
		t.Fatalf("cancel said %q", out)
	}
	e := waitStatus(t, c, id, 30*time.Second, "KILLED")
	if len(e.Jobs) != 1 || e.Jobs[0].Status != "KILLED" {
		t.Fatalf("jobs after cancel: %+v", e.Jobs)
	}
	if testcluster.GroupAlive(pgid) {
		t.Fatalf("a process of the job's group %d is still alive after cancel", pgid)
	}
	// flow run --wait on a killed flow exits 1; exec wait too.
	if r := c.CLI("exec", "wait", strconv.FormatInt(id, 10)); r.Code != 1 || !strings.Contains(r.Stderr, "KILLED") {
		t.Fatalf("exec wait on a killed execution: %+v", r)
	}
}

func TestSubmitErrors(t *testing.T) {
	c := testcluster.New(t)
	c.StartWeb()
	c.StartExecutor("e")
	c.MustCLI("project", "upload", writeProject(t, map[string]string{"one": oneJob("exit 3")}), "--name", "p")
	cases := []struct {
		args   []string
		stderr string
	}{
		{[]string{"flow", "run", "nope", "one"}, `no project "nope"`},
		{[]string{"flow", "run", "p", "nope"}, `has no flow "nope"`},
		{[]string{"flow", "run", "p", "one", "--param", "novalue"}, "bad --param"},
		{[]string{"flow", "run", "p", "one", "--executor", "ghost"}, `no executor matches "ghost"`},
		{[]string{"flow", "run", "p", "one", "--concurrent", "sometimes"}, "bad concurrent option"},
		{[]string{"flow", "run", "p", "one", "--failure-action", "panic"}, "bad failure action"},
		{[]string{"exec", "show", "abc"}, "bad execution id"},
		{[]string{"exec", "show", "999999"}, "not found"},
	}
	for _, tc := range cases {
		r := c.CLI(tc.args...)
		if r.Code != 2 || !strings.Contains(r.Stderr, tc.stderr) {
			t.Errorf("%v: exit %d %q; want 2 and %q", tc.args, r.Code, r.Stderr, tc.stderr)
		}
	}
	// A failing flow: --wait exits 1 and says which job failed.
	c.MustCLI("executor", "activate", "e")
	r := c.CLI("flow", "run", "p", "one", "--wait")
	if r.Code != 1 || !strings.Contains(r.Stderr, "FAILED") || !strings.Contains(r.Stderr, "job") {
		t.Fatalf("failing flow --wait: %+v", r)
	}
}
