package executor

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestPruneLocalLogs: an execution's log directory goes once its newest
// file is older than the limit, never while the execution runs; other
// names are left alone.
func TestPruneLocalLogs(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	write := func(name, file string, age time.Duration) {
		t.Helper()
		path := filepath.Join(dir, name, file)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("log"), 0o644); err != nil {
			t.Fatal(err)
		}
		when := now.Add(-age)
		for _, p := range []string{path, filepath.Dir(path)} {
			if err := os.Chtimes(p, when, when); err != nil {
				t.Fatal(err)
			}
		}
	}
	const day = 24 * time.Hour
	write("1.1", "_flow.log", 20*day)
	write("2.1", "_flow.log", 20*day)
	write("2.1", "crawl.0.log", day)  // written to recently
	write("3.2", "_flow.log", 30*day) // still running (a long, quiet job)
	write("notes", "x", 30*day)
	removed, err := pruneLocalLogs(dir, now, 14*day, map[string]bool{"3.2": true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(removed, []string{"1.1"}) {
		t.Fatalf("removed %v, want [1.1]", removed)
	}
	list, _ := os.ReadDir(dir)
	var left []string
	for _, d := range list {
		left = append(left, d.Name())
	}
	if !slices.Equal(left, []string{"2.1", "3.2", "notes"}) {
		t.Fatalf("left %v", left)
	}
	if removed, err := pruneLocalLogs(filepath.Join(dir, "missing"), now, day, nil); err != nil || removed != nil {
		t.Fatalf("a missing directory: %v, %v", removed, err)
	}
}
