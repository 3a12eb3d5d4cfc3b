package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/dispatch"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/store/storetest"
)

// running submits, assigns and claims one execution on e.
func running(t *testing.T, s *store.Store, e *store.Executor, pv *store.ProjectVersion) *store.Execution {
	t.Helper()
	ctx := context.Background()
	ex := submitOne(t, s, pv, "ignore")
	if as, err := dispatch.AssignDue(ctx, s, 10, pickFirst(t, s)); err != nil || len(as) != 1 {
		t.Fatalf("assign = %+v, %v", as, err)
	}
	if ok, err := s.ClaimExecution(ctx, ex.ID, e.ID, 1); !ok || err != nil {
		t.Fatalf("claim = %v, %v", ok, err)
	}
	return ex
}

func TestReportBatches(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e, pv := fixture(t, s)
		ex := running(t, s, e, pv)
		t0 := time.Now().UTC().Truncate(time.Millisecond)
		t1 := t0.Add(time.Second)
		code := 3
		// Many states of many jobs in one batch: the last state of each wins.
		var jobs []store.ExecutionJob
		for i := range 250 {
			name := fmt.Sprintf("job%03d", i)
			jobs = append(jobs,
				store.ExecutionJob{Name: name, Type: "command", Status: "RUNNING", StartTime: &t0},
				store.ExecutionJob{Name: name, Type: "command", Status: "FAILED", StartTime: &t0, EndTime: &t1, ExitCode: &code, Error: "exit code 3"})
		}
		// Log chunks past one statement's row and byte bounds.
		var logs []store.LogChunk
		var want bytes.Buffer
		off := int64(0)
		for i := range 300 {
			data := bytes.Repeat([]byte{byte('a' + i%26)}, 9000)
			logs = append(logs, store.LogChunk{Job: "job000", Offset: off, Data: data})
			want.Write(data)
			off += int64(len(data))
		}
		if err := s.Report(ctx, ex.ID, e.ID, 1, jobs, logs, nil); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetExecution(ctx, ex.ID)
		if err != nil || got.Status != store.ExecRunning || len(got.Jobs) != 250 {
			t.Fatalf("after report: status %s, %d jobs, %v", got.Status, len(got.Jobs), err)
		}
		for _, j := range got.Jobs {
			if j.Status != "FAILED" || j.ExitCode == nil || *j.ExitCode != 3 || j.StartTime == nil || !j.StartTime.Equal(t0) || j.EndTime == nil {
				t.Fatalf("job %+v: want the last state", j)
			}
		}
		var read []byte
		for int64(len(read)) < off {
			data, next, err := s.ReadLog(ctx, ex.ID, "job000", int64(len(read)), want.Len())
			if err != nil || len(data) == 0 || next != int64(len(read)+len(data)) {
				t.Fatalf("log from %d: %d bytes to %d, %v", len(read), len(data), next, err)
			}
			read = append(read, data...)
		}
		if !bytes.Equal(read, want.Bytes()) {
			t.Fatalf("log: %d bytes, not the %d written in order", len(read), want.Len())
		}

		// The end goes with the last states, in the same transaction.
		done := []store.ExecutionJob{{Name: "last", Type: "command", Status: "SUCCEEDED", StartTime: &t0, EndTime: &t1}}
		if err := s.Report(ctx, ex.ID, e.ID, 1, done, nil, &store.ExecutionEnd{Status: store.ExecFailed, Error: "job000 failed"}); err != nil {
			t.Fatal(err)
		}
		got, _ = s.GetExecution(ctx, ex.ID)
		if got.Status != store.ExecFailed || got.Error != "job000 failed" || got.EndTime == nil || len(got.Jobs) != 251 {
			t.Fatalf("after end: %s %q end=%v jobs=%d", got.Status, got.Error, got.EndTime, len(got.Jobs))
		}

		// Ended: nothing more is written, whether or not it carries an end.
		late := []store.ExecutionJob{{Name: "late", Type: "command", Status: "RUNNING"}}
		if err := s.Report(ctx, ex.ID, e.ID, 1, late, nil, nil); !errors.Is(err, store.ErrFenced) {
			t.Fatalf("report after the end = %v, want ErrFenced", err)
		}
		if err := s.Report(ctx, ex.ID, e.ID, 1, late, nil, &store.ExecutionEnd{Status: store.ExecSucceeded}); !errors.Is(err, store.ErrFenced) {
			t.Fatalf("second end = %v, want ErrFenced", err)
		}
		got, _ = s.GetExecution(ctx, ex.ID)
		if got.Status != store.ExecFailed || len(got.Jobs) != 251 {
			t.Fatalf("a fenced report changed the execution: %s, %d jobs", got.Status, len(got.Jobs))
		}
	})
}

func TestSubmitAndAssign(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e, pv := fixture(t, s)
		ne := store.NewExecution{ProjectID: pv.ProjectID, Project: "p", Version: pv.Version, Flow: "f", Concurrent: "ignore", FailureAction: "finishCurrent", SubmitUser: "u"}
		// Nothing queued: assigned in the submit transaction.
		ex, a, err := dispatch.SubmitAndAssign(ctx, s, ne, pickFirst(t, s), nil)
		if err != nil || a == nil || a.Executor.ID != e.ID || a.Attempt != 1 || ex.Status != store.ExecDispatching || ex.DispatchedTime == nil {
			t.Fatalf("submit = %+v, %+v, %v", ex, a, err)
		}
		if ok, err := s.ClaimExecution(ctx, ex.ID, e.ID, 1); !ok || err != nil {
			t.Fatalf("claim of an inline assignment = %v, %v", ok, err)
		}
		// No eligible executor: queued with the reason.
		none := func(context.Context, *store.Execution) (*store.Executor, string, error) {
			return nil, "waiting: nobody", nil
		}
		q, a, err := dispatch.SubmitAndAssign(ctx, s, ne, none, nil)
		if err != nil || a != nil || q.Status != store.ExecQueued || q.WaitReason != "waiting: nobody" {
			t.Fatalf("submit without executors = %+v, %+v, %v", q, a, err)
		}
		// Something queued ahead: the newcomer waits its turn.
		later, a, err := dispatch.SubmitAndAssign(ctx, s, ne, pickFirst(t, s), nil)
		if err != nil || a != nil || later.Status != store.ExecQueued {
			t.Fatalf("submit behind a queued one = %+v, %+v, %v", later, a, err)
		}
		as, err := dispatch.AssignDue(ctx, s, 10, pickFirst(t, s))
		if err != nil || len(as) != 2 || as[0].ExecutionID != q.ID || as[1].ExecutionID != later.ID {
			t.Fatalf("queue order after = %+v, %v", as, err)
		}
		// --concurrent queue is left to the dispatcher.
		ne.Concurrent = "queue"
		qe, a, err := dispatch.SubmitAndAssign(ctx, s, ne, pickFirst(t, s), nil)
		if err != nil || a != nil || qe.Status != store.ExecQueued {
			t.Fatalf("concurrent queue = %+v, %+v, %v", qe, a, err)
		}
		// A failing choice fails the submission, and nothing is stored.
		if _, err := s.CancelExecution(ctx, qe.ID, "t", ""); err != nil {
			t.Fatal(err)
		}
		boom := func(context.Context, *store.Execution) (*store.Executor, string, error) {
			return nil, "", errors.New("boom")
		}
		ne.Concurrent = "ignore"
		before, _ := s.ListExecutions(ctx, store.ExecutionFilter{})
		if _, _, err := dispatch.SubmitAndAssign(ctx, s, ne, boom, nil); err == nil || !strings.Contains(err.Error(), "boom") {
			t.Fatalf("submit with a failing choice = %v", err)
		}
		if after, _ := s.ListExecutions(ctx, store.ExecutionFilter{}); len(after) != len(before) {
			t.Fatalf("a failed submit stored %d executions", len(after)-len(before))
		}
	})
}

// TestReportManyFencesEachAttemptAlone: batches of several executions share
// one transaction; one whose attempt is no longer the executor's writes
// nothing and is marked fenced, while the others' states, logs and ends
// are all written.
func TestReportManyFencesEachAttemptAlone(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e, pv := fixture(t, s)
		a, b, lost := running(t, s, e, pv), running(t, s, e, pv), running(t, s, e, pv)
		// The cluster takes lost away: given up as if its executor died.
		o := store.ExecutionOwner{ID: lost.ID, ExecutorID: e.ID, Attempt: 1, Status: store.ExecRunning}
		if ok, err := s.AbandonExecution(ctx, o, "executor lost"); err != nil || !ok {
			t.Fatalf("abandon = %v, %v", ok, err)
		}
		now := time.Now().UTC()
		job := func(status string) []store.ExecutionJob {
			return []store.ExecutionJob{{Name: "j", Type: "command", Status: status, StartTime: &now}}
		}
		log := []store.LogChunk{{Job: "j", Data: []byte("out\n")}}
		fenced, err := s.ReportMany(ctx, e.ID, []store.ReportBatch{
			{ExecID: a.ID, Attempt: 1, Jobs: job("RUNNING"), Logs: log},
			{ExecID: lost.ID, Attempt: 1, Jobs: job("SUCCEEDED"), Logs: log, End: &store.ExecutionEnd{Status: store.ExecSucceeded, JobsEnded: true}},
			{ExecID: b.ID, Attempt: 1, Jobs: job("SUCCEEDED"), Logs: log, End: &store.ExecutionEnd{Status: store.ExecSucceeded, JobsEnded: true, NoSuccessMail: true}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if fenced[0] || !fenced[1] || fenced[2] {
			t.Fatalf("fenced = %v, want only the lost one", fenced)
		}
		for _, c := range []struct {
			id     int64
			status string
			job    string
		}{{a.ID, store.ExecRunning, "RUNNING"}, {b.ID, store.ExecSucceeded, "SUCCEEDED"}} {
			got, err := s.GetExecution(ctx, c.id)
			if err != nil || got.Status != c.status || len(got.Jobs) != 1 || got.Jobs[0].Status != c.job {
				t.Fatalf("execution %d = %+v, %v; want %s with job %s", c.id, got, err, c.status, c.job)
			}
			if data, _, err := s.ReadLog(ctx, c.id, "j", 0, 100); err != nil || string(data) != "out\n" {
				t.Fatalf("log of %d = %q, %v", c.id, data, err)
			}
		}
		got, err := s.GetExecution(ctx, lost.ID)
		if err != nil || got.Status == store.ExecSucceeded || len(got.Jobs) != 0 {
			t.Fatalf("the fenced execution = %+v, %v; want nothing of its batch written", got, err)
		}
		if data, _, _ := s.ReadLog(ctx, lost.ID, "j", 0, 100); len(data) != 0 {
			t.Fatalf("the fenced execution's log = %q", data)
		}
	})
}
