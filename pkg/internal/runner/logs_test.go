package runner

import (
	"bytes"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLargeOutputIsDeliveredExactly(t *testing.T) {
	t.Parallel()
	const size = 5 << 20
	// yes | head -c cuts the last line short: the output ends without a newline.
	ex := newExecution(t, command("a", "yes abcdefghij | head -c 5242880"))
	ex.LogDir = filepath.Join(t.TempDir(), "logs")
	rec := newRecorder()
	if res := run(t, ex, rec); res.Status != "SUCCEEDED" {
		t.Fatalf("result %+v", res)
	}
	want := bytes.Repeat([]byte("abcdefghij\n"), size/11+1)[:size]
	if want[len(want)-1] == '\n' {
		t.Fatal("test output should not end with a newline")
	}
	got := rec.log("a")
	if len(got) != len(want) || sha256.Sum256(got) != sha256.Sum256(want) {
		t.Errorf("log: %d bytes, want %d (content differs: %v)", len(got), len(want), !bytes.Equal(got, want))
	}
	if n := rec.chunkCount("a"); n < size/(64<<10) {
		t.Errorf("only %d chunks for %d bytes", n, size)
	}
	file, err := os.ReadFile(filepath.Join(ex.LogDir, "a.0.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(file, want) {
		t.Errorf("log file: %d bytes, want %d", len(file), len(want))
	}
	flowLog, err := os.ReadFile(filepath.Join(ex.LogDir, flowLogName))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(flowLog), "job a started (attempt 0)") {
		t.Errorf("flow log file:\n%s", flowLog)
	}
}

func TestPartialLineIsFlushedAfterDelay(t *testing.T) {
	t.Parallel()
	// "hello" has no newline and the job then waits until the test has seen
	// it: only the time-based flush can deliver it.
	ex := newExecution(t, command("a", "printf hello; "+waitFor("go")+"; printf world"))
	rec := newRecorder()
	rec.onLog = func(job string, _ int, chunk []byte) error {
		if job == "a" && bytes.Contains(chunk, []byte("hello")) {
			touch(t, inDir(ex, "go"))
		}
		return nil
	}
	if res := run(t, ex, rec); res.Status != "SUCCEEDED" {
		t.Fatalf("result %+v", res)
	}
	if got := string(rec.log("a")); got != "helloworld" {
		t.Errorf("log %q", got)
	}
	if n := rec.chunkCount("a"); n != 2 {
		t.Errorf("%d chunks, want 2", n)
	}
}

func TestStdoutAndStderrInterleaved(t *testing.T) {
	t.Parallel()
	ex := newExecution(t, command("a", "echo one; echo two >&2; echo three"))
	ex.LogDir = t.TempDir()
	rec := newRecorder()
	if res := run(t, ex, rec); res.Status != "SUCCEEDED" {
		t.Fatalf("result %+v", res)
	}
	if got := string(rec.log("a")); got != "one\ntwo\nthree\n" {
		t.Errorf("log %q", got)
	}
	flowLog := rec.flowText()
	for _, line := range []string{"job a started (attempt 0)", "job a succeeded"} {
		if !strings.Contains(flowLog, line) {
			t.Errorf("flow log lacks %q:\n%s", line, flowLog)
		}
	}
}

func TestEmbeddedJobLogFileName(t *testing.T) {
	t.Parallel()
	ex := newExecution(t, embedded("ef", nil), embeddedWith("outer", command("job", "echo hi")))
	ex.LogDir = t.TempDir()
	rec := newRecorder()
	if res := run(t, ex, rec); res.Status != "SUCCEEDED" {
		t.Fatalf("result %+v", res)
	}
	b, err := os.ReadFile(filepath.Join(ex.LogDir, "outer.job.0.log"))
	if err != nil || string(b) != "hi\n" {
		t.Errorf("log file %q, %v", b, err)
	}
	if got := string(rec.log("outer:job")); got != "hi\n" {
		t.Errorf("log %q", got)
	}
	rec.expectStatuses(t, map[string]JobStatus{"ef": Succeeded, "outer": Succeeded})
}
