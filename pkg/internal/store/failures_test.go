package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/dispatch"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/store/storetest"
)

// answers are the errors that mean something to a caller: a web server
// turns them into 404 or 409, an executor gives up its run on ErrFenced.
var answers = []error{store.ErrNotFound, store.ErrConflict, store.ErrFenced, store.ErrInactive, store.ErrSchemaOutdated}

// TestOutageIsNoAnswer: with the database out of reach every operation
// fails, and with an error that is none of the store's answers, so that an
// outage is never taken for "not found", "conflict" or "fenced".
func TestOutageIsNoAnswer(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e, pv := fixture(t, s)
		ex := running(t, s, e, pv)
		owner := store.ExecutionOwner{ID: ex.ID, ExecutorID: e.ID, Attempt: 1, Status: store.ExecRunning}
		pol := store.DispatchPolicy{MaxFailures: 3}
		s.Close()
		now := time.Now()
		ne := store.NewExecution{ProjectID: pv.ProjectID, Project: "p", Version: 1, Flow: "f", Concurrent: "skip"}
		calls := map[string]func() error{
			"AddUser":         func() error { _, err := s.AddUser(ctx, "a", "admin", "h"); return err },
			"GetUser":         func() error { _, err := s.GetUser(ctx, "a"); return err },
			"ListUsers":       func() error { _, err := s.ListUsers(ctx, store.Page{}); return err },
			"CountUsers":      func() error { _, err := s.CountUsers(ctx); return err },
			"SetPasswordHash": func() error { return s.SetPasswordHash(ctx, "a", "h") },
			"DeleteUser":      func() error { return s.DeleteUser(ctx, "a") },
			"AddToken":        func() error { _, err := s.AddToken(ctx, "a", "n", "hash", "p", time.Time{}); return err },
			"ListTokens":      func() error { _, err := s.ListTokens(ctx, "", store.Page{}); return err },
			"RevokeToken":     func() error { return s.RevokeToken(ctx, 1, "") },
			"TokenUser":       func() error { _, err := s.TokenUser(ctx, "hash"); return err },
			"AddProjectVersion": func() error {
				_, err := s.AddProjectVersion(ctx, store.NewProjectVersion{Project: "p", Archive: []byte("z")})
				return err
			},
			"ListProjects":        func() error { _, err := s.ListProjects(ctx, store.Page{}); return err },
			"GetProject":          func() error { _, err := s.GetProject(ctx, "p"); return err },
			"ProjectVersions":     func() error { _, err := s.ProjectVersions(ctx, pv.ProjectID); return err },
			"GetProjectVersion":   func() error { _, err := s.GetProjectVersion(ctx, "p", 1); return err },
			"ProjectArchive":      func() error { _, err := s.ProjectArchive(ctx, pv.ProjectID, 1); return err },
			"AddSchedule":         func() error { _, err := s.AddSchedule(ctx, store.NewSchedule{Project: "p", Flow: "f"}); return err },
			"GetSchedule":         func() error { _, err := s.GetSchedule(ctx, 1); return err },
			"ListSchedules":       func() error { _, err := s.ListSchedules(ctx, store.Page{}); return err },
			"DueSchedules":        func() error { _, err := s.DueSchedules(ctx, 10); return err },
			"SetSchedulePaused":   func() error { return s.SetSchedulePaused(ctx, 1, true, now) },
			"DeleteSchedule":      func() error { return s.DeleteSchedule(ctx, 1) },
			"FireSchedule":        func() error { _, _, err := s.FireSchedule(ctx, 1, now, now, &ne, ""); return err },
			"RecordScheduleError": func() error { return s.RecordScheduleError(ctx, 1, now, now, "x") },
			"submit":              func() error { _, err := submitQueued(ctx, s, ne); return err },
			"GetExecution":        func() error { _, err := s.GetExecution(ctx, ex.ID); return err },
			"ListExecutions":      func() error { _, err := s.ListExecutions(ctx, store.ExecutionFilter{Status: "running"}); return err },
			"ExecutionCounts":     func() error { _, err := s.ExecutionCounts(ctx); return err },
			"ExecutionRunSpec":    func() error { _, err := s.ExecutionRunSpec(ctx, ex.ID); return err },
			"AssignDue":           func() error { _, err := dispatch.AssignDue(ctx, s, 10, nil); return err },
			"ExecutorWork":        func() error { _, err := s.ExecutorWork(ctx, e.ID); return err },
			"ClaimExecution":      func() error { _, err := s.ClaimExecution(ctx, ex.ID, e.ID, 1); return err },
			"Report": func() error {
				return s.Report(ctx, ex.ID, e.ID, 1, []store.ExecutionJob{{Name: "a"}}, []store.LogChunk{{Data: []byte("x")}}, nil)
			},
			"FinishExecution":  func() error { return s.FinishExecution(ctx, ex.ID, e.ID, 1, store.ExecSucceeded, "") },
			"ReadLog":          func() error { _, _, err := s.ReadLog(ctx, ex.ID, "", 0, 10); return err },
			"CancelExecution":  func() error { _, err := s.CancelExecution(ctx, ex.ID, "u", ""); return err },
			"ActiveExecutions": func() error { _, err := s.ActiveExecutions(ctx); return err },
			"ReapExecution":    func() error { _, err := s.ReapExecution(ctx, owner, "lost", pol); return err },
			"Requeue": func() error {
				_, _, err := s.Requeue(ctx, store.DispatchFailure{ID: ex.ID, Attempt: 1}, pol)
				return err
			},
			"Requeue, the last": func() error {
				_, _, err := s.Requeue(ctx, store.DispatchFailure{ID: ex.ID, Attempt: 1, Failures: 2}, pol)
				return err
			},
			"RecordLost":          func() error { return s.RecordLost(ctx, e.ID, "lost") },
			"RegisterExecutor":    func() error { _, err := s.RegisterExecutor(ctx, store.ExecutorSpec{Host: "h", Port: 9}); return err },
			"ExecutorHeartbeat":   func() error { _, err := s.ExecutorHeartbeat(ctx, e.ID, store.Heartbeat{}); return err },
			"SetExecutorActive":   func() error { _, err := s.SetExecutorActive(ctx, e.ID, false, "a"); return err },
			"MarkExecutorStopped": func() error { return s.MarkExecutorStopped(ctx, e.ID, "a", "stop") },
			"ListExecutors":       func() error { _, err := s.ListExecutors(ctx); return err },
			"ExecutorsWithLoad":   func() error { _, err := s.ExecutorsWithLoad(ctx, store.Page{}); return err },
			"GetExecutor":         func() error { _, err := s.GetExecutor(ctx, e.ID); return err },
			"DeleteExecutor":      func() error { return s.DeleteExecutor(ctx, e.ID, time.Second, "a") },
			"ExecutorEvents":      func() error { _, err := s.ExecutorEvents(ctx, 0, 10); return err },
			"SetOfflineAfter":     func() error { return s.SetOfflineAfter(ctx, time.Second) },
			"OfflineAfter":        func() error { _, err := s.OfflineAfter(ctx); return err },
			"Migrate":             func() error { _, err := s.Migrate(ctx); return err },
			"CheckSchema":         func() error { return s.CheckSchema(ctx) },
		}
		for name, call := range calls {
			err := call()
			if err == nil {
				t.Errorf("%s succeeded with the database closed", name)
				continue
			}
			for _, a := range answers {
				if errors.Is(err, a) {
					t.Errorf("%s with the database closed = %v: taken for %v", name, err, a)
				}
			}
		}
	})
}

// dropTable removes a table, so that the writes touching it fail part-way.
func dropTable(t *testing.T, s *store.Store, table string) {
	t.Helper()
	if _, err := s.ExecRaw(context.Background(), "DROP TABLE "+table); err != nil {
		t.Fatal(err)
	}
}

// wantFailed fails the test unless each write returned an error.
func wantFailed(t *testing.T, writes map[string]error) {
	t.Helper()
	for name, err := range writes {
		if err == nil {
			t.Errorf("%s succeeded without the table it writes to", name)
		}
	}
}

// TestExecutorChangesGoWithTheirEvents: an executor's registration,
// activation, stop and removal are written with their event or not at all.
func TestExecutorChangesGoWithTheirEvents(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		on := registerExecutor(t, s, "on", 1)
		off := registerExecutor(t, s, "off", 2)
		dropTable(t, s, "executor_events")
		_, registerErr := s.RegisterExecutor(ctx, store.ExecutorSpec{Name: "new", Host: "h", Port: 3})
		_, activateErr := s.SetExecutorActive(ctx, on.ID, true, "alice")
		wantFailed(t, map[string]error{
			"RegisterExecutor":    registerErr,
			"SetExecutorActive":   activateErr,
			"MarkExecutorStopped": s.MarkExecutorStopped(ctx, on.ID, "on", "stop"),
			"DeleteExecutor":      s.DeleteExecutor(ctx, off.ID, 0, "bob"),
			"RecordLost":          s.RecordLost(ctx, off.ID, "lost"),
		})
		list, err := s.ListExecutors(ctx)
		if err != nil || len(list) != 2 || list[0].Active || list[0].Stopped || list[1].ID != off.ID {
			t.Fatalf("executors after failed changes = %+v, %v; want on and off as registered", list, err)
		}
	})
}

// TestFailedUploadStoresNothing: an upload whose archive cannot be stored
// leaves neither a new project nor a new version.
func TestFailedUploadStoresNothing(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		_, pv := fixture(t, s)
		dropTable(t, s, "project_files")
		for _, project := range []string{"p", "new"} {
			if _, err := s.AddProjectVersion(ctx, store.NewProjectVersion{Project: project, SHA256: "y", Archive: []byte("zip")}); err == nil {
				t.Fatalf("upload of %s stored without its archive", project)
			}
		}
		if _, err := s.GetProject(ctx, "new"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("project of a failed first upload = %v, want ErrNotFound", err)
		}
		latest, err := s.GetProjectVersion(ctx, "p", 0)
		if err != nil || latest.Version != pv.Version || latest.SHA256 != pv.SHA256 {
			t.Fatalf("latest version after a failed upload = %+v, %v; want %d", latest, err, pv.Version)
		}
	})
}

// TestEndsGoWithTheirJobs: whatever ends (or would end) an execution and
// its jobs does both or neither.
func TestEndsGoWithTheirJobs(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e, pv := fixture(t, s)
		ex := running(t, s, e, pv)
		queued := submitOne(t, s, pv, "queue")
		dropTable(t, s, "execution_jobs")
		_, cancelErr := s.CancelExecution(ctx, queued.ID, "bob", "")
		_, abandonErr := s.AbandonExecution(ctx, store.ExecutionOwner{ID: ex.ID, ExecutorID: e.ID, Attempt: 1, Status: store.ExecRunning}, "lost")
		wantFailed(t, map[string]error{
			"FinishExecution":  s.FinishExecution(ctx, ex.ID, e.ID, 1, store.ExecSucceeded, ""),
			"CancelExecution":  cancelErr,
			"AbandonExecution": abandonErr,
		})
		counts, err := s.ExecutionCounts(ctx)
		if err != nil || counts[store.ExecRunning] != 1 || counts[store.ExecQueued] != 1 || len(counts) != 2 {
			t.Fatalf("after failed ends: %v, %v; want one RUNNING, one QUEUED", counts, err)
		}
		if work, err := s.ExecutorWork(ctx, e.ID); err != nil || len(work) != 1 || work[0].ID != ex.ID || work[0].Status != store.ExecRunning {
			t.Fatalf("the executor's work after failed ends = %+v, %v", work, err)
		}
	})
}

// TestReportIsOneWrite: job states and log chunks of one report are
// recorded together or not at all.
func TestReportIsOneWrite(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e, pv := fixture(t, s)
		ex := running(t, s, e, pv)
		dropTable(t, s, "execution_logs")
		jobs := []store.ExecutionJob{{Name: "a", Type: "command", Status: "RUNNING"}}
		if err := s.Report(ctx, ex.ID, e.ID, 1, jobs, []store.LogChunk{{Job: "a", Data: []byte("hello")}}, nil); err == nil || errors.Is(err, store.ErrFenced) {
			t.Fatalf("report without a log table = %v, want a failure", err)
		}
		if got, err := s.GetExecution(ctx, ex.ID); err != nil || len(got.Jobs) != 0 || got.Status != store.ExecRunning {
			t.Fatalf("after a failed report: %+v, %v; want RUNNING without jobs", got, err)
		}
	})
}

// TestFailedFireKeepsItsTime: a fire time whose execution could not be
// stored is still due, to be tried again.
func TestFailedFireKeepsItsTime(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		pv, sc := scheduleFixture(t, s)
		due := *sc.NextFire
		dropTable(t, s, "executions")
		ne := store.NewExecution{ProjectID: pv.ProjectID, Project: "p", Version: pv.Version, Flow: "f", Concurrent: "ignore"}
		if o, _, err := s.FireSchedule(ctx, sc.ID, due, due.Add(time.Second), &ne, "fired"); err == nil {
			t.Fatalf("fire without an executions table = %q", o)
		}
		checkSchedule(t, s, sc.ID, due, 0, 0, "")
	})
}

// TestFailedUserDeleteKeepsTheUser: a user whose tokens cannot be revoked
// is not deleted.
func TestFailedUserDeleteKeepsTheUser(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		addUser(t, s, "alice", "admin", "h")
		dropTable(t, s, "api_tokens")
		if err := s.DeleteUser(context.Background(), "alice"); err == nil {
			t.Fatal("deleted without revoking the tokens")
		}
		checkHash(t, s, "alice", "h")
	})
}
