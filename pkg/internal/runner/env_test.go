package runner

import (
	"slices"
	"strings"
	"testing"
)

func TestJobEnv(t *testing.T) {
	environ := []string{
		"PATH=/usr/bin:/bin", "HOME=/home/c", "LANG=C.UTF-8", "LC_TIME=de_DE", "TZ=UTC",
		"CRAWLCTL_DB=mysql://u:pw@db/x", "CRAWLCTL_CLUSTER_SECRET=s3cr3t-s3cr3t-s3cr3t", "CRAWLCTL_TOKEN=cct_x",
		"HTTP_PROXY=http://proxy:3128", "AWS_REGION=eu-west-1", "AWS_SECRET_ACCESS_KEY=k",
		"MYSQL_PWD=pw", "SSH_AUTH_SOCK=/tmp/agent", "weird",
	}
	got := JobEnv(environ, []string{"HTTP_PROXY", "AWS_*", "*_DB"})
	want := []string{"PATH=/usr/bin:/bin", "HOME=/home/c", "LANG=C.UTF-8", "LC_TIME=de_DE", "TZ=UTC",
		"HTTP_PROXY=http://proxy:3128", "AWS_REGION=eu-west-1", "AWS_SECRET_ACCESS_KEY=k"}
	if !slices.Equal(got, want) {
		t.Fatalf("JobEnv = %q\nwant %q", got, want)
	}
	// Even a pattern that matches everything passes no CRAWLCTL_ variable.
	for _, kv := range JobEnv(environ, []string{"*"}) {
		if strings.HasPrefix(kv, "CRAWLCTL_") {
			t.Fatalf("%s passed to jobs", kv)
		}
	}
	for _, bad := range []string{"", "A=B", "[", "CRAWLCTL_DB", "CRAWLCTL_*"} {
		if err := CheckEnvPatterns([]string{bad}); err == nil {
			t.Errorf("pattern %q accepted", bad)
		}
	}
	if err := CheckEnvPatterns([]string{"HTTP_PROXY", "AWS_*", "*_PROXY"}); err != nil {
		t.Error(err)
	}
}

// With no Execution.Env, a job gets JobEnv of the executor's environment:
// never its CRAWLCTL_ settings and secrets.
func TestDefaultEnvironmentHidesDaemonSettings(t *testing.T) {
	t.Setenv("CRAWLCTL_CLUSTER_SECRET", "secret-of-the-cluster-0123456789")
	t.Setenv("SOME_OTHER_VAR", "x")
	ex := newExecution(t, command("a", `env > env.out`))
	rec := newRecorder()
	if res := run(t, ex, rec); res.Status != "SUCCEEDED" {
		t.Fatalf("result %+v\n%s", res, rec.flowText())
	}
	env := readTrim(t, inDir(ex, "env.out"))
	for _, no := range []string{"CRAWLCTL_", "secret-of-the-cluster", "SOME_OTHER_VAR"} {
		if strings.Contains(env, no) {
			t.Errorf("the job sees %s:\n%s", no, env)
		}
	}
	for _, yes := range []string{"PATH=", "JOB_NAME=a", "AZKABAN_EXEC_ID="} {
		if !strings.Contains(env, yes) {
			t.Errorf("the job misses %s:\n%s", yes, env)
		}
	}
}
