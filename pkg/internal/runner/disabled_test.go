package runner

import (
	"testing"

	"github.com/crawlctl/crawlctl/pkg/internal/flow"
)

// TestDisabledJobsAreSkippedAndCountAsSuccess: a disabled job does not run
// and ends SKIPPED; its dependants run as after a success; a disabled
// embedded flow skips its whole DAG; a disabled job behind a failure is
// cancelled like any other.
func TestDisabledJobsAreSkippedAndCountAsSuccess(t *testing.T) {
	t.Parallel()
	ex := newExecution(t,
		command("a", "true"),
		command("off", "echo ran > off.out", "a"),
		command("after", "echo ran > after.out", "off"),
		embedded("ef", []*flow.Node{command("inner", "echo ran > inner.out")}, "a"),
		command("bad", "exit 3"),
		command("offAfterBad", "true", "bad"),
	)
	ex.Disabled = []string{"off", "ef", "offAfterBad"}
	ex.FailureAction = FinishPossible
	rec := newRecorder()
	if res := run(t, ex, rec); res.Status != "FAILED" {
		t.Fatalf("result %+v", res)
	}
	rec.expectStatuses(t, map[string]JobStatus{"a": Succeeded, "off": Skipped, "after": Succeeded, "ef": Skipped, "ef:inner": Skipped,
		"bad": Failed, "offAfterBad": Cancelled})
	if exists(inDir(ex, "off.out")) || exists(inDir(ex, "inner.out")) {
		t.Error("a disabled job ran")
	}
	if !exists(inDir(ex, "after.out")) {
		t.Error("the dependant of a disabled job did not run")
	}
	if got := rec.last(t, "off").Error; got != "disabled at submit" {
		t.Errorf("skipped job's reason %q", got)
	}
}
