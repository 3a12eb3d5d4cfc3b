package e2e

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/testcluster"
)

func TestConcurrentSkipAndAllExecutors(t *testing.T) {
	c := testcluster.New(t)
	c.StartWeb()
	for _, n := range []string{"x", "y", "z"} {
		c.StartExecutor(n)
	}
	c.MustCLI("executor", "activate", "x", "y")
	gate := filepath.Join(t.TempDir(), "gate")
	c.MustCLI("project", "upload", writeProject(t, map[string]string{
		"hold":  oneJob(fmt.Sprintf("while [ ! -e %s ]; do sleep 0.05; done", gate)),
		"where": oneJob("echo ran on this executor"),
	}), "--name", "p")

	first := submit(t, c, "p", "hold", "--concurrent", "skip")
	waitStatus(t, c, first, 20*time.Second, "RUNNING")
	r := c.CLI("flow", "run", "p", "hold", "--concurrent", "skip")
	if r.Code != 0 || !strings.Contains(r.Stdout, fmt.Sprintf("execution %d", first)) || !strings.Contains(r.Stdout, "not submitted") {
		t.Fatalf("skip: %+v", r)
	}
	var running []execJSON
	c.Read(&running, executions("hold", 50))
	if len(running) != 1 {
		t.Fatalf("skip submitted anyway: %d executions", len(running))
	}
	// queue: submitted, waits for the first, then runs.
	queued := submit(t, c, "p", "hold", "--concurrent", "queue")
	c.WaitFor(10*time.Second, "queued with a reason", func() (bool, string) {
		e := showExec(c, queued)
		return e.Status == "QUEUED" && strings.Contains(e.WaitReason, strconv.FormatInt(first, 10)), toJSON(e)
	})
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, c, first, 20*time.Second, "SUCCEEDED")
	waitStatus(t, c, queued, 20*time.Second, "SUCCEEDED")

	// --all-executors: one execution per active online executor.
	out := c.MustCLI("flow", "run", "p", "where", "--all-executors", "--wait")
	if n := strings.Count(out, "submitted execution"); n != 2 {
		t.Fatalf("--all-executors submitted %d executions, want 2:\n%s", n, out)
	}
	var list []execJSON
	c.Read(&list, executions("where", 50))
	ran := map[string]bool{}
	for _, e := range list {
		ran[e.ExecutorName] = true
	}
	if !ran["x"] || !ran["y"] || ran["z"] {
		t.Fatalf("--all-executors ran on %v, want x and y", ran)
	}
}

func TestLogsFollow(t *testing.T) {
	c := testcluster.New(t, func(o *testcluster.Options) {
		o.Dialect = "sqlite"
		o.ExecutorNames = []string{"f"}
		o.Activate = true
	})
	gate := filepath.Join(t.TempDir(), "gate")
	c.MustCLI("project", "upload", writeProject(t, map[string]string{
		"talk": oneJob(fmt.Sprintf("echo first; while [ ! -e %s ]; do sleep 0.05; done; echo second", gate)),
	}), "--name", "p")
	id := submit(t, c, "p", "talk")
	cmd := exec.Command(c.Bin, "exec", "logs", strconv.FormatInt(id, 10), "--job", "job", "--follow", "--server", c.Server())
	cmd.Env = append(os.Environ(), c.Env()...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	select {
	case l := <-lines:
		if l != "first" {
			t.Fatalf("first line %q", l)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("--follow printed nothing while the job ran")
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var rest []string
	for l := range lines {
		rest = append(rest, l)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("logs --follow: %v", err)
	}
	if strings.Join(rest, "|") != "second" {
		t.Fatalf("rest of the log %q, want second; --follow must end with the execution", rest)
	}
}

// TestQuickstart scripts what `make run` does: solo on a temp data dir, the
// example project uploaded and its flow run to SUCCEEDED, then a clean Ctrl-C.
func TestQuickstart(t *testing.T) {
	bin := testcluster.Binary(t)
	root := repoRoot()
	listen := fmt.Sprintf("127.0.0.1:%d", testcluster.FreePort(t))
	cmd := exec.Command(filepath.Join(root, "scripts", "quickstart.sh"), "--bin", bin, "--data-dir", t.TempDir(), "--listen", listen)
	cmd.Dir = root
	// No token is typed anywhere: solo saves its admin token for the CLI.
	// The user's own CRAWLCTL_SERVER and CRAWLCTL_TOKEN point elsewhere: the
	// script talks only to the solo it started.
	config := t.TempDir()
	cmd.Env = append(withoutToken(os.Environ()), "XDG_CONFIG_HOME="+config, "CRAWLCTL_SERVER=http://127.0.0.1:1", "CRAWLCTL_TOKEN=cct_not_a_token")
	out := &lockedOutput{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	testcluster.WaitFor(t, 60*time.Second, "the quickstart to finish its run", func() (bool, string) {
		select {
		case err := <-done:
			t.Fatalf("quickstart exited early: %v\n%s", err, out.String())
		default:
		}
		return strings.Contains(out.String(), "Ctrl-C stops it."), out.String()
	})
	text := out.String()
	for _, want := range []string{"crawlctl solo keeps running on http://" + listen, "uploaded hello-crawl version 1", "SUCCEEDED", "crawling 3 news pages of example.org",
		"\n  " + bin + " --server http://" + listen + " executor list\n", "unset it, or add --token-file"} {
		if !strings.Contains(text, want) {
			t.Fatalf("quickstart output lacks %q:\n%s", want, text)
		}
	}
	if n := strings.Count(text, "Try"); n != 1 {
		t.Fatalf("quickstart prints %d Try blocks, want one:\n%s", n, text)
	}
	// The CLI works against solo like against a cluster.
	r := exec.Command(bin, "executor", "list", "-o", "json", "--server", "http://"+listen)
	r.Env = append(withoutToken(os.Environ()), "XDG_CONFIG_HOME="+config)
	b, err := r.Output()
	if err != nil || !strings.Contains(string(b), `"active": true`) || !strings.Contains(string(b), `"name": "solo"`) {
		t.Fatalf("executor list against solo: %v %s", err, b)
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("quickstart did not stop cleanly on Ctrl-C: %v\n%s", err, out.String())
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("quickstart did not stop on Ctrl-C:\n%s", out.String())
	}
}

func withoutToken(env []string) []string {
	out := env[:0:0]
	for _, e := range env {
		if !strings.HasPrefix(e, "CRAWLCTL_TOKEN=") && !strings.HasPrefix(e, "XDG_CONFIG_HOME=") {
			out = append(out, e)
		}
	}
	return out
}
