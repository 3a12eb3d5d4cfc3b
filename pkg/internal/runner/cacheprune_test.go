package runner

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// cacheWith prepares an entry of size bytes for each key, each used last
// the given time ago.
func cacheWith(t *testing.T, entries map[string]time.Duration, size int) *WorkDirCache {
	t.Helper()
	c := &WorkDirCache{Root: t.TempDir()}
	execs := t.TempDir()
	for key, ago := range entries {
		err := c.Prepare(key, func(dir string) error {
			if err := os.Mkdir(filepath.Join(dir, "ro"), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dir, "ro", "data"), []byte(strings.Repeat("x", size)), 0o644); err != nil {
				return err
			}
			return os.Chmod(filepath.Join(dir, "ro"), 0o555) // archives may hold read-only directories
		}, filepath.Join(execs, entryName(key)))
		if err != nil {
			t.Fatal(err)
		}
		when := time.Now().Add(-ago)
		if err := os.Chtimes(filepath.Join(c.Root, entryName(key)), when, when); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func cached(t *testing.T, c *WorkDirCache) []string {
	t.Helper()
	list, err := os.ReadDir(c.Root)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range list {
		out = append(out, d.Name())
	}
	return out
}

func TestWorkDirCachePrune(t *testing.T) {
	const day = 24 * time.Hour
	for _, tc := range []struct {
		name     string
		maxAge   time.Duration
		maxBytes int64
		inUse    []string
		want     []string // entries left
	}{
		{"nothing set keeps all", 0, 0, nil, []string{"p%2F1", "p%2F2", "p%2F3", "q%2F1"}},
		{"unused for longer than the age go", 7 * day, 0, nil, []string{"p%2F3", "q%2F1"}},
		{"an entry in use stays however old", 7 * day, 0, []string{"p/1"}, []string{"p%2F1", "p%2F3", "q%2F1"}},
		{"least recently used go until small enough", 0, 2500, nil, []string{"p%2F3", "q%2F1"}},
		{"in use counts toward the size but stays", 0, 2500, []string{"p/1"}, []string{"p%2F1", "q%2F1"}},
		{"age first, then size", 7 * day, 1000, nil, []string{"q%2F1"}},
		{"too big with only entries in use", 0, 10, []string{"p/3", "q/1"}, []string{"p%2F3", "q%2F1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cacheWith(t, map[string]time.Duration{"p/1": 30 * day, "p/2": 8 * day, "p/3": 2 * day, "q/1": time.Hour}, 1000)
			for _, key := range tc.inUse {
				release := c.Use(key)
				defer release()
				// Use renewed it; make it old again.
				old := time.Now().Add(-30 * day)
				if err := os.Chtimes(filepath.Join(c.Root, entryName(key)), old, old); err != nil {
					t.Fatal(err)
				}
			}
			before := cached(t, c)
			got, err := c.Prune(time.Now(), tc.maxAge, tc.maxBytes)
			if err != nil {
				t.Fatal(err)
			}
			left := cached(t, c)
			if !slices.Equal(left, tc.want) {
				t.Fatalf("left %v, want %v", left, tc.want)
			}
			if len(got.Entries) != len(before)-len(left) || got.Bytes != int64(1000*len(got.Entries)) {
				t.Fatalf("reported %+v; %d entries of 1000 bytes went", got, len(before)-len(left))
			}
		})
	}
}

// TestWorkDirCachePruneLeftovers: what a crash left (a half extraction, a
// half removal) goes; an extraction going on now stays; an entry removed is
// extracted again by the next Prepare.
func TestWorkDirCachePruneLeftovers(t *testing.T) {
	c := cacheWith(t, map[string]time.Duration{"p/1": 30 * 24 * time.Hour}, 10)
	for _, dir := range []string{".extract-p%2F2-123", ".remove-p%2F0-456", ".extract-p%2F3-789"} {
		if err := os.Mkdir(filepath.Join(c.Root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	release := c.Use("p/3") // being extracted now
	defer release()
	if _, err := c.Prune(time.Now(), time.Hour, 0); err != nil {
		t.Fatal(err)
	}
	if left := cached(t, c); !slices.Equal(left, []string{".extract-p%2F3-789"}) {
		t.Fatalf("left %v, want only the extraction in progress", left)
	}
	extracted := false
	if err := c.Prepare("p/1", func(dir string) error { extracted = true; return nil }, filepath.Join(t.TempDir(), "x")); err != nil || !extracted {
		t.Fatalf("prepare after the prune: extracted %v, %v", extracted, err)
	}
}
