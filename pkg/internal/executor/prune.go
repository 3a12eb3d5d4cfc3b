package executor

// Keeping the work directory from growing forever: extracted project
// versions and local log files are removed when old, never those of a
// running execution.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// DiskLimits say what the executor removes from its work directory; a zero
// field removes nothing on its account.
type DiskLimits struct {
	// CacheMaxAge: an extracted project version not used for this long
	// goes (--cache-max-age).
	CacheMaxAge time.Duration
	// CacheMaxBytes: then the least recently used go until the extracted
	// versions take at most this much (--cache-max-bytes).
	CacheMaxBytes int64
	// LocalLogs: the local log files of an execution go this long after
	// they were last written (--retain-local-logs).
	LocalLogs time.Duration
	// Every is how often to look (default: an hour, give or take 10%).
	Every time.Duration
}

func (l DiskLimits) none() bool {
	return l.CacheMaxAge <= 0 && l.CacheMaxBytes <= 0 && l.LocalLogs <= 0
}

// logsDir holds a directory of local log files per execution attempt.
func (e *Executor) logsDir() string { return filepath.Join(e.cfg.WorkDir, "logs") }

// logDirName names the local log directory of an execution attempt.
func logDirName(id int64, attempt int) string { return fmt.Sprintf("%d.%d", id, attempt) }

// pruneLoop prunes the work directory at start, then every Disk.Every.
func (e *Executor) pruneLoop(ctx context.Context) {
	defer e.wg.Done()
	lim := e.cfg.Disk
	if lim.none() {
		return
	}
	every := lim.Every
	if every <= 0 {
		every = time.Hour
	}
	for {
		e.pruneDisk(time.Now())
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(float64(every) * (0.9 + 0.2*rand.Float64()))):
		}
	}
}

// pruneDisk removes what Disk says is old and logs what went.
func (e *Executor) pruneDisk(now time.Time) {
	lim := e.cfg.Disk
	if lim.CacheMaxAge > 0 || lim.CacheMaxBytes > 0 {
		got, err := e.cache.Prune(now, lim.CacheMaxAge, lim.CacheMaxBytes)
		if err != nil {
			e.log.Warn().Err(err).Msg("could not prune the extracted projects")
		}
		if len(got.Entries) > 0 {
			e.log.Info().Int("versions", len(got.Entries)).Int64("bytes", got.Bytes).Strs("removed", got.Entries).Msg("removed extracted project versions")
		}
	}
	if lim.LocalLogs > 0 {
		running := map[string]bool{}
		for _, r := range e.runs.all() {
			running[logDirName(r.id, r.attempt)] = true
		}
		removed, err := pruneLocalLogs(e.logsDir(), now, lim.LocalLogs, running)
		if err != nil {
			e.log.Warn().Err(err).Msg("could not prune the local log files")
		}
		if len(removed) > 0 {
			e.log.Info().Int("executions", len(removed)).Msg("removed old local log files")
		}
	}
}

// pruneLocalLogs removes the log directories under dir (one per execution
// attempt, "ID.ATTEMPT") whose files were all last written more than
// maxAge before now, except those named in running. It returns the names
// removed.
func pruneLocalLogs(dir string, now time.Time, maxAge time.Duration, running map[string]bool) ([]string, error) {
	list, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, d := range list {
		name := d.Name()
		if !d.IsDir() || running[name] || !isAttemptName(name) {
			continue
		}
		path := filepath.Join(dir, name)
		last, err := lastWrite(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if now.Sub(last) <= maxAge {
			continue
		}
		if err := os.RemoveAll(path); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, name)
	}
	return removed, errors.Join(errs...)
}

// isAttemptName reports a name of the form ID.ATTEMPT (digits).
func isAttemptName(name string) bool {
	id, attempt, ok := strings.Cut(name, ".")
	_, e1 := strconv.ParseUint(id, 10, 63)
	_, e2 := strconv.ParseUint(attempt, 10, 31)
	return ok && e1 == nil && e2 == nil
}

// lastWrite is the newest modification time of dir and what it holds.
func lastWrite(dir string) (time.Time, error) {
	var last time.Time
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if info, err := d.Info(); err == nil && info.ModTime().After(last) {
			last = info.ModTime()
		}
		return nil
	})
	return last, err
}
