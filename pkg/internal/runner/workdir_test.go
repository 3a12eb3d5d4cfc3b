package runner

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// extractSample writes a small project tree.
func extractSample(dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, "lib", "deep"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "run.sh"), []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "lib", "deep", "data.txt"), []byte("data"), 0o640); err != nil {
		return err
	}
	if err := os.Chmod(filepath.Join(dir, "lib", "deep", "data.txt"), 0o640); err != nil {
		return err
	}
	if err := os.Chmod(filepath.Join(dir, "lib"), 0o750); err != nil {
		return err
	}
	return os.Symlink("lib/deep/data.txt", filepath.Join(dir, "link"))
}

func checkSample(t *testing.T, dest string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dest, "lib", "deep", "data.txt"))
	if err != nil || string(b) != "data" {
		t.Errorf("%s: data.txt %q, %v", dest, b, err)
	}
	modes := map[string]os.FileMode{"run.sh": 0o755, "lib/deep/data.txt": 0o640, "lib": 0o750 | os.ModeDir}
	for name, want := range modes {
		fi, err := os.Lstat(filepath.Join(dest, name))
		if err != nil {
			t.Error(err)
			continue
		}
		if got := fi.Mode() & (os.ModePerm | os.ModeDir); got != want {
			t.Errorf("%s/%s: mode %v, want %v", dest, name, got, want)
		}
	}
	if target, err := os.Readlink(filepath.Join(dest, "link")); err != nil || target != "lib/deep/data.txt" {
		t.Errorf("%s: link -> %q, %v", dest, target, err)
	}
}

func TestWorkDirCacheConcurrentPrepare(t *testing.T) {
	root := t.TempDir()
	execs := t.TempDir()
	var extracts atomic.Int64
	extract := func(dir string) error {
		extracts.Add(1)
		return extractSample(dir)
	}
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &WorkDirCache{Root: root}
			errs[i] = c.Prepare("myproject/3", extract, filepath.Join(execs, "exec", string(rune('a'+i))))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("prepare %d: %v", i, err)
		}
	}
	if got := extracts.Load(); got != 1 {
		t.Errorf("extract called %d times", got)
	}
	for i := range n {
		checkSample(t, filepath.Join(execs, "exec", string(rune('a'+i))))
	}

	// Executions are isolated from the cache: rewriting a file in one
	// working directory changes neither the cache nor the next execution.
	if err := os.WriteFile(filepath.Join(execs, "exec", "a", "lib", "deep", "data.txt"), []byte("changed"), 0o640); err != nil {
		t.Fatal(err)
	}
	c := &WorkDirCache{Root: root}
	dest := filepath.Join(execs, "later")
	if err := c.Prepare("myproject/3", extract, dest); err != nil {
		t.Fatal(err)
	}
	checkSample(t, dest)
	if extracts.Load() != 1 {
		t.Error("cached entry extracted again")
	}

	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "myproject%2F3" {
		t.Errorf("cache root holds %v", entries)
	}
}

func TestWorkDirCacheFailedExtract(t *testing.T) {
	root := t.TempDir()
	c := &WorkDirCache{Root: root}
	boom := errors.New("corrupt archive")
	dest := filepath.Join(t.TempDir(), "exec1")
	err := c.Prepare("p/1", func(dir string) error {
		if err := os.WriteFile(filepath.Join(dir, "half"), []byte("x"), 0o644); err != nil {
			return err
		}
		return boom
	}, dest)
	if !errors.Is(err, boom) {
		t.Fatalf("error %v", err)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("failed extract left %v", entries)
	}
	if exists(dest) {
		t.Error("dest created after failed extract")
	}

	// The next Prepare extracts again.
	calls := 0
	if err := c.Prepare("p/1", func(dir string) error { calls++; return extractSample(dir) }, dest); err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Errorf("extract called %d times", calls)
	}
	checkSample(t, dest)
}

func TestWorkDirCacheDestMustNotExist(t *testing.T) {
	c := &WorkDirCache{Root: t.TempDir()}
	dest := t.TempDir()
	if err := c.Prepare("p/1", extractSample, dest); err == nil {
		t.Error("existing dest accepted")
	}
	if entries, _ := os.ReadDir(dest); len(entries) != 0 {
		t.Errorf("existing dest modified: %v", entries)
	}
}

func TestEntryName(t *testing.T) {
	cases := map[string]string{"myproject/3": "myproject%2F3", "..": "%2E.", ".x": "%2Ex", "a b": "a%20b"}
	for key, want := range cases {
		if got := entryName(key); got != want {
			t.Errorf("entryName(%q) = %q, want %q", key, got, want)
		}
	}
}
