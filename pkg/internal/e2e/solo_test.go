package e2e

import (
	"encoding/json"
	"net"
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

// started is a process a test started, with its output.
type started struct {
	cmd            *exec.Cmd
	stdout, stderr *lockedOutput
	done           chan struct{}
	code           int
}

// startProc starts cmd in its own process group; the test's cleanup kills
// the group if it is still running.
func startProc(t *testing.T, cmd *exec.Cmd) *started {
	t.Helper()
	p := &started{cmd: cmd, stdout: &lockedOutput{}, stderr: &lockedOutput{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := cmd.Wait()
		p.code = 0
		if ee, ok := err.(*exec.ExitError); ok {
			p.code = ee.ExitCode()
		} else if err != nil {
			p.code = -1
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	})
	return p
}

// wait returns the exit code once the process has ended, failing the test
// after timeout.
func (p *started) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(timeout):
		t.Fatalf("%v did not exit within %s\nstdout: %s\nstderr: %s", p.cmd.Args, timeout, p.stdout, p.stderr)
		return -1
	}
}

// soloEnv is the environment of a solo and its CLI: a private token file,
// plus extra.
func soloEnv(t *testing.T, extra ...string) []string {
	env := append(os.Environ(), "XDG_CONFIG_HOME="+filepath.Join(t.TempDir(), "config"))
	return append(withoutToken(env), extra...)
}

// TestSoloKeepsItsExecutor restarts solo three times: it keeps one executor
// row, which `executor show solo` names unambiguously, even when its earlier
// port is taken at one restart.
func TestSoloKeepsItsExecutor(t *testing.T) {
	bin := testcluster.DaemonBinary(t)
	data := t.TempDir()
	server := "http://127.0.0.1:" + strconv.Itoa(testcluster.FreePort(t))
	env := soloEnv(t)
	cli := func(args ...string) testcluster.Result {
		cmd := exec.Command(bin, append(args, "--server", server, "--token-file", filepath.Join(data, "admin.token"))...)
		cmd.Env = env
		return runCmd(t, cmd)
	}
	var blocker net.Listener
	defer func() {
		if blocker != nil {
			blocker.Close()
		}
	}()
	for run := 1; run <= 4; run++ {
		if run == 3 {
			// Its earlier port is taken: it must start on another and
			// still leave one row.
			b, err := os.ReadFile(filepath.Join(data, "executor.saved-port"))
			if err != nil {
				t.Fatalf("no saved executor port after a run: %v", err)
			}
			if blocker, err = net.Listen("tcp", "127.0.0.1:"+strings.TrimSpace(string(b))); err != nil {
				t.Fatal(err)
			}
		}
		cmd := exec.Command(bin, "solo", "--data-dir", data, "--listen", strings.TrimPrefix(server, "http://"), "--log-format", "json")
		cmd.Env = env
		solo := startProc(t, cmd)
		testcluster.WaitFor(t, 60*time.Second, "solo answering", func() (bool, string) {
			select {
			case <-solo.done:
				t.Fatalf("solo exited: %s", solo.stderr)
			default:
			}
			r := cli("executor", "show", "solo", "-o", "json")
			return r.Code == 0 && strings.Contains(r.Stdout, `"status": "online"`), r.Stderr + r.Stdout
		})
		var list []executorJSON
		r := cli("executor", "list", "-o", "json")
		if err := json.Unmarshal([]byte(r.Stdout), &list); err != nil || len(list) != 1 || !list[0].Active {
			t.Fatalf("start %d: executor list: %s %s", run, r.Stdout, r.Stderr)
		}
		if strings.Contains(solo.stderr.String(), "registered inactive") {
			t.Errorf("solo, which activates its executor, logs %q", "registered inactive")
		}
		if !strings.Contains(solo.stdout.String(), "\n  "+bin+" executor list\n") {
			t.Errorf("solo's Try block does not name the binary it was started as (%s):\n%s", bin, solo.stdout)
		}
		_ = solo.cmd.Process.Signal(syscall.SIGTERM)
		if code := solo.wait(t, 60*time.Second); code != 0 {
			t.Fatalf("solo exit %d: %s", code, solo.stderr)
		}
	}
}

// repoRoot is this repository's top directory.
func repoRoot() string { return repoFile() }

// TestQuickstartWithPortTaken: with another crawlctl web server on the
// address (and the user's CRAWLCTL_SERVER and CRAWLCTL_TOKEN pointing at
// it), quickstart.sh stops at once, says what to do, and never talks to the
// other server.
func TestQuickstartWithPortTaken(t *testing.T) {
	c := testcluster.New(t, func(o *testcluster.Options) { o.Dialect = "sqlite" })
	web := c.StartWeb()
	cmd := exec.Command("sh", "scripts/quickstart.sh", "--bin", testcluster.DaemonBinary(t), "--data-dir", t.TempDir(), "--listen", web.Addr)
	cmd.Dir = repoRoot()
	cmd.Env = soloEnv(t, "CRAWLCTL_SERVER="+c.Server(), "CRAWLCTL_TOKEN="+c.Token)
	q := startProc(t, cmd)
	code := q.wait(t, 2*time.Minute)
	if code != 1 || !strings.Contains(q.stderr.String(), "SOLO_LISTEN=") || strings.Contains(q.stdout.String(), "keeps running") {
		t.Fatalf("quickstart with %s taken: exit %d\nstdout: %s\nstderr: %s", web.Addr, code, q.stdout, q.stderr)
	}
	if lines := strings.Split(strings.TrimSpace(q.stderr.String()), "\n"); !strings.HasPrefix(lines[len(lines)-1], "quickstart.sh: ") {
		t.Fatalf("quickstart's last line is not its own advice: %q", lines[len(lines)-1])
	}
	if out := c.MustCLI("project", "list", "-o", "json"); strings.Contains(out, "hello-crawl") {
		t.Fatalf("quickstart uploaded to the other server: %s", out)
	}
}
