package ui_test

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/testcluster"
)

// The browser suite drives the UI in a real headless Chromium (Debian's
// chromium package) with playwright-core from npm, against a real cluster:
// a web server and three executors of the crawlctl binary on MariaDB. Its
// set-up installs what is missing; under CI=true a missing piece fails the
// test instead of skipping it.

const chromiumPath = "/usr/bin/chromium"

// demoFlows is the project the browser uploads: a flow with a parameter and
// an embedded flow, and a long one to kill.
var demoFlows = map[string]string{
	"demo.project": "azkaban-flow-version: 2.0\n",
	"crawl.flow": `config:
  greeting: hello
nodes:
  - name: fetch
    type: command
    config:
      command: sh -c 'echo "greeting=${greeting}"; sleep 6'
  - name: parse
    type: flow
    dependsOn: [fetch]
    nodes:
      - name: clean
        type: command
        config:
          command: echo cleaning
      - name: index
        type: command
        dependsOn: [clean]
        config:
          command: echo indexing
  - name: report
    type: command
    dependsOn: [parse]
    config:
      command: echo report done
`,
	"long.flow": `nodes:
  - name: sleeper
    type: command
    config:
      command: sh -c 'echo sleeping; sleep 300'
`,
}

// unavailable skips the test, or fails it under CI=true.
func unavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("browser suite: "+format, args...)
	}
	t.Skipf("browser suite skipped: "+format+" (CI=true makes this a failure)", args...)
}

var setupOnce sync.Once

// browserSetup installs Chromium (apt-get, as root) and playwright-core
// (npm, never a browser download) when they are missing. It is quick when
// both are there.
func browserSetup(t *testing.T, dir string) {
	t.Helper()
	var problem string
	setupOnce.Do(func() {
		if _, err := os.Stat(chromiumPath); err != nil {
			if os.Geteuid() != 0 {
				problem = "no " + chromiumPath + " and not root to install it: apt-get install chromium"
				return
			}
			t.Log("installing chromium with apt-get (first run only)")
			if out, err := aptInstall("chromium"); err != nil {
				problem = fmt.Sprintf("apt-get install chromium: %v\n%s", err, tail(out, 2000))
				return
			}
		}
		if _, err := exec.LookPath("npm"); err != nil {
			if os.Geteuid() != 0 {
				problem = "node and npm are not installed, and not root to install them: apt-get install nodejs npm"
				return
			}
			if out, err := aptInstall("nodejs", "npm"); err != nil {
				problem = fmt.Sprintf("apt-get install nodejs npm: %v\n%s", err, tail(out, 2000))
				return
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "node_modules", "playwright-core", "package.json")); err == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			problem = fmt.Sprintf("npm ci in %s: %v\n%s", dir, err, tail(string(out), 2000))
		}
	})
	if problem != "" {
		unavailable(t, "%s", problem)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "playwright-core", "package.json")); err != nil {
		unavailable(t, "playwright-core is not installed in %s", dir)
	}
}

// aptInstall installs Debian packages (as root).
func aptInstall(pkgs ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", "apt-get update && apt-get install -y --no-install-recommends "+strings.Join(pkgs, " "))
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// outputDir keeps failure screenshots: the test's artifact directory with
// -artifacts, else var/ui-browsertest at the repository's root (ignored by
// git), which outlives the test.
func outputDir(t *testing.T) string {
	if f := flag.Lookup("test.artifacts"); f != nil && f.Value.String() == "true" {
		return t.ArtifactDir()
	}
	dir, err := filepath.Abs(filepath.Join("..", "..", "..", "var", "ui-browsertest"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser suite: not in -short")
	}
	dir, err := filepath.Abs("browsertest")
	if err != nil {
		t.Fatal(err)
	}
	browserSetup(t, dir)

	c := testcluster.New(t, func(o *testcluster.Options) { o.Executors = 3 })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const password = "browser-test-password"
	if err := c.Client().SetPassword(ctx, "admin", password); err != nil {
		t.Fatal(err)
	}
	zipPath := filepath.Join(t.TempDir(), "webui-demo.zip")
	if err := os.WriteFile(zipPath, zipOf(t, demoFlows), 0o644); err != nil {
		t.Fatal(err)
	}
	out := outputDir(t)

	script, cancelScript := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancelScript()
	cmd := exec.CommandContext(script, "node", "ui.test.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "UI_URL="+c.Server(), "UI_USER=admin", "UI_PASSWORD="+password,
		"PROJECT_ZIP="+zipPath, "OUT_DIR="+out, "CHROMIUM="+chromiumPath)
	if shots := os.Getenv("CRAWLCTL_UI_SCREENSHOTS"); shots != "" {
		cmd.Env = append(cmd.Env, "SHOT_DIR="+shots)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	reports := map[string]string{}
	var failed string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		t.Logf("browser: %s", line)
		if rest, ok := strings.CutPrefix(line, "REPORT "); ok {
			k, v, _ := strings.Cut(rest, " ")
			reports[k] = v
		}
		if strings.HasPrefix(line, "FAIL ") {
			failed = line
		}
	}
	_, _ = io.Copy(io.Discard, stdout)
	if err := cmd.Wait(); err != nil || failed != "" {
		t.Fatalf("browser scenario failed after %s: %s (%v); screenshot in %s\n%s", time.Since(start).Round(time.Second), failed, err, out, tail(stderr.String(), 3000))
	}
	t.Logf("browser scenarios took %s", time.Since(start).Round(time.Second))

	// What the browser did, as the CLI sees it.
	var execs []struct {
		Name   string `json:"name"`
		Active bool   `json:"active"`
	}
	c.JSON(&execs, "executor", "list")
	for _, e := range execs {
		if want := e.Name == "exec-1"; e.Active != want {
			t.Errorf("CLI: %s active = %v, want %v (only exec-1 was switched on)", e.Name, e.Active, want)
		}
	}
	if len(execs) != 3 {
		t.Errorf("CLI lists %d executors, want 3", len(execs))
	}
	var runs []struct {
		ID           int64             `json:"id"`
		Flow         string            `json:"flow"`
		Status       string            `json:"status"`
		Params       map[string]string `json:"params"`
		ExecutorName string            `json:"executor_name"`
	}
	c.JSON(&runs, "exec", "list", "--project", "webui-demo")
	got := map[string]string{}
	var crawlID int64
	for _, r := range runs {
		got[r.Flow] = r.Status
		if r.Flow == "crawl" {
			crawlID = r.ID
		}
		if r.Flow == "crawl" && (r.Params["greeting"] != "hello from the browser" || r.ExecutorName != "exec-1") {
			t.Errorf("CLI: crawl ran with %v on %q", r.Params, r.ExecutorName)
		}
	}
	if got["crawl"] != "SUCCEEDED" || got["long"] != "KILLED" || len(runs) != 2 {
		t.Errorf("CLI: executions %+v, want crawl SUCCEEDED and long KILLED", runs)
	}
	logs := c.MustCLI("exec", "logs", fmt.Sprint(crawlID), "--job", "fetch")
	if !strings.Contains(logs, "greeting=hello from the browser") {
		t.Errorf("CLI: the log of fetch lacks the parameter:\n%s", logs)
	}
	var schedules []struct {
		ID       int64  `json:"id"`
		TimeZone string `json:"time_zone"`
		Paused   bool   `json:"paused"`
	}
	c.JSON(&schedules, "schedule", "list")
	if len(schedules) != 1 || !schedules[0].Paused || schedules[0].TimeZone != "Asia/Tokyo" || fmt.Sprint(schedules[0].ID) != reports["paused"] {
		t.Errorf("CLI: schedules %+v, want the one the browser added (%s), paused", schedules, reports["paused"])
	}
	if b, _ := json.Marshal(reports); !strings.Contains(string(b), "exec-1") {
		t.Errorf("the script did not report the activation: %s", b)
	}
}
