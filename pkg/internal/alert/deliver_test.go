package alert

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/crawlctl/crawlctl/pkg/internal/alert/alerttest"
	"github.com/crawlctl/crawlctl/pkg/internal/backoff"
	"github.com/crawlctl/crawlctl/pkg/internal/dispatch"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/store/storetest"
)

// failedRun stores an execution that ran on a fresh executor and FAILED
// (job "j", exit 3, with a log), and returns its id.
func failedRun(t *testing.T, s *store.Store, emails ...string) int64 {
	t.Helper()
	ctx := context.Background()
	e, err := s.RegisterExecutor(ctx, store.ExecutorSpec{Name: "node-2", Host: "h", Port: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetExecutorActive(ctx, e.ID, true, "t"); err != nil {
		t.Fatal(err)
	}
	pv, err := s.AddProjectVersion(ctx, store.NewProjectVersion{Project: "news", SHA256: "x", Format: "flow2.0", Flows: "{}", Archive: []byte("zip")})
	if err != nil {
		t.Fatal(err)
	}
	ex, a, err := dispatch.SubmitAndAssign(ctx, s, store.NewExecution{ProjectID: pv.ProjectID, Project: "news", Version: pv.Version, Flow: "crawl",
		Concurrent: "ignore", FailureAction: "finishCurrent", SubmitUser: "u", Alerts: store.Alerts{FailureEmails: emails}},
		func(context.Context, *store.Execution) (*store.Executor, string, error) { return e, "", nil }, nil)
	if err != nil || a == nil {
		t.Fatal(a, err)
	}
	if ok, err := s.ClaimExecution(ctx, ex.ID, e.ID, 1); !ok || err != nil {
		t.Fatal(ok, err)
	}
	code := 3
	now := time.Now()
	var log strings.Builder
	for i := range 30 {
		log.WriteString("line " + string(rune('a'+i%26)) + "\n")
	}
	if err := s.Report(ctx, ex.ID, e.ID, 1, []store.ExecutionJob{{Name: "j", Type: "command", Status: "FAILED", StartTime: &now, EndTime: &now, ExitCode: &code, Error: "exit code 3"}},
		[]store.LogChunk{{Job: "j", Data: []byte(log.String())}}, &store.ExecutionEnd{Status: store.ExecFailed, Error: `job "j" failed: exit code 3`}); err != nil {
		t.Fatal(err)
	}
	return ex.ID
}

func deliverer(t *testing.T, s *store.Store, cfg Config) *Deliverer {
	t.Helper()
	d, err := New(cfg, s, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestTwoDeliverersSendOnce: web servers delivering at once send each
// alert once, with the failed job and its last lines.
func TestTwoDeliverersSendOnce(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		r := alerttest.StartReceiver(t)
		id := failedRun(t, s)
		cfg := Config{Webhook: WebhookConfig{URL: r.URL}, ExternalURL: "http://web:8081/", LogLines: 5}
		var wg sync.WaitGroup
		for _, name := range []string{"web-a", "web-b", "web-c"} {
			cfg.Server = name
			d := deliverer(t, s, cfg)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 5 {
					if _, err := d.DeliverDue(context.Background()); err != nil {
						t.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		hooks := r.Hooks()
		if len(hooks) != 1 {
			t.Fatalf("%d webhook calls, want 1", len(hooks))
		}
		var m Message
		if err := json.Unmarshal(hooks[0].Body, &m); err != nil {
			t.Fatal(err)
		}
		if m.ExecutionID != id || m.Executor != "node-2" || m.URL != "http://web:8081/ui/executions/"+itoa(id) || len(m.FailedJobs) != 1 ||
			m.FailedJobs[0].LogTail != "line z\nline a\nline b\nline c\nline d" || *m.FailedJobs[0].ExitCode != 3 {
			t.Fatalf("message %s", hooks[0].Body)
		}
		list, _ := s.ListAlerts(context.Background(), store.AlertFilter{})
		if len(list) != 1 || list[0].Status != store.AlertSent {
			t.Fatalf("alerts %+v", list)
		}
	})
}

// TestDelivererGivesUp: a channel that keeps failing is retried with
// backoff, each attempt recorded, until the alert is too old; then it is
// FAILED with the error.
func TestDelivererGivesUp(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		r := alerttest.StartReceiver(t)
		r.Fail(http.StatusInternalServerError)
		failedRun(t, s)
		d := deliverer(t, s, Config{Webhook: WebhookConfig{URL: r.URL}, GiveUpAfter: 1500 * time.Millisecond,
			Retry: backoff.Policy{Base: 100 * time.Millisecond, Max: 200 * time.Millisecond}})
		var a *store.Alert
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			if _, err := d.DeliverDue(ctx); err != nil {
				t.Fatal(err)
			}
			list, err := s.ListAlerts(ctx, store.AlertFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if a = list[0]; a.Status != store.AlertPending {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if a.Status != store.AlertGaveUp || !strings.Contains(a.LastError, "gave up after") || !strings.Contains(a.LastError, "500") || a.Attempts < 3 {
			t.Fatalf("alert %+v", a)
		}
		att, err := s.AlertAttempts(ctx, a.ID)
		if err != nil || len(att) != a.Attempts || att[0].OK {
			t.Fatalf("attempts %+v %v", att, err)
		}
		// Once FAILED, nobody sends it again.
		r.Fail(0)
		if n, err := d.DeliverDue(ctx); n != 0 || err != nil || len(r.Hooks()) != 0 {
			t.Fatalf("a given-up alert was sent: %d %v", n, err)
		}
	})
}

// TestNoRecipientNoMail: an email channel with nobody to write to for an
// alert counts as done, and the webhook still gets it.
func TestNoRecipientNoMail(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		smtpSrv := alerttest.StartSMTP(t, alerttest.SMTPOptions{})
		r := alerttest.StartReceiver(t)
		failedRun(t, s)
		d := deliverer(t, s, Config{Mail: MailConfig{Host: smtpSrv.Host, Port: smtpSrv.Port, Sender: "c@example.com"}, Webhook: WebhookConfig{URL: r.URL}})
		if n, err := d.DeliverDue(context.Background()); n != 1 || err != nil {
			t.Fatal(n, err)
		}
		if len(smtpSrv.Mails()) != 0 || len(r.Hooks()) != 1 {
			t.Fatalf("%d mails, %d hooks", len(smtpSrv.Mails()), len(r.Hooks()))
		}
		list, _ := s.ListAlerts(context.Background(), store.AlertFilter{})
		if list[0].Status != store.AlertSent || strings.Join(list[0].Done, ",") != "webhook" {
			t.Fatalf("alert %+v", list[0])
		}
	})
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
