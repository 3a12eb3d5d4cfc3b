package runner

// Pruning the extracted-project cache: entries unused for long, then the
// least recently used while the cache is too big, never one in use.

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// removePrefix names an entry being removed: it is renamed first, so that
// nothing finds it half removed, and a crash leaves only a hidden
// directory that the next Prune removes.
const removePrefix = ".remove-"

// entriesInUse counts, per entry path, the users of each cache entry
// within the process (see Use), shared like cacheLocks by every
// WorkDirCache value.
var entriesInUse = struct {
	sync.Mutex
	n map[string]int
}{n: map[string]int{}}

// entryPath is the absolute path of the entry directory name in root.
func entryPath(root, name string) string {
	p := filepath.Join(root, name)
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// Use marks the entry of key in use until release is called: Prune never
// removes it meanwhile. Prepare holds it while it runs; an executor holds it
// for a whole execution. Each use renews the entry's last-use time (its
// modification time), at the start and at the release.
func (c *WorkDirCache) Use(key string) (release func()) {
	path := entryPath(c.Root, entryName(key))
	entriesInUse.Lock()
	entriesInUse.n[path]++
	entriesInUse.Unlock()
	markUsed(path)
	var once sync.Once
	return func() {
		once.Do(func() {
			markUsed(path)
			entriesInUse.Lock()
			if entriesInUse.n[path]--; entriesInUse.n[path] <= 0 {
				delete(entriesInUse.n, path)
			}
			entriesInUse.Unlock()
		})
	}
}

// markUsed sets the modification time of an existing path to now.
func markUsed(path string) {
	now := time.Now()
	_ = os.Chtimes(path, now, now)
}

// CachePruned is what Prune removed: the entries' directory names and the
// bytes their files took.
type CachePruned struct {
	Entries []string
	Bytes   int64
}

// Prune removes the entries not used within maxAge of now (0: no age
// limit), then the least recently used ones until the entries take at most
// maxBytes (0: no size limit), never an entry in use in this process; and
// what interrupted extractions or removals left behind. The size counts the
// entries in use, which stay even when they alone pass maxBytes.
func (c *WorkDirCache) Prune(now time.Time, maxAge time.Duration, maxBytes int64) (CachePruned, error) {
	var out CachePruned
	list, err := os.ReadDir(c.Root)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return out, err
	}
	type entry struct {
		name    string
		used    time.Time
		size    int64
		removed bool
	}
	var entries []*entry
	var total int64
	var errs []error
	for _, d := range list {
		name := d.Name()
		switch {
		case !d.IsDir():
			continue
		case strings.HasPrefix(name, removePrefix):
			errs = append(errs, removeTree(filepath.Join(c.Root, name)))
			continue
		case strings.HasPrefix(name, extractPrefix):
			// ".extract-NAME-random": left by a crash unless NAME is
			// being extracted now (it is in use while it is).
			of := strings.TrimPrefix(name, extractPrefix)
			if i := strings.LastIndexByte(of, '-'); i >= 0 && !inUse(entryPath(c.Root, of[:i])) {
				errs = append(errs, removeTree(filepath.Join(c.Root, name)))
			}
			continue
		case strings.HasPrefix(name, "."):
			continue
		}
		info, err := d.Info()
		if err != nil {
			continue // removed meanwhile
		}
		size, err := treeSize(filepath.Join(c.Root, name))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		entries = append(entries, &entry{name: name, used: info.ModTime(), size: size})
		total += size
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].used.Before(entries[j].used) })
	remove := func(e *entry) {
		ok, err := c.remove(e.name)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			e.removed = true
			total -= e.size
			out.Entries = append(out.Entries, e.name)
			out.Bytes += e.size
		}
	}
	if maxAge > 0 {
		for _, e := range entries {
			if now.Sub(e.used) > maxAge {
				remove(e)
			}
		}
	}
	for _, e := range entries {
		if maxBytes <= 0 || total <= maxBytes {
			break
		}
		if !e.removed {
			remove(e)
		}
	}
	return out, errors.Join(errs...)
}

func inUse(path string) bool {
	entriesInUse.Lock()
	defer entriesInUse.Unlock()
	return entriesInUse.n[path] > 0
}

// remove takes the entry name out of the cache unless it is in use: it is
// renamed away while no Use can start (so a later Prepare extracts it
// again), then deleted.
func (c *WorkDirCache) remove(name string) (bool, error) {
	path := entryPath(c.Root, name)
	entriesInUse.Lock()
	if entriesInUse.n[path] > 0 {
		entriesInUse.Unlock()
		return false, nil
	}
	gone, err := os.MkdirTemp(c.Root, removePrefix+name+"-")
	if err == nil {
		// MkdirTemp reserved a unique name; the entry takes its place.
		if err = os.Remove(gone); err == nil {
			err = os.Rename(path, gone)
		}
	}
	entriesInUse.Unlock()
	if err != nil {
		return false, err
	}
	return true, removeTree(gone)
}

// removeTree deletes dir and everything under it, read-only directories
// (an archive may hold some) included.
func removeTree(dir string) error {
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(path, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

// treeSize is the bytes of the regular files under dir.
func treeSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n, err
}
