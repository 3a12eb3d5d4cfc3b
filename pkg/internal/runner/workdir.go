package runner

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// WorkDirCache keeps one extracted copy of each project version on the
// executor and builds per-execution working directories from it.
//
// Cache entries live in Root, one directory per key. An entry is extracted
// into a temporary directory inside Root (named ".extract-*") and renamed
// into place once complete, so a reader never sees a half-extracted entry,
// even across a crash; a crash may leave a ".extract-*" directory behind,
// which is never used and can be deleted when no Prepare is running.
//
// Files are copied into each execution's directory rather than hard-linked.
// A hard link shares the file's inode, so a job that rewrites a project file
// in place (a shell "> file" redirection, a tool that truncates and writes,
// a chmod) would silently change the cached copy and every later execution
// of that project version. Copying keeps executions isolated from each
// other and from the cache; on Linux the copy runs in the kernel
// (copy_file_range), which file systems with reflinks turn into a cheap
// copy-on-write clone.
type WorkDirCache struct {
	Root string
}

// extractPrefix names the temporary directories entries are extracted into.
const extractPrefix = ".extract-"

// cacheLocks serializes the extraction of each cache entry within the
// process, keyed by the entry's path, so extract runs once per entry even
// when several WorkDirCache values share a Root.
var cacheLocks keyedMutex

// Prepare makes dest (must not exist) a copy of the cached tree for key
// (e.g. "myproject/3"), calling extract(dir) to populate the cache the first
// time. Concurrent calls for the same key are safe and extract only once;
// a failed extract leaves no cache entry. Directories are recreated and
// file modes preserved; symbolic links are recreated as they are. The entry
// is in use (see Use) while Prepare runs.
func (c *WorkDirCache) Prepare(key string, extract func(dir string) error, dest string) error {
	if c.Root == "" {
		return errors.New("workdir cache: no root directory")
	}
	if key == "" {
		return errors.New("workdir cache: empty key")
	}
	release := c.Use(key)
	defer release()
	entry, err := c.entry(key, extract)
	if err != nil {
		return err
	}
	if err := copyTree(entry, dest); err != nil {
		return fmt.Errorf("workdir cache: prepare %s from %q: %w", dest, key, err)
	}
	return nil
}

// entryName maps a key to a single, non-hidden directory name: '/' and
// other special characters are escaped, and so is a leading '.'.
func entryName(key string) string {
	name := url.PathEscape(key)
	if strings.HasPrefix(name, ".") {
		name = "%2E" + name[1:]
	}
	return name
}

// entry returns the cache directory of key, extracting it first if needed.
func (c *WorkDirCache) entry(key string, extract func(dir string) error) (string, error) {
	name := entryName(key)
	dir := filepath.Join(c.Root, name)
	if isDir(dir) {
		return dir, nil
	}
	lockKey := dir
	if abs, err := filepath.Abs(dir); err == nil {
		lockKey = abs
	}
	unlock := cacheLocks.lock(lockKey)
	defer unlock()
	if isDir(dir) {
		return dir, nil
	}

	if err := os.MkdirAll(c.Root, 0o755); err != nil {
		return "", fmt.Errorf("workdir cache: %w", err)
	}
	tmp, err := os.MkdirTemp(c.Root, extractPrefix+name+"-")
	if err != nil {
		return "", fmt.Errorf("workdir cache: %w", err)
	}
	if err := extract(tmp); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("workdir cache: extract %q: %w", key, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("workdir cache: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		if isDir(dir) {
			// Another process extracted the same key first.
			return dir, nil
		}
		return "", fmt.Errorf("workdir cache: %w", err)
	}
	return dir, nil
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// copyTree copies the directory tree src to dest, which must not exist.
// On error, dest is removed.
func copyTree(src, dest string) error {
	rootInfo, err := os.Stat(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(dest, 0o700); err != nil {
		return err
	}
	if err := copyContents(src, dest, rootInfo.Mode()); err != nil {
		os.RemoveAll(dest)
		return err
	}
	return nil
}

func copyContents(src, dest string, rootMode fs.FileMode) error {
	// Directories get their modes last, so that a read-only directory can
	// still be filled.
	type dirMode struct {
		path string
		mode fs.FileMode
	}
	dirs := []dirMode{{dest, rootMode}}
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		target := filepath.Join(dest, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch mode := info.Mode(); {
		case mode.IsDir():
			if err := os.Mkdir(target, 0o700); err != nil {
				return err
			}
			dirs = append(dirs, dirMode{target, mode})
		case mode.IsRegular():
			return copyFile(path, target, mode)
		case mode&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		default:
			return fmt.Errorf("%s: unsupported file type %v", rel, mode.Type())
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Chmod(dirs[i].path, permBits(dirs[i].mode)); err != nil {
			return err
		}
	}
	return nil
}

// copyFile copies a regular file, with its mode.
func copyFile(src, dest string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	// Chmod after writing: the umask does not apply, and a read-only file
	// can still be written first.
	if err := out.Chmod(permBits(mode)); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// permBits keeps the permission, setuid, setgid and sticky bits of a mode.
func permBits(m fs.FileMode) fs.FileMode {
	return m & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
}

// keyedMutex is a set of mutexes created on demand, one per key.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*refMutex
}

type refMutex struct {
	sync.Mutex
	refs int
}

// lock locks the mutex of key and returns its unlock function.
func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = make(map[string]*refMutex)
	}
	m := k.locks[key]
	if m == nil {
		m = &refMutex{}
		k.locks[key] = m
	}
	m.refs++
	k.mu.Unlock()

	m.Lock()
	return func() {
		m.Unlock()
		k.mu.Lock()
		if m.refs--; m.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
