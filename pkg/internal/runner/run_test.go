package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/flow"
)

func TestIndependentJobsRunInParallel(t *testing.T) {
	t.Parallel()
	// Each job succeeds only if it sees the other's marker while it runs.
	ex := newExecution(t,
		command("a", "touch a.mark; "+waitFor("b.mark")),
		command("b", "touch b.mark; "+waitFor("a.mark")),
	)
	rec := newRecorder()
	res := run(t, ex, rec)
	if res.Status != "SUCCEEDED" {
		t.Fatalf("result %+v", res)
	}
	rec.expectStatuses(t, map[string]JobStatus{"a": Succeeded, "b": Succeeded})
}

func TestMaxParallelBoundsProcesses(t *testing.T) {
	t.Parallel()
	// mkdir is atomic: a job fails if another holds the lock at the same time.
	job := "mkdir lock || { echo overlap; exit 1; }; sleep 0.2; rmdir lock"
	ex := newExecution(t, command("a", job), command("b", job), command("c", job), &flow.Node{Name: "n", Type: flow.TypeNoop})
	ex.MaxParallel = 1
	rec := newRecorder()
	if res := run(t, ex, rec); res.Status != "SUCCEEDED" {
		t.Fatalf("result %+v\n%s", res, rec.flowText())
	}
	rec.expectStatuses(t, map[string]JobStatus{"a": Succeeded, "b": Succeeded, "c": Succeeded, "n": Succeeded})
}

func TestDependentStartsAfterDependency(t *testing.T) {
	t.Parallel()
	ex := newExecution(t,
		command("a", "sleep 0.1; echo done > a.out"),
		command("b", "test -f a.out", "a"),
	)
	rec := newRecorder()
	if res := run(t, ex, rec); res.Status != "SUCCEEDED" {
		t.Fatalf("result %+v", res)
	}
	a, b := rec.last(t, "a"), rec.of("b")[0]
	if b.Status != Running || b.StartTime.Before(a.EndTime) {
		t.Errorf("b started %v (%s), a ended %v", b.StartTime, b.Status, a.EndTime)
	}
	if a.ExitCode == nil || *a.ExitCode != 0 {
		t.Errorf("a exit code %v", a.ExitCode)
	}
}

func TestConditions(t *testing.T) {
	t.Parallel()
	const (
		ok   = "true"
		fail = "exit 3"
	)
	props := func(json string) string { return fmt.Sprintf(`printf '%%s' '%s' > "$JOB_OUTPUT_PROP_FILE"`, json) }
	cases := []struct {
		name, a, b, cond string
		want             JobStatus
	}{
		{"all_success/true", ok, ok, "all_success", Succeeded},
		{"all_success/false", fail, ok, "all_success", Cancelled},
		{"all_failed/true", fail, fail, "all_failed", Succeeded},
		{"all_failed/false", fail, ok, "all_failed", Skipped},
		{"all_done", fail, ok, "all_done", Succeeded},
		{"one_success/true", fail, ok, "one_success", Succeeded},
		{"one_success/false", fail, fail, "one_success", Skipped},
		{"one_failed/true", fail, ok, "one_failed", Succeeded},
		{"one_failed/false", ok, ok, "one_failed", Skipped},
		{"one_done", ok, fail, "one_done", Succeeded},
		{"param/true", props(`{"x":"y"}`), ok, "${a:x} == 'y'", Succeeded},
		{"param/false", props(`{"x":"z"}`), ok, "${a:x} == 'y'", Skipped},
		{"param/not-equal", props(`{"x":"z"}`), ok, `${a:x} != "y"`, Succeeded},
		{"numeric/true", props(`{"n":10}`), ok, "one_failed || (all_success && ${a:n} >= 9)", Succeeded},
		{"numeric/false", props(`{"n":10}`), ok, "one_failed || (all_success && ${a:n} < 9)", Skipped},
		{"undefined", ok, ok, "${a:missing} == 'y'", Failed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ex := newExecution(t,
				command("a", tc.a),
				command("b", tc.b),
				withCondition(command("c", "true", "a", "b"), tc.cond),
			)
			ex.FailureAction = FinishPossible
			rec := newRecorder()
			res := run(t, ex, rec)
			rec.expectStatuses(t, map[string]JobStatus{"c": tc.want})
			c := rec.last(t, "c")
			switch tc.want {
			case Skipped:
				if !strings.Contains(c.Error, tc.cond) {
					t.Errorf("skip error %q does not name the condition", c.Error)
				}
			case Cancelled:
				if c.Error != `dependency "a" FAILED` {
					t.Errorf("cancel error %q", c.Error)
				}
			case Failed:
				if !strings.Contains(c.Error, "undefined parameter ${a:missing}") {
					t.Errorf("error %q", c.Error)
				}
			}
			wantResult := "SUCCEEDED"
			if tc.a == fail || tc.b == fail || tc.want == Failed {
				wantResult = "FAILED"
			}
			if res.Status != wantResult {
				t.Errorf("result %+v, want %s", res, wantResult)
			}
		})
	}
}

func TestSkippedDependencyCountsAsSuccess(t *testing.T) {
	t.Parallel()
	ex := newExecution(t,
		command("a", "true"),
		withCondition(command("s", "echo ran > s.out", "a"), "one_failed"),
		command("d", "true", "s"),
		withCondition(command("e", "true", "s"), "all_failed"),
	)
	rec := newRecorder()
	if res := run(t, ex, rec); res.Status != "SUCCEEDED" {
		t.Fatalf("result %+v", res)
	}
	rec.expectStatuses(t, map[string]JobStatus{"a": Succeeded, "s": Skipped, "d": Succeeded, "e": Skipped})
	if exists(inDir(ex, "s.out")) {
		t.Error("skipped job ran")
	}
}

func TestFailureActions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		action string
		want   map[string]JobStatus
	}{
		{FinishCurrent, map[string]JobStatus{"fail": Failed, "slow": Succeeded, "after": Cancelled, "child": Cancelled, "handler": Cancelled}},
		{"", map[string]JobStatus{"fail": Failed, "slow": Succeeded, "after": Cancelled, "child": Cancelled, "handler": Cancelled}},
		{CancelImmediately, map[string]JobStatus{"fail": Failed, "slow": Killed, "after": Cancelled, "child": Cancelled, "handler": Cancelled}},
		{FinishPossible, map[string]JobStatus{"fail": Failed, "slow": Succeeded, "after": Succeeded, "child": Cancelled, "handler": Succeeded}},
	}
	for _, tc := range cases {
		t.Run("action="+tc.action, func(t *testing.T) {
			t.Parallel()
			ex := newExecution(t,
				command("fail", "exit 3"),
				command("slow", waitFor("release")),
				command("after", "true", "slow"),
				command("child", "true", "fail"),
				withCondition(command("handler", "true", "fail"), "one_failed"),
			)
			ex.FailureAction = tc.action
			rec := newRecorder()
			// "slow" is still running when the failure is handled: it ends
			// only once "child" has been cancelled because of the failure.
			// Under cancelImmediately it is never released and must be killed.
			rec.onUpdate = func(u JobUpdate) error {
				if u.Job == "child" && u.Status == Cancelled && tc.action != CancelImmediately {
					touch(t, inDir(ex, "release"))
				}
				return nil
			}
			start := time.Now()
			res := run(t, ex, rec)
			if res.Status != "FAILED" || res.Error != `job "fail" failed: exit code 3` {
				t.Errorf("result %+v", res)
			}
			rec.expectStatuses(t, tc.want)
			if f := rec.last(t, "fail"); f.ExitCode == nil || *f.ExitCode != 3 || f.Error != "exit code 3" {
				t.Errorf("fail update %+v", f)
			}
			if d := time.Since(start); d > 8*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

func TestRetriesSucceedOnThirdAttempt(t *testing.T) {
	t.Parallel()
	ex := newExecution(t, withConfig(command("a",
		`echo ${azkaban.job.attempt} >> attempts; n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; echo "try $n"; [ $n -ge 3 ]`),
		"retries", "3", "retry.backoff", "20"))
	ex.LogDir = t.TempDir()
	rec := newRecorder()
	if res := run(t, ex, rec); res.Status != "SUCCEEDED" {
		t.Fatalf("result %+v", res)
	}
	var seq []string
	for _, u := range rec.of("a") {
		seq = append(seq, fmt.Sprintf("%s/%d", u.Status, u.Attempt))
	}
	want := "RUNNING/0 FAILED/0 RUNNING/1 FAILED/1 RUNNING/2 SUCCEEDED/2"
	if got := strings.Join(seq, " "); got != want {
		t.Errorf("updates %s, want %s", got, want)
	}
	if got := readTrim(t, inDir(ex, "attempts")); got != "0\n1\n2" {
		t.Errorf("attempt parameter %q", got)
	}
	if got := string(rec.log("a")); got != "try 1\ntry 2\ntry 3\n" {
		t.Errorf("log %q", got)
	}
	for attempt := range 3 {
		name := fmt.Sprintf("a.%d.log", attempt)
		if got, want := readTrim(t, filepath.Join(ex.LogDir, name)), fmt.Sprintf("try %d", attempt+1); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
}

func TestRetriesExhausted(t *testing.T) {
	t.Parallel()
	ex := newExecution(t, withConfig(command("a", "exit 4"), "retries", "1"))
	rec := newRecorder()
	res := run(t, ex, rec)
	if res.Status != "FAILED" || res.Error != `job "a" failed: exit code 4` {
		t.Errorf("result %+v", res)
	}
	last := rec.last(t, "a")
	if last.Status != Failed || last.Attempt != 1 || last.ExitCode == nil || *last.ExitCode != 4 {
		t.Errorf("last update %+v", last)
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	ex := newExecution(t,
		withConfig(command("a", "sleep 30"), "timeout", "1s"),
		withConfig(command("b", "sleep 30"), "timeout", "1"),
	)
	rec := newRecorder()
	start := time.Now()
	res := run(t, ex, rec)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	if res.Status != "FAILED" || !strings.Contains(res.Error, "timed out after 1s") {
		t.Errorf("result %+v", res)
	}
	rec.expectStatuses(t, map[string]JobStatus{"a": Failed, "b": Failed})
	for _, job := range []string{"a", "b"} {
		if u := rec.last(t, job); u.Error != "timed out after 1s" {
			t.Errorf("job %s error %q", job, u.Error)
		}
	}
}

func TestCancelKillsWholeProcessGroup(t *testing.T) {
	t.Parallel()
	ex := newExecution(t,
		// The shell ignores SIGTERM, and so do its children (ignored
		// signals are inherited): only SIGKILL ends them.
		command("a", `trap '' TERM; sleep 300 & echo $$ > pgid.tmp && mv pgid.tmp pgid; sleep 300`),
		command("next", "true", "a"),
	)
	ex.KillGrace = 300 * time.Millisecond
	rec := newRecorder()
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	done := make(chan Result, 1)
	go func() { done <- Run(ctx, ex, rec) }()

	pgidFile := inDir(ex, "pgid")
	eventually(t, "job to record its pgid", func() bool { return exists(pgidFile) })
	pgid, err := strconv.Atoi(readTrim(t, pgidFile))
	if err != nil {
		t.Fatal(err)
	}
	cancel(errors.New("operator cancelled"))
	var res Result
	select {
	case res = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if res.Status != "KILLED" || res.Error != "operator cancelled" || res.Fenced {
		t.Errorf("result %+v", res)
	}
	rec.expectStatuses(t, map[string]JobStatus{"a": Killed, "next": Cancelled})
	if u := rec.last(t, "a"); u.Error != "operator cancelled" {
		t.Errorf("a error %q", u.Error)
	}
	expectGroupGone(t, pgid)
}

func TestCancelledBeforeStart(t *testing.T) {
	t.Parallel()
	ex := newExecution(t, command("a", "echo ran > a.out"), command("b", "true", "a"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := newRecorder()
	res := Run(ctx, ex, rec)
	if res.Status != "KILLED" || res.Error != "execution killed" {
		t.Errorf("result %+v", res)
	}
	rec.expectStatuses(t, map[string]JobStatus{"a": Cancelled, "b": Cancelled})
	if exists(inDir(ex, "a.out")) {
		t.Error("job ran after cancel")
	}
}

func TestBackgroundChildDoesNotOutliveJob(t *testing.T) {
	t.Parallel()
	// The job exits at once, leaving a background child that holds the
	// output pipe: the runner kills it instead of waiting 300s.
	ex := newExecution(t, command("a", `sleep 300 & echo $$ > pgid; echo bye`))
	rec := newRecorder()
	start := time.Now()
	if res := run(t, ex, rec); res.Status != "SUCCEEDED" {
		t.Fatalf("result %+v", res)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	pgid, err := strconv.Atoi(readTrim(t, inDir(ex, "pgid")))
	if err != nil {
		t.Fatal(err)
	}
	expectGroupGone(t, pgid)
	if got := string(rec.log("a")); got != "bye\n" {
		t.Errorf("log %q", got)
	}
}

func TestParameters(t *testing.T) {
	t.Parallel()
	ex := newExecution(t, withConfig(command("a",
		`echo "${greeting}|${level}|${ov}|${azkaban.flow.execid}|${azkaban.flow.flowid}|${azkaban.flow.projectname}|${azkaban.flow.projectversion}|${azkaban.job.id}|${azkaban.job.attempt}" > params.out`),
		"who", "job", "level", "job", "ov", "job"))
	ex.Flow.Config = map[string]string{"greeting": "hello ${who}", "who": "flow", "level": "flow", "ov": "flow"}
	ex.Params = map[string]string{"ov": "override"}
	rec := newRecorder()
	if res := run(t, ex, rec); res.Status != "SUCCEEDED" {
		t.Fatalf("result %+v\n%s", res, rec.flowText())
	}
	want := "hello job|job|override|42|flow1|proj|3|a|0"
	if got := readTrim(t, inDir(ex, "params.out")); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestOutputProperties(t *testing.T) {
	t.Parallel()
	ex := newExecution(t,
		command("a", `echo '{"k":"v","n":3,"b":true,"o":{"x":1}}' > "$JOB_OUTPUT_PROP_FILE"`),
		command("b", `test "${a:k}" = v && test "${a:n}" = 3 && test "${a:b}" = true && test '${a:o}' = '{"x":1}'`, "a"),
		command("bad", `echo 'not json' > "$JOB_OUTPUT_PROP_FILE"`),
	)
	ex.FailureAction = FinishPossible
	rec := newRecorder()
	run(t, ex, rec)
	rec.expectStatuses(t, map[string]JobStatus{"a": Succeeded, "b": Succeeded, "bad": Failed})
	if u := rec.last(t, "bad"); !strings.Contains(u.Error, "not a JSON object") {
		t.Errorf("bad error %q", u.Error)
	}
}

func TestEnvironmentAndWorkingDir(t *testing.T) {
	t.Parallel()
	ex := newExecution(t,
		withConfig(command("a",
			`test "$GREETING" = "hi x" && test "$FOO" = over && test "$KEEP" = 1 && test "$JOB_NAME" = a && test -n "$JOB_OUTPUT_PROP_FILE" && pwd -P > ../wd.out`),
			"env.GREETING", "hi ${who}", "who", "x", "env.FOO", "over", "working.dir", "sub"),
		withConfig(command("b", `pwd -P > "$OUT"`), "working.dir", "${abs}", "env.OUT", "${out}"),
	)
	abs := t.TempDir()
	ex.Flow.Config = map[string]string{"abs": abs, "out": inDir(ex, "b.out")}
	ex.Env = []string{"PATH=" + os.Getenv("PATH"), "FOO=base", "KEEP=1"}
	if err := os.Mkdir(inDir(ex, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	if res := run(t, ex, rec); res.Status != "SUCCEEDED" {
		t.Fatalf("result %+v\n%s", res, rec.flowText())
	}
	if got, want := readTrim(t, inDir(ex, "wd.out")), realPath(t, inDir(ex, "sub")); got != want {
		t.Errorf("a ran in %q, want %q", got, want)
	}
	if got, want := readTrim(t, inDir(ex, "b.out")), realPath(t, abs); got != want {
		t.Errorf("b ran in %q, want %q", got, want)
	}
}

func TestCommandSequence(t *testing.T) {
	t.Parallel()
	ex := newExecution(t,
		withConfig(command("a", "echo 0 >> seq"), "command.1", "echo 1 >> seq", "command.10", "echo 10 >> seq", "command.2", "echo 2 >> seq"),
		withConfig(command("b", "true"), "command.1", "exit 5", "command.2", "echo never > never"),
	)
	ex.FailureAction = FinishPossible
	rec := newRecorder()
	run(t, ex, rec)
	rec.expectStatuses(t, map[string]JobStatus{"a": Succeeded, "b": Failed})
	if got := readTrim(t, inDir(ex, "seq")); got != "0\n1\n2\n10" {
		t.Errorf("sequence %q", got)
	}
	if u := rec.last(t, "b"); u.Error != "exit code 5" || exists(inDir(ex, "never")) {
		t.Errorf("b: %+v", u)
	}
}

func TestEmbeddedFlowsTwoLevelsDeep(t *testing.T) {
	t.Parallel()
	ef2 := embedded("ef2", []*flow.Node{
		command("deep", `test "${lvl}" = inner && test "${x}" = 1 && test "${ef1:inner:k}" = v1 && test "${azkaban.job.id}" = deep && echo '{"k":"z"}' > "$JOB_OUTPUT_PROP_FILE"`),
	}, "inner")
	ef2.Config = map[string]string{"lvl": "inner"}
	ef1 := embedded("ef1", []*flow.Node{
		command("inner", `test "${lvl}" = outer && echo '{"k":"v1"}' > "$JOB_OUTPUT_PROP_FILE"`),
		ef2,
	}, "start")
	ef1.Config = map[string]string{"lvl": "outer", "x": "1"}
	ex := newExecution(t,
		&flow.Node{Name: "start", Type: flow.TypeNoop},
		ef1,
		command("end", `test "${ef1:ef2:deep:k}" = z`, "ef1"),
	)
	ex.Flow.Config = map[string]string{"lvl": "flow"}
	rec := newRecorder()
	if res := run(t, ex, rec); res.Status != "SUCCEEDED" {
		t.Fatalf("result %+v\n%s", res, rec.flowText())
	}
	rec.expectStatuses(t, map[string]JobStatus{
		"start": Succeeded, "ef1": Succeeded, "ef1:inner": Succeeded,
		"ef1:ef2": Succeeded, "ef1:ef2:deep": Succeeded, "end": Succeeded,
	})
	for _, c := range []string{"ef1", "ef1:ef2"} {
		if u := rec.last(t, c); u.Type != flow.TypeFlow || u.StartTime.IsZero() || u.EndTime.Before(u.StartTime) {
			t.Errorf("container update %+v", u)
		}
	}
	order := []struct {
		job string
		s   JobStatus
	}{
		{"ef1", Running}, {"ef1:inner", Running}, {"ef1:inner", Succeeded},
		{"ef1:ef2", Running}, {"ef1:ef2:deep", Running}, {"ef1:ef2:deep", Succeeded},
		{"ef1:ef2", Succeeded}, {"ef1", Succeeded}, {"end", Running},
	}
	prev := -1
	for _, o := range order {
		i := rec.index(o.job, o.s)
		if i <= prev {
			t.Errorf("%s %s at update %d, expected after %d", o.job, o.s, i, prev)
		}
		prev = i
	}
}

func TestEmbeddedFlowFailure(t *testing.T) {
	t.Parallel()
	ex := newExecution(t,
		embedded("ef", []*flow.Node{command("bad", "exit 2"), command("after", "true", "bad")}),
		command("down", "true", "ef"),
	)
	ex.FailureAction = FinishPossible
	rec := newRecorder()
	res := run(t, ex, rec)
	if res.Status != "FAILED" || res.Error != `job "ef:bad" failed: exit code 2` {
		t.Errorf("result %+v", res)
	}
	rec.expectStatuses(t, map[string]JobStatus{"ef": Failed, "ef:bad": Failed, "ef:after": Cancelled, "down": Cancelled})
	if u := rec.last(t, "down"); u.Error != `dependency "ef" FAILED` {
		t.Errorf("down error %q", u.Error)
	}
}

func TestSkippedEmbeddedFlowSkipsItsJobs(t *testing.T) {
	t.Parallel()
	ef := withCondition(embedded("ef", []*flow.Node{command("x", "echo ran > x.out")}, "a"), "one_failed")
	ex := newExecution(t, command("a", "true"), ef)
	rec := newRecorder()
	if res := run(t, ex, rec); res.Status != "SUCCEEDED" {
		t.Fatalf("result %+v", res)
	}
	rec.expectStatuses(t, map[string]JobStatus{"ef": Skipped, "ef:x": Skipped})
	if exists(inDir(ex, "x.out")) {
		t.Error("job of skipped flow ran")
	}
}

func TestUndefinedParameter(t *testing.T) {
	t.Parallel()
	ex := newExecution(t,
		command("a", "echo ${nope}"),
		withCondition(withConfig(command("loop", "echo ${x}", "a"), "x", "${y}", "y", "${x}"), "all_done"),
	)
	ex.FailureAction = FinishPossible
	rec := newRecorder()
	res := run(t, ex, rec)
	if res.Status != "FAILED" || res.Error != `job "a" failed: undefined parameter ${nope}` {
		t.Errorf("result %+v", res)
	}
	rec.expectStatuses(t, map[string]JobStatus{"a": Failed, "loop": Failed})
	if u := rec.last(t, "a"); u.Error != `job "a": undefined parameter ${nope}` {
		t.Errorf("a error %q", u.Error)
	}
	if u := rec.last(t, "loop"); !strings.Contains(u.Error, "circular") {
		t.Errorf("loop error %q", u.Error)
	}
}

func TestUnsupportedJobTypeFails(t *testing.T) {
	t.Parallel()
	ex := newExecution(t, &flow.Node{Name: "s", Type: "spark"})
	rec := newRecorder()
	res := run(t, ex, rec)
	if res.Status != "FAILED" || !strings.Contains(res.Error, `unsupported job type "spark"`) {
		t.Errorf("result %+v", res)
	}
}

func TestFencedReporterKillsRunningJobs(t *testing.T) {
	t.Parallel()
	ex := newExecution(t,
		command("a", `echo $$ > pgid.tmp && mv pgid.tmp pgid; sleep 300`),
		command("b", waitFor("pgid")),
		command("c", "true", "b"),
	)
	ex.KillGrace = 0 // the default
	rec := newRecorder()
	var fencedNow atomic.Bool
	rec.onUpdate = func(u JobUpdate) error {
		if u.Job == "b" && u.Status == Succeeded {
			fencedNow.Store(true)
		}
		if fencedNow.Load() {
			return fmt.Errorf("store: %w", ErrFenced)
		}
		return nil
	}
	start := time.Now()
	res := run(t, ex, rec)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	if res.Status != "KILLED" || !res.Fenced || !strings.Contains(res.Error, "fenced") {
		t.Errorf("result %+v", res)
	}
	pgid, err := strconv.Atoi(readTrim(t, inDir(ex, "pgid")))
	if err != nil {
		t.Fatal(err)
	}
	expectGroupGone(t, pgid)
	if us := rec.of("c"); len(us) != 0 {
		t.Errorf("c reported after fencing: %+v", us)
	}
}

// Retrying belongs to the Reporter (the executor's retries until its write
// lands): the runner hands each update over once, notes a failure in the flow
// log and goes on.
func TestReporterErrorsAreNotedNotRetried(t *testing.T) {
	t.Parallel()
	ex := newExecution(t, command("a", "echo out"), command("b", "true", "a"))
	rec := newRecorder()
	rec.onUpdate = func(u JobUpdate) error {
		if u.Job == "a" && u.Status == Running {
			return errors.New("store unavailable")
		}
		return nil
	}
	if res := run(t, ex, rec); res.Status != "SUCCEEDED" {
		t.Fatalf("result %+v", res)
	}
	rec.expectStatuses(t, map[string]JobStatus{"a": Succeeded, "b": Succeeded})
	running := 0
	for _, u := range rec.of("a") {
		if u.Status == Running {
			running++
		}
	}
	if running != 1 {
		t.Errorf("RUNNING of a handed over %d times, want once", running)
	}
	if log := rec.flowText(); !strings.Contains(log, "cannot report status RUNNING of job a: store unavailable") {
		t.Errorf("flow log does not note the failure:\n%s", log)
	}
}

func TestMissingWorkingDirFailsJob(t *testing.T) {
	t.Parallel()
	ex := newExecution(t, withConfig(command("a", "true"), "working.dir", "missing"))
	rec := newRecorder()
	res := run(t, ex, rec)
	if res.Status != "FAILED" || !strings.Contains(res.Error, "cannot start command") {
		t.Errorf("result %+v", res)
	}
	if u := rec.last(t, "a"); u.Status != Failed || u.ExitCode != nil {
		t.Errorf("update %+v", u)
	}
}

func TestNilReporter(t *testing.T) {
	t.Parallel()
	ex := newExecution(t, command("a", "echo hi"))
	if res := Run(context.Background(), ex, nil); res.Status != "SUCCEEDED" {
		t.Errorf("result %+v", res)
	}
}

func TestCancelWithFencedCause(t *testing.T) {
	t.Parallel()
	ex := newExecution(t, command("a", `echo $$ > pgid.tmp && mv pgid.tmp pgid; sleep 300`), command("b", "true", "a"))
	rec := newRecorder()
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	done := make(chan Result, 1)
	go func() { done <- Run(ctx, ex, rec) }()
	eventually(t, "job to start", func() bool { return exists(inDir(ex, "pgid")) })
	cancel(fmt.Errorf("attempt 2 took over: %w", ErrFenced))
	var res Result
	select {
	case res = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if res.Status != "KILLED" || !res.Fenced || !strings.Contains(res.Error, "fenced") {
		t.Errorf("result %+v", res)
	}
	if u := rec.last(t, "a"); u.Status != Running {
		t.Errorf("reported after fencing: %+v", u)
	}
	if us := rec.of("b"); len(us) != 0 {
		t.Errorf("reported after fencing: %+v", us)
	}
	pgid, err := strconv.Atoi(readTrim(t, inDir(ex, "pgid")))
	if err != nil {
		t.Fatal(err)
	}
	expectGroupGone(t, pgid)
}

// TestStopped: an execution stopped before its flow starts ends as Run
// would end it: KILLED with the cause, or fenced; a live context is no stop.
func TestStopped(t *testing.T) {
	if _, ok := Stopped(context.Background()); ok {
		t.Fatal("a live context counts as stopped")
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("cancelled by alice"))
	if res, ok := Stopped(ctx); !ok || res.Status != "KILLED" || res.Error != "cancelled by alice" || res.Fenced {
		t.Fatalf("killed: %+v, %v", res, ok)
	}
	ctx, cancel = context.WithCancelCause(context.Background())
	cancel(fmt.Errorf("attempt 2: %w", ErrFenced))
	if res, ok := Stopped(ctx); !ok || !res.Fenced {
		t.Fatalf("fenced: %+v, %v", res, ok)
	}
}
