package runner

import (
	"strings"
	"testing"

	"github.com/crawlctl/crawlctl/pkg/internal/flow"
)

// TestSucceededJobReportsItsOutputs: the final update of a job that
// succeeded carries its output properties, for a later retry to reuse.
func TestSucceededJobReportsItsOutputs(t *testing.T) {
	t.Parallel()
	ex := newExecution(t, command("a", `echo '{"k":"v","n":3}' > "$JOB_OUTPUT_PROP_FILE"`), command("b", "true", "a"))
	rec := newRecorder()
	if res := run(t, ex, rec); res.Status != "SUCCEEDED" {
		t.Fatalf("result %+v", res)
	}
	got := rec.last(t, "a").Outputs
	if got["k"] != "v" || got["n"] != "3" || len(got) != 2 {
		t.Errorf("outputs of a: %v", got)
	}
	if out := rec.last(t, "b").Outputs; len(out) != 0 {
		t.Errorf("outputs of b, which wrote none: %v", out)
	}
}

// TestRetryReusesSucceededJobs: the jobs of a retry that succeeded before
// do not run, end SKIPPED with the execution they succeeded in, and their
// output properties reach the jobs that run again (by parameter and in a
// condition); inside an embedded flow only the jobs that succeeded are
// reused.
func TestRetryReusesSucceededJobs(t *testing.T) {
	t.Parallel()
	ex := newExecution(t,
		command("a", `echo ran >> a.out; echo '{"k":"from-a"}' > "$JOB_OUTPUT_PROP_FILE"`),
		command("b", `echo "${a:k}" > b.out`, "a"),
		withCondition(command("c", "echo ran > c.out", "a"), "${a:k} == 'from-a'"),
		embedded("ef", []*flow.Node{
			command("one", "echo ran >> one.out"),
			command("two", `echo "${a:k}" > two.out`, "one"),
		}, "a"),
	)
	ex.RetryOf = 41
	ex.Reused = map[string]map[string]string{"a": {"k": "from-a"}, "ef:one": nil}
	rec := newRecorder()
	if res := run(t, ex, rec); res.Status != "SUCCEEDED" {
		t.Fatalf("result %+v", res)
	}
	rec.expectStatuses(t, map[string]JobStatus{"a": Skipped, "b": Succeeded, "c": Succeeded, "ef": Succeeded, "ef:one": Skipped, "ef:two": Succeeded})
	if exists(inDir(ex, "a.out")) || exists(inDir(ex, "one.out")) {
		t.Error("a reused job ran again")
	}
	if got := readTrim(t, inDir(ex, "b.out")); got != "from-a" {
		t.Errorf("b saw ${a:k} = %q, want the reused output", got)
	}
	if got := readTrim(t, inDir(ex, "two.out")); got != "from-a" {
		t.Errorf("ef:two saw ${a:k} = %q", got)
	}
	if got := rec.last(t, "a").Error; !strings.Contains(got, "succeeded in execution 41") {
		t.Errorf("reason of the reused job: %q", got)
	}
}
