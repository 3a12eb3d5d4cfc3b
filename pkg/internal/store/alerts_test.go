package store_test

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/dispatch"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/store/storetest"
)

func TestSelectorAndLabels(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e, pv := fixture(t, s)
		ex, err := submitQueued(ctx, s, store.NewExecution{ProjectID: pv.ProjectID, Project: "p", Version: pv.Version, Flow: "f",
			Concurrent: "ignore", FailureAction: "finishCurrent", SubmitUser: "u", Selector: map[string]string{"region": "eu", "gpu": "true"}})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(ex.Selector, map[string]string{"region": "eu", "gpu": "true"}) {
			t.Fatalf("selector read back: %v", ex.Selector)
		}
		// The queue hands the selector to the choice.
		var seen map[string]string
		if _, err := dispatch.AssignDue(ctx, s, 10, func(_ context.Context, q *store.Execution) (*store.Executor, string, error) {
			seen = q.Selector
			return nil, "waiting", nil
		}); err != nil {
			t.Fatal(err)
		}
		if seen["region"] != "eu" {
			t.Fatalf("queue row selector = %v", seen)
		}
		now, err := s.SetExecutorLabels(ctx, e.ID, map[string]string{"region": "eu", "gpu": "true"}, nil, "admin")
		if err != nil || !reflect.DeepEqual(now, map[string]string{"region": "eu", "gpu": "true"}) {
			t.Fatalf("set = %v, %v", now, err)
		}
		now, err = s.SetExecutorLabels(ctx, e.ID, map[string]string{"zone": "a"}, []string{"gpu", "nothing"}, "admin")
		if err != nil || !reflect.DeepEqual(now, map[string]string{"region": "eu", "zone": "a"}) {
			t.Fatalf("set+remove = %v, %v", now, err)
		}
		if _, err := s.SetExecutorLabels(ctx, e.ID, map[string]string{"zone": "a"}, nil, "admin"); err != nil {
			t.Fatal(err) // no change: no event
		}
		got, _ := s.GetExecutor(ctx, e.ID)
		if !reflect.DeepEqual(got.Labels, now) {
			t.Fatalf("stored labels %v", got.Labels)
		}
		evs, err := s.ExecutorEvents(ctx, e.ID, 50)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, ev := range evs {
			if ev.Type == store.EventLabeled {
				n++
				if ev.Actor != "admin" {
					t.Fatalf("event %+v", ev)
				}
			}
		}
		if n != 2 {
			t.Fatalf("%d LABELED events, want 2: %+v", n, evs)
		}
		if _, err := s.SetExecutorLabels(ctx, 999999, map[string]string{"a": "b"}, nil, "admin"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown executor: %v", err)
		}
		// A restart re-registers with the executor's own flags.
		if _, err := s.RegisterExecutor(ctx, store.ExecutorSpec{Name: "e", Host: "h", Port: 1, Labels: map[string]string{"region": "us"}}); err != nil {
			t.Fatal(err)
		}
		got, _ = s.GetExecutor(ctx, e.ID)
		if !reflect.DeepEqual(got.Labels, map[string]string{"region": "us"}) {
			t.Fatalf("after restart: %v", got.Labels)
		}
	})
}

// alertsOf lists the alerts about execution id.
func alertsOf(t *testing.T, s *store.Store, id int64) []*store.Alert {
	t.Helper()
	all, err := s.ListAlerts(context.Background(), store.AlertFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []*store.Alert
	for _, a := range all {
		if a.ExecutionID == id {
			out = append(out, a)
		}
	}
	return out
}

func TestAlertWrittenWithTheEnd(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e, pv := fixture(t, s)

		// A run that fails: one FAILED alert, written by the end itself.
		ex := running(t, s, e, pv)
		if len(alertsOf(t, s, ex.ID)) != 0 {
			t.Fatal("an alert before the end")
		}
		code := 3
		if err := s.Report(ctx, ex.ID, e.ID, 1, []store.ExecutionJob{{Name: "j", Type: "command", Status: "FAILED", ExitCode: &code}}, nil,
			&store.ExecutionEnd{Status: store.ExecFailed, Error: "job j failed"}); err != nil {
			t.Fatal(err)
		}
		as := alertsOf(t, s, ex.ID)
		if len(as) != 1 || as[0].Kind != store.AlertFailed || as[0].Status != store.AlertPending || as[0].ExecutorID != e.ID || as[0].Message != "job j failed" {
			t.Fatalf("alerts = %+v", as)
		}
		// A fenced (stale) end writes nothing, alert included.
		if err := s.Report(ctx, ex.ID, e.ID, 1, nil, nil, &store.ExecutionEnd{Status: store.ExecFailed}); !errors.Is(err, store.ErrFenced) {
			t.Fatalf("second end: %v", err)
		}
		if n := len(alertsOf(t, s, ex.ID)); n != 1 {
			t.Fatalf("%d alerts after a fenced end", n)
		}

		// A success without success recipients: no alert; with: one.
		ok1 := running(t, s, e, pv)
		if err := s.FinishExecution(ctx, ok1.ID, e.ID, 1, store.ExecSucceeded, ""); err != nil {
			t.Fatal(err)
		}
		if n := len(alertsOf(t, s, ok1.ID)); n != 0 {
			t.Fatalf("%d alerts for a success nobody asked about", n)
		}
		ok2, err := submitQueued(ctx, s, store.NewExecution{ProjectID: pv.ProjectID, Project: "p", Version: pv.Version, Flow: "f", Concurrent: "ignore",
			FailureAction: "finishCurrent", SubmitUser: "u", Alerts: store.Alerts{SuccessEmails: []string{"ops@example.com"}}})
		if err != nil {
			t.Fatal(err)
		}
		if as, err := dispatch.AssignDue(ctx, s, 10, pickFirst(t, s)); err != nil || len(as) != 1 {
			t.Fatalf("assign %v %v", as, err)
		}
		if ok, err := s.ClaimExecution(ctx, ok2.ID, e.ID, 1); !ok || err != nil {
			t.Fatal(ok, err)
		}
		// The executor skips the alert of a success when its run spec says
		// nobody is mailed on success: the spec must say so right.
		for _, c := range []struct {
			id   int64
			want bool
		}{{ok1.ID, false}, {ok2.ID, true}} {
			if spec, err := s.ExecutionRunSpec(ctx, c.id); err != nil || spec.SuccessEmails != c.want {
				t.Fatalf("run spec of %d: SuccessEmails %v, %v; want %v", c.id, spec != nil && spec.SuccessEmails, err, c.want)
			}
		}
		spec, err := s.ExecutionRunSpec(ctx, ok2.ID)
		if err != nil {
			t.Fatal(err)
		}
		end := store.ExecutionEnd{Status: store.ExecSucceeded, JobsEnded: true, NoSuccessMail: !spec.SuccessEmails}
		if err := s.Report(ctx, ok2.ID, e.ID, 1, nil, nil, &end); err != nil {
			t.Fatal(err)
		}
		if as := alertsOf(t, s, ok2.ID); len(as) != 1 || as[0].Kind != store.AlertSucceeded {
			t.Fatalf("success alerts = %+v", as)
		}

		// A queued execution cancelled: KILLED alert in the cancel's transaction.
		q := submitOne(t, s, pv, "ignore")
		if _, err := s.CancelExecution(ctx, q.ID, "bob", ""); err != nil {
			t.Fatal(err)
		}
		if as := alertsOf(t, s, q.ID); len(as) != 1 || as[0].Kind != store.AlertKilled {
			t.Fatalf("cancel alerts = %+v", as)
		}

		// The reaper abandoning the run of a lost executor: FAILED for the
		// execution and one EXECUTOR_LOST however many flows it had.
		lost1, lost2 := running(t, s, e, pv), running(t, s, e, pv)
		owners, err := s.ActiveExecutions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range owners {
			o.ExecutorLost = true
			if ok, err := s.ReapExecution(ctx, o, "executor lost: e (h:1) is offline", dispatch.Policy(5)); !ok || err != nil {
				t.Fatalf("reap %d: %v %v", o.ID, ok, err)
			}
		}
		if err := s.RecordLost(ctx, e.ID, "executor lost: e (h:1) is offline"); err != nil {
			t.Fatal(err)
		}
		for _, id := range []int64{lost1.ID, lost2.ID} {
			if as := alertsOf(t, s, id); len(as) != 1 || as[0].Kind != store.AlertFailed {
				t.Fatalf("lost execution %d alerts = %+v", id, as)
			}
		}
		all, _ := s.ListAlerts(ctx, store.AlertFilter{})
		n := 0
		for _, a := range all {
			if a.Kind == store.AlertExecutorLost && a.ExecutorID == e.ID {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d EXECUTOR_LOST alerts, want 1", n)
		}

		// A dispatch that fails for the last time ends FAILED with its alert.
		d := submitOne(t, s, pv, "ignore")
		asg, err := dispatch.AssignDue(ctx, s, 10, pickFirst(t, s))
		if err != nil || len(asg) != 1 {
			t.Fatal(asg, err)
		}
		if _, failed, err := s.Requeue(ctx, store.DispatchFailure{ID: d.ID, Attempt: asg[0].Attempt, ExecutorID: e.ID, Failures: 4, Reason: "refused"}, dispatch.Policy(5)); !failed || err != nil {
			t.Fatalf("final requeue: %v %v", failed, err)
		}
		if as := alertsOf(t, s, d.ID); len(as) != 1 || as[0].Kind != store.AlertFailed {
			t.Fatalf("dispatch failure alerts = %+v", as)
		}
	})
}

func TestAlertClaims(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		_, pv := fixture(t, s)
		var ids []int64
		for range 6 {
			q := submitOne(t, s, pv, "ignore")
			if _, err := s.CancelExecution(ctx, q.ID, "bob", ""); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, alertsOf(t, s, q.ID)[0].ID)
		}
		// Two web servers claim at once: each alert goes to exactly one.
		var mu sync.Mutex
		owner := map[int64]string{}
		var wg sync.WaitGroup
		for _, server := range []string{"web-a", "web-b"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := s.ClaimAlerts(ctx, server, time.Minute, 100)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				for _, a := range got {
					if prev, dup := owner[a.ID]; dup {
						t.Errorf("alert %d claimed by %s and %s", a.ID, prev, server)
					}
					owner[a.ID] = server
				}
			}()
		}
		wg.Wait()
		for _, id := range ids {
			if owner[id] == "" {
				t.Fatalf("alert %d claimed by nobody: %v", id, owner)
			}
		}
		// Claimed and leased: nobody gets them again.
		if again, err := s.ClaimAlerts(ctx, "web-c", time.Minute, 100); err != nil || len(again) != 0 {
			t.Fatalf("claimed twice: %d, %v", len(again), err)
		}
	})
}

func TestAlertRetryAndFinish(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		_, pv := fixture(t, s)
		q := submitOne(t, s, pv, "ignore")
		if _, err := s.CancelExecution(ctx, q.ID, "bob", ""); err != nil {
			t.Fatal(err)
		}
		claim := func(server string, lease time.Duration) *store.Alert {
			t.Helper()
			got, err := s.ClaimAlerts(ctx, server, lease, 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range got {
				if a.ExecutionID == q.ID {
					return a
				}
			}
			return nil
		}
		a := claim("web-a", time.Minute)
		if a == nil || a.Attempts != 1 {
			t.Fatalf("first claim %+v", a)
		}
		// Email went out, the webhook did not: email is remembered.
		if err := s.AlertDelivered(ctx, a, "email", true, ""); err != nil {
			t.Fatal(err)
		}
		if err := s.AlertDelivered(ctx, a, "webhook", false, "connection refused"); err != nil {
			t.Fatal(err)
		}
		if err := s.FinishAlert(ctx, a, "webhook: connection refused", 50*time.Millisecond, false); err != nil {
			t.Fatal(err)
		}
		// Not due before its next try.
		if b := claim("web-b", time.Minute); b != nil {
			t.Fatalf("claimed before its retry time: %+v", b)
		}
		var b *store.Alert
		deadline := time.Now().Add(5 * time.Second)
		for b == nil && time.Now().Before(deadline) {
			b = claim("web-b", 100*time.Millisecond)
			if b == nil {
				time.Sleep(20 * time.Millisecond)
			}
		}
		if b == nil || b.Attempts != 2 || !reflect.DeepEqual(b.Done, []string{"email"}) || b.LastError != "webhook: connection refused" {
			t.Fatalf("retry claim %+v", b)
		}
		// web-b's lease runs out mid-send; web-c takes it over; web-b's
		// late write is refused, so the outcome is recorded once.
		var c *store.Alert
		deadline = time.Now().Add(5 * time.Second)
		for c == nil && time.Now().Before(deadline) {
			c = claim("web-c", time.Minute)
			if c == nil {
				time.Sleep(20 * time.Millisecond)
			}
		}
		if c == nil {
			t.Fatal("an expired lease was not taken over")
		}
		if err := s.AlertDelivered(ctx, b, "webhook", true, ""); !errors.Is(err, store.ErrAlertLost) {
			t.Fatalf("stale claim delivered: %v", err)
		}
		if err := s.FinishAlert(ctx, b, "", 0, false); !errors.Is(err, store.ErrAlertLost) {
			t.Fatalf("stale claim finished: %v", err)
		}
		if err := s.AlertDelivered(ctx, c, "webhook", true, ""); err != nil {
			t.Fatal(err)
		}
		if err := s.FinishAlert(ctx, c, "", 0, false); err != nil {
			t.Fatal(err)
		}
		got := alertsOf(t, s, q.ID)[0]
		if got.Status != store.AlertSent || got.FinishedAt == nil || !reflect.DeepEqual(got.Done, []string{"email", "webhook"}) || got.Attempts != 3 {
			t.Fatalf("final %+v", got)
		}
		att, err := s.AlertAttempts(ctx, got.ID)
		if err != nil || len(att) != 3 || att[1].OK || att[1].Error != "connection refused" || att[2].Server != "web-c" {
			t.Fatalf("attempts %+v %v", att, err)
		}
		// Given up: FAILED with the error.
		q2 := submitOne(t, s, pv, "ignore")
		if _, err := s.CancelExecution(ctx, q2.ID, "bob", ""); err != nil {
			t.Fatal(err)
		}
		var d *store.Alert
		for _, x := range mustClaim(t, s) {
			if x.ExecutionID == q2.ID {
				d = x
			}
		}
		if err := s.FinishAlert(ctx, d, "gave up: smtp down", 0, true); err != nil {
			t.Fatal(err)
		}
		if g := alertsOf(t, s, q2.ID)[0]; g.Status != store.AlertGaveUp || g.LastError != "gave up: smtp down" {
			t.Fatalf("given up %+v", g)
		}
		failed, err := s.ListAlerts(ctx, store.AlertFilter{Status: "failed"})
		if err != nil || len(failed) != 1 {
			t.Fatalf("filter: %d %v", len(failed), err)
		}
	})
}

func mustClaim(t *testing.T, s *store.Store) []*store.Alert {
	t.Helper()
	got, err := s.ClaimAlerts(context.Background(), "web-z", time.Minute, 100)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestExecutorOfflineAlert(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e, _ := fixture(t, s)
		// Online by an hour's threshold: nothing.
		if wrote, err := s.ExecutorOfflineAlert(ctx, e.ID, time.Hour, "gone"); wrote || err != nil {
			t.Fatalf("online: %v %v", wrote, err)
		}
		// Offline by a zero threshold: one alert per outage, by any number of calls.
		for i, want := range []bool{true, false, false} {
			if wrote, err := s.ExecutorOfflineAlert(ctx, e.ID, 0, "gone"); wrote != want || err != nil {
				t.Fatalf("call %d: %v %v", i, wrote, err)
			}
		}
		// A new heartbeat and a new silence: a new outage.
		beatAgain(t, s, e.ID)
		if wrote, err := s.ExecutorOfflineAlert(ctx, e.ID, 0, "gone again"); !wrote || err != nil {
			t.Fatalf("second outage: %v %v", wrote, err)
		}
		// The reaper's alert for the same outage is the same alert.
		if err := s.RecordLost(ctx, e.ID, "lost"); err != nil {
			t.Fatal(err)
		}
		list, _ := s.ListAlerts(ctx, store.AlertFilter{})
		if len(list) != 2 || list[0].Message != "gone again" {
			t.Fatalf("alerts %+v", list)
		}
		// Inactive or cleanly stopped: not an outage.
		if _, err := s.SetExecutorActive(ctx, e.ID, false, "t"); err != nil {
			t.Fatal(err)
		}
		beatAgain(t, s, e.ID)
		if wrote, err := s.ExecutorOfflineAlert(ctx, e.ID, 0, "x"); wrote || err != nil {
			t.Fatalf("inactive: %v %v", wrote, err)
		}
		if _, err := s.SetExecutorActive(ctx, e.ID, true, "t"); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkExecutorStopped(ctx, e.ID, "t", "stopped"); err != nil {
			t.Fatal(err)
		}
		if wrote, err := s.ExecutorOfflineAlert(ctx, e.ID, 0, "x"); wrote || err != nil {
			t.Fatalf("stopped: %v %v", wrote, err)
		}
	})
}

// beatAgain heartbeats until the stored heartbeat time differs from the
// last one (SQLite keeps milliseconds).
func beatAgain(t *testing.T, s *store.Store, id int64) {
	t.Helper()
	ctx := context.Background()
	before, err := s.GetExecutor(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := s.ExecutorHeartbeat(ctx, id, store.Heartbeat{}); err != nil {
			t.Fatal(err)
		}
		now, err := s.GetExecutor(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !now.LastHeartbeat.Equal(*before.LastHeartbeat) {
			return
		}
	}
	t.Fatal("the heartbeat time never changed")
}
