package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/dispatch"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/store/storetest"
)

// TestRetrySubmission: only a FAILED or KILLED execution can be retried; a
// retry keeps the original's version, flow, parameters and options, names
// it in retry_of, and with failedOnly reuses the jobs that succeeded with
// their recorded output properties; a retry of a retry carries the reused
// jobs on; the original is not changed.
func TestRetrySubmission(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e, pv := fixture(t, s)
		ex := running(t, s, e, pv)
		if _, err := s.RetrySubmission(ctx, ex.ID, true, "u"); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("retrying a running execution: %v", err)
		}
		if _, err := s.RetrySubmission(ctx, 99999, true, "u"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("retrying no execution: %v", err)
		}
		now := time.Now()
		jobs := []store.ExecutionJob{
			{Name: "a", Type: "command", Status: "SUCCEEDED", StartTime: &now, EndTime: &now, Outputs: map[string]string{"k": "v"}},
			{Name: "quiet", Type: "command", Status: "SUCCEEDED", StartTime: &now, EndTime: &now},
			{Name: "b", Type: "command", Status: "FAILED", StartTime: &now, EndTime: &now, Error: "exit code 3"},
			{Name: "c", Type: "command", Status: "CANCELLED", EndTime: &now},
		}
		if err := s.Report(ctx, ex.ID, e.ID, 1, jobs, nil, &store.ExecutionEnd{Status: store.ExecFailed, Error: "job b failed"}); err != nil {
			t.Fatal(err)
		}
		full, err := s.RetrySubmission(ctx, ex.ID, false, "v")
		if err != nil || full.RetryOf != ex.ID || full.Reused != nil || full.Version != pv.Version || full.Flow != "f" ||
			full.Params["k"] != "v" || full.SubmitUser != "v" || full.FailureAction != "finishCurrent" {
			t.Fatalf("full retry: %+v %v", full, err)
		}
		ne, err := s.RetrySubmission(ctx, ex.ID, true, "v")
		want := map[string]map[string]string{"a": {"k": "v"}, "quiet": {}}
		if err != nil || !reflect.DeepEqual(ne.Reused, want) {
			t.Fatalf("failed-only retry reuses %v (%v), want %v", ne.Reused, err, want)
		}
		retry, err := submitQueued(ctx, s, ne)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.GetExecution(ctx, retry.ID)
		if err != nil || got.RetryOf == nil || *got.RetryOf != ex.ID || !reflect.DeepEqual(got.Reused, []string{"a", "quiet"}) {
			t.Fatalf("the retry: %+v %v", got, err)
		}
		spec, err := s.ExecutionRunSpec(ctx, retry.ID)
		if err != nil || spec.RetryOf != ex.ID || !reflect.DeepEqual(spec.Reused, want) {
			t.Fatalf("the retry's run spec: %+v %v", spec, err)
		}
		orig, err := s.GetExecution(ctx, ex.ID)
		if err != nil || orig.Status != store.ExecFailed || orig.RetryOf != nil || len(orig.Reused) != 0 || len(orig.Jobs) != 4 {
			t.Fatalf("the original changed: %+v %v", orig, err)
		}

		// The retry runs: a and quiet are reused (SKIPPED), b succeeds now
		// with outputs, c is killed. Its retry reuses a and quiet still, and b.
		if as, err := dispatch.AssignDue(ctx, s, 10, pickFirst(t, s)); err != nil || len(as) != 1 {
			t.Fatalf("assign the retry: %+v %v", as, err)
		}
		if ok, err := s.ClaimExecution(ctx, retry.ID, e.ID, 1); !ok || err != nil {
			t.Fatalf("claim = %v, %v", ok, err)
		}
		jobs = []store.ExecutionJob{
			{Name: "a", Type: "command", Status: "SKIPPED", EndTime: &now, Error: "succeeded in execution"},
			{Name: "quiet", Type: "command", Status: "SKIPPED", EndTime: &now},
			{Name: "b", Type: "command", Status: "SUCCEEDED", StartTime: &now, EndTime: &now, Outputs: map[string]string{"x": "1"}},
			{Name: "c", Type: "command", Status: "KILLED", StartTime: &now, EndTime: &now},
		}
		if err := s.Report(ctx, retry.ID, e.ID, 1, jobs, nil, &store.ExecutionEnd{Status: store.ExecKilled, Error: "killed"}); err != nil {
			t.Fatal(err)
		}
		again, err := s.RetrySubmission(ctx, retry.ID, true, "v")
		want = map[string]map[string]string{"a": {"k": "v"}, "quiet": {}, "b": {"x": "1"}}
		if err != nil || again.RetryOf != retry.ID || !reflect.DeepEqual(again.Reused, want) {
			t.Fatalf("retry of the retry reuses %v (%v), want %v", again.Reused, err, want)
		}
	})
}

// TestLargeOutputs: a report whose output properties exceed one
// statement's budget (so insertJobs splits it) records every job with its
// properties; properties over MaxOutputs are not kept, so a retry reuses
// that job without them.
func TestLargeOutputs(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e, pv := fixture(t, s)
		ex := running(t, s, e, pv)
		now := time.Now()
		big := strings.Repeat("x", store.MaxOutputs-100)
		var jobs []store.ExecutionJob
		for i := range 40 {
			jobs = append(jobs, store.ExecutionJob{Name: fmt.Sprintf("j%02d", i), Type: "command", Status: "SUCCEEDED", StartTime: &now, EndTime: &now,
				Outputs: map[string]string{"v": big}})
		}
		jobs = append(jobs,
			store.ExecutionJob{Name: "huge", Type: "command", Status: "SUCCEEDED", EndTime: &now, Outputs: map[string]string{"v": big + big}},
			store.ExecutionJob{Name: "bad", Type: "command", Status: "FAILED", EndTime: &now})
		if err := s.Report(ctx, ex.ID, e.ID, 1, jobs, nil, &store.ExecutionEnd{Status: store.ExecFailed, Error: "job bad failed"}); err != nil {
			t.Fatal(err)
		}
		ne, err := s.RetrySubmission(ctx, ex.ID, true, "u")
		if err != nil || len(ne.Reused) != 41 {
			t.Fatalf("reused %d jobs (%v), want 41", len(ne.Reused), err)
		}
		if ne.Reused["j39"]["v"] != big || len(ne.Reused["huge"]) != 0 {
			t.Fatalf("outputs: j39 has %d bytes, huge %v", len(ne.Reused["j39"]["v"]), len(ne.Reused["huge"]))
		}
	})
}
