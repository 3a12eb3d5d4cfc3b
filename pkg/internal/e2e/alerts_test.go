package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/api"
	"github.com/crawlctl/crawlctl/pkg/internal/alert"
	"github.com/crawlctl/crawlctl/pkg/internal/alert/alerttest"
	"github.com/crawlctl/crawlctl/pkg/internal/testcluster"
)

// alertFlags are a web server's flags for the test's SMTP server and
// webhook receiver, with fast polls and retries.
func alertFlags(t *testing.T, s *alerttest.SMTPServer, hookURL, secret string) []string {
	t.Helper()
	secretFile := filepath.Join(t.TempDir(), "webhook.secret")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	flags := []string{"--webhook-url", hookURL, "--webhook-secret-file", secretFile, "--external-url", "https://crawlctl.example.com/",
		"--alert-poll", "100ms", "--alert-retry", "200ms"}
	if s != nil {
		flags = append(flags, "--mail-host", s.Host, "--mail-port", strconv.Itoa(s.Port), "--mail-sender", "crawlctl <crawlctl@example.com>",
			"--mail-user", "bot", "--mail-password", "pw")
	}
	return flags
}

// alertList is `crawlctl alert list -o json`.
func alertList(c *testcluster.Cluster) []api.Alert {
	var out []api.Alert
	c.JSON(&out, "alert", "list", "-o", "json")
	return out
}

func alertOf(c *testcluster.Cluster, kind string, exec int64) *api.Alert {
	for _, a := range alertList(c) {
		if a.Kind == kind && a.ExecutionID == exec {
			return &a
		}
	}
	return nil
}

// TestFailureAlertDeliveredOnce: a failing flow gives exactly one email to
// its failure.emails and one signed webhook call with the documented body,
// sent by one of two web servers, after the receiver was down for a while.
func TestFailureAlertDeliveredOnce(t *testing.T) {
	smtpSrv := alerttest.StartSMTP(t, alerttest.SMTPOptions{Host: "localhost", User: "bot", Password: "pw", AllowInsecureAuth: true})
	hooks := alerttest.StartReceiver(t)
	const secret = "webhook-test-secret"
	flags := alertFlags(t, smtpSrv, hooks.URL, secret)
	c := testcluster.New(t)
	c.StartWeb(flags...)
	c.StartWeb(flags...)
	c.StartExecutor("node-2")
	c.MustCLI("executor", "activate", "node-2")
	c.MustCLI("project", "upload", writeProject(t, map[string]string{
		"crawl": "config:\n  failure.emails: oncall@example.com\n  success.emails: happy@example.com\n" +
			"nodes:\n  - name: fetch\n    type: command\n    config:\n      command: \"sh -c 'for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25; do echo fetching page $i; done; echo \\\"HTTP 503 from upstream\\\" >&2; exit 3'\"\n",
	}), "--name", "news")

	// The receiver is down when the alert is first sent.
	hooks.Fail(http.StatusServiceUnavailable)
	id := submit(t, c, "news", "crawl")
	e := waitStatus(t, c, id, 30*time.Second, "FAILED", "SUCCEEDED")
	if e.Status != "FAILED" {
		t.Fatalf("execution %+v", e)
	}
	// Email goes out; the webhook is retried and the alert stays PENDING
	// with the error.
	alerttest.Wait(t, 20*time.Second, "the failure email", func() bool { return len(smtpSrv.Mails()) >= 1 })
	c.WaitFor(20*time.Second, "a retried alert", func() (bool, string) {
		a := alertOf(c, "FAILED", id)
		return a != nil && a.Status == "PENDING" && a.Attempts >= 2 && strings.Contains(a.LastError, "503") &&
			len(a.Channels) == 1 && a.Channels[0] == "email", toJSON(a)
	})
	out := c.MustCLI("alert", "list", "--status", "PENDING")
	if !strings.Contains(out, "execution "+strconv.FormatInt(id, 10)) || !strings.Contains(out, "503") {
		t.Fatalf("alert list:\n%s", out)
	}
	hooks.Fail(0)
	c.WaitFor(20*time.Second, "the alert sent", func() (bool, string) {
		a := alertOf(c, "FAILED", id)
		return a != nil && a.Status == "SENT", toJSON(a)
	})
	// SENT is final: what arrived now is all that ever will.
	mails, got := smtpSrv.Mails(), hooks.Hooks()
	if len(mails) != 1 || len(got) != 1 {
		t.Fatalf("%d emails and %d webhook calls, want one each", len(mails), len(got))
	}

	m := mails[0]
	head, body := alerttest.Body(m)
	t.Logf("email as received:\n%s\n\n%s", head, body)
	t.Logf("webhook body as received:\n%s", got[0].Body)
	wantSubject := fmt.Sprintf("Subject: Flow 'crawl' of project news FAILED on node-2 (execution %d)", id)
	if len(m.To) != 1 || m.To[0] != "oncall@example.com" || m.User != "bot" || !strings.Contains(head, wantSubject) {
		t.Fatalf("email to %v by %q:\n%s", m.To, m.User, head)
	}
	for _, want := range []string{"Failed job: fetch (exit code 3)", "fetching page 25", "HTTP 503 from upstream",
		fmt.Sprintf("crawlctl exec logs %d --job fetch", id), fmt.Sprintf("https://crawlctl.example.com/ui/executions/%d", id)} {
		if !strings.Contains(body, want) {
			t.Fatalf("email body lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "fetching page 5\r\n") {
		t.Fatalf("email carries more than the last lines of the log:\n%s", body)
	}

	h := got[0]
	ts, _ := strconv.ParseInt(h.Header.Get(alert.TimestampHeader), 10, 64)
	if h.Header.Get(alert.SignatureHeader) != alert.Sign(secret, ts, h.Body) {
		t.Fatalf("bad signature %q", h.Header.Get(alert.SignatureHeader))
	}
	var msg struct {
		Kind        string     `json:"kind"`
		Subject     string     `json:"subject"`
		Project     string     `json:"project"`
		Flow        string     `json:"flow"`
		ExecutionID int64      `json:"execution_id"`
		Status      string     `json:"status"`
		Executor    string     `json:"executor"`
		StartTime   *time.Time `json:"start_time"`
		EndTime     *time.Time `json:"end_time"`
		URL         string     `json:"url"`
		FailedJobs  []struct {
			Name     string `json:"name"`
			ExitCode *int   `json:"exit_code"`
			LogTail  string `json:"log_tail"`
		} `json:"failed_jobs"`
	}
	if err := json.Unmarshal(h.Body, &msg); err != nil {
		t.Fatal(err)
	}
	if msg.Kind != "FAILED" || msg.Project != "news" || msg.Flow != "crawl" || msg.ExecutionID != id || msg.Status != "FAILED" ||
		msg.Executor != "node-2" || msg.StartTime == nil || msg.EndTime == nil || msg.URL != fmt.Sprintf("https://crawlctl.example.com/ui/executions/%d", id) ||
		len(msg.FailedJobs) != 1 || msg.FailedJobs[0].Name != "fetch" || msg.FailedJobs[0].ExitCode == nil || *msg.FailedJobs[0].ExitCode != 3 ||
		!strings.HasSuffix(msg.FailedJobs[0].LogTail, "HTTP 503 from upstream") || strings.Count(msg.FailedJobs[0].LogTail, "\n") != 19 {
		t.Fatalf("webhook body: %s", h.Body)
	}
	if h.Header.Get(alert.AlertIDHeader) == "" {
		t.Fatal("no alert id header")
	}

	// alert test through each channel.
	if out := c.MustCLI("alert", "test", "--channel", "email", "--to", "me@example.com"); !strings.Contains(out, "sent through email") {
		t.Fatalf("alert test: %s", out)
	}
	alerttest.Wait(t, 10*time.Second, "the test email", func() bool { return len(smtpSrv.Mails()) == 2 })
	if r := c.CLI("alert", "test", "--channel", "pager"); r.Code == 0 || !strings.Contains(r.Stderr, `no alert channel "pager"`) {
		t.Fatalf("unknown channel: %+v", r)
	}
	hooks.Fail(http.StatusBadGateway)
	if r := c.CLI("alert", "test", "--channel", "webhook"); r.Code == 0 || !strings.Contains(r.Stderr, "502") {
		t.Fatalf("failing webhook test: %+v", r)
	}
}

// TestExecutorLostAlert: an executor killed under a running flow gives an
// EXECUTOR_LOST alert and the flow's FAILED one.
func TestExecutorLostAlert(t *testing.T) {
	hooks := alerttest.StartReceiver(t)
	c := testcluster.New(t)
	c.StartWeb(alertFlags(t, nil, hooks.URL, "s")...)
	a := c.StartExecutor("doomed")
	c.MustCLI("executor", "activate", "doomed")
	c.MustCLI("project", "upload", writeProject(t, map[string]string{"sleepy": oneJob("sleep 60")}), "--name", "p")
	id := submit(t, c, "p", "sleepy")
	waitStatus(t, c, id, 20*time.Second, "RUNNING")
	a.Signal(syscall.SIGKILL)
	<-a.Done()
	waitStatus(t, c, id, 30*time.Second, "FAILED")
	kinds := func() map[string]int {
		n := map[string]int{}
		for _, h := range hooks.Hooks() {
			var m struct {
				Kind        string `json:"kind"`
				ExecutionID int64  `json:"execution_id"`
				Executor    string `json:"executor"`
				Subject     string `json:"subject"`
			}
			if json.Unmarshal(h.Body, &m) == nil {
				n[m.Kind]++
				if m.Kind == "EXECUTOR_LOST" && m.Executor == "doomed" && (m.Executor != "doomed" || !strings.Contains(m.Subject, "Executor doomed (127.0.0.1:") || !strings.HasSuffix(m.Subject, ") is lost")) {
					t.Errorf("lost alert: %s", h.Body)
				}
			}
		}
		return n
	}
	alerttest.Wait(t, 30*time.Second, "the executor-lost and failure webhooks", func() bool {
		n := kinds()
		return n["EXECUTOR_LOST"] >= 1 && n["FAILED"] >= 1
	})
	c.WaitFor(10*time.Second, "both alerts sent", func() (bool, string) {
		list := alertList(c)
		sent := 0
		for _, a := range list {
			if a.Status == "SENT" {
				sent++
			}
		}
		return sent == 2 && len(list) == 2, toJSON(list)
	})
	if n := kinds(); n["EXECUTOR_LOST"] != 1 || n["FAILED"] != 1 {
		t.Fatalf("webhook calls by kind: %v", n)
	}

	// An idle active executor that dies is lost too: one alert per outage.
	idle := c.StartExecutor("idle")
	c.MustCLI("executor", "activate", "idle")
	idle.Signal(syscall.SIGKILL)
	<-idle.Done()
	c.WaitFor(30*time.Second, "the idle executor's lost alert sent", func() (bool, string) {
		list := alertList(c)
		n := 0
		for _, a := range list {
			if a.Kind == "EXECUTOR_LOST" && a.Status == "SENT" && strings.Contains(a.Message, "idle") && strings.Contains(a.Message, "no heartbeat since") {
				n++
			}
		}
		return n == 1, toJSON(list)
	})
	if n := kinds(); n["EXECUTOR_LOST"] != 2 {
		t.Fatalf("webhook calls by kind: %v", n)
	}
}
