package flow

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Load parses and validates a project archive: a zip file of size bytes read
// from r. Every refusal is a *ValidationError; any other error comes from r.
//
// Before parsing, Load checks the whole archive as Extract would: the size
// limits, entry names that would escape the extraction directory, symbolic
// links and special files, and the integrity of every entry (all entries are
// decompressed and counted, so an archive Load accepts can be extracted).
func Load(r io.ReaderAt, size int64, lim Limits) (*Project, error) {
	lim = lim.orDefault()
	a, err := openArchive(r, size, lim)
	if err != nil {
		return nil, err
	}
	u := newUnpacked(lim)
	var files []sourceFile
	for _, e := range a.entries {
		if e.dir {
			continue
		}
		if !isDefinition(e.name) {
			if err := a.readEntry(e, io.Discard, u); err != nil {
				return nil, err
			}
			continue
		}
		if e.file.UncompressedSize64 > maxDefinitionBytes {
			return nil, definitionTooBig(e.name)
		}
		var buf bytes.Buffer
		if err := a.readEntry(e, &buf, u); err != nil {
			return nil, err
		}
		files = append(files, sourceFile{path: e.name, data: buf.Bytes()})
	}
	return parseProject(files)
}

// Extract unpacks the zip archive of size bytes read from r into the
// directory dest, creating it if needed. It refuses, with a
// *ValidationError, what Load refuses at the archive level: entries with an
// absolute path, a backslash or a path escaping dest, symbolic links and
// special files, and archives over the limits of lim. All entry names are
// checked before anything is written, and the unpacked size is counted while
// writing, so a compression bomb is stopped at the limit whatever its headers
// claim.
//
// Regular files are written with mode 0755 when the archive gives them any
// executable bit and 0644 otherwise; directories get 0755. macOS metadata
// (__MACOSX/, .DS_Store) is skipped. When Extract fails after creating dest,
// it removes dest; when dest already existed, it is left as it is.
func Extract(r io.ReaderAt, size int64, dest string, lim Limits) (err error) {
	lim = lim.orDefault()
	a, err := openArchive(r, size, lim)
	if err != nil {
		return err
	}
	if _, statErr := os.Lstat(dest); errors.Is(statErr, fs.ErrNotExist) {
		defer func() {
			if err != nil {
				os.RemoveAll(dest)
			}
		}()
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(dest)
	if err != nil {
		return err
	}
	defer root.Close()
	u := newUnpacked(lim)
	for _, e := range a.entries {
		if err := a.extractEntry(root, e, u); err != nil {
			var ve *ValidationError
			if errors.As(err, &ve) {
				return err
			}
			return fmt.Errorf("extracting %s: %w", e.name, err)
		}
	}
	return nil
}

// archive is an opened zip archive whose entries passed the safety checks.
type archive struct {
	src     *recordingReaderAt
	entries []zipEntry // in archive order, without macOS metadata
}

// zipEntry is one checked entry of an archive.
type zipEntry struct {
	name string // cleaned relative path with '/' separators
	dir  bool
	file *zip.File
}

// openArchive opens a zip archive and checks everything its headers tell:
// archive size, entry count, entry names and types, and declared unpacked size.
func openArchive(r io.ReaderAt, size int64, lim Limits) (*archive, error) {
	if size > lim.MaxArchiveBytes {
		size, limit := sizeAndLimit(size, lim.MaxArchiveBytes)
		return nil, invalid("", 0, "archive is %s, over the %s limit (set --max-archive-size)", size, limit)
	}
	src := &recordingReaderAt{r: r, size: size}
	if tooManyEntries(src, size, lim.MaxFiles) {
		return nil, tooManyFiles(lim.MaxFiles)
	}
	zr, err := zip.NewReader(src, size)
	// ErrInsecurePath comes with a usable reader; the names are checked below.
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		if src.err != nil {
			return nil, fmt.Errorf("reading archive: %w", src.err)
		}
		return nil, invalid("", 0, "not a zip archive: %v", err)
	}
	if len(zr.File) > lim.MaxFiles {
		return nil, tooManyFiles(lim.MaxFiles)
	}

	a := &archive{src: src}
	isDir := make(map[string]bool, len(zr.File)) // by cleaned name
	var declared uint64
	for _, f := range zr.File {
		name, err := cleanEntryName(f.Name)
		if err != nil {
			return nil, err
		}
		if name == "." || ignored(name) {
			continue
		}
		mode := f.Mode()
		switch {
		case mode&fs.ModeSymlink != 0:
			return nil, invalid(f.Name, 0, "symbolic links are not allowed in a project archive")
		case !mode.IsDir() && !mode.IsRegular():
			return nil, invalid(f.Name, 0, "special files (%v) are not allowed in a project archive", mode.Type())
		}
		dir := mode.IsDir()
		if prevDir, seen := isDir[name]; seen && !(dir && prevDir) {
			return nil, invalid(f.Name, 0, "entry appears twice in the archive")
		}
		isDir[name] = dir
		if !dir {
			declared += min(f.UncompressedSize64, math.MaxInt64)
			declared = min(declared, math.MaxInt64)
		}
		a.entries = append(a.entries, zipEntry{name: name, dir: dir, file: f})
	}
	// A path cannot be both a file and a directory ("a" and "a/b").
	for _, e := range a.entries {
		for p := path.Dir(e.name); p != "."; p = path.Dir(p) {
			if dir, seen := isDir[p]; seen && !dir {
				return nil, invalid(e.file.Name, 0, "entry is inside %s, which the archive also has as a file", p)
			}
		}
	}
	if declared > uint64(lim.MaxUnpackedBytes) {
		size, limit := sizeAndLimit(int64(declared), lim.MaxUnpackedBytes)
		return nil, invalid("", 0, "archive unpacks to %s, over the %s limit (set --max-unpacked-size)", size, limit)
	}
	return a, nil
}

// cleanEntryName checks the name of an archive entry and returns it cleaned,
// relative, with '/' separators ("." for the archive root).
func cleanEntryName(raw string) (string, error) {
	switch {
	case raw == "":
		return "", invalid("", 0, "archive has an entry with an empty name")
	case strings.ContainsRune(raw, 0):
		return "", invalid(raw, 0, "entry name contains a NUL byte")
	case strings.Contains(raw, `\`):
		return "", invalid(raw, 0, `entry name contains a backslash; zip paths must use "/"`)
	case strings.HasPrefix(raw, "/") || hasVolumeName(raw):
		return "", invalid(raw, 0, "absolute path not allowed in a project archive")
	}
	name := path.Clean(raw)
	if name == ".." || strings.HasPrefix(name, "../") {
		return "", invalid(raw, 0, "path escapes the project archive")
	}
	return name, nil
}

// hasVolumeName reports whether name starts with a Windows drive ("C:/").
func hasVolumeName(name string) bool {
	if len(name) < 2 || name[1] != ':' || (len(name) > 2 && name[2] != '/') {
		return false
	}
	c := name[0] | 0x20 // lower case
	return 'a' <= c && c <= 'z'
}

// ignored reports whether a relative path is macOS metadata: a __MACOSX tree
// at the root, or a .DS_Store file.
func ignored(name string) bool {
	return name == "__MACOSX" || strings.HasPrefix(name, "__MACOSX/") || path.Base(name) == ".DS_Store"
}

// readEntry decompresses e into w, counting its bytes against u.
// It returns a *ValidationError for a corrupt or oversized entry, the error
// of the archive's reader if that failed, or the error of w.
func (a *archive) readEntry(e zipEntry, w io.Writer, u *unpacked) error {
	rc, err := e.file.Open()
	if err != nil {
		return a.entryError(e.name, err)
	}
	defer rc.Close()
	err = u.copy(e.name, w, rc)
	if re, ok := errors.AsType[readError](err); ok {
		return a.entryError(e.name, re.err)
	}
	return err
}

// entryError turns an error met while decompressing entry name into a
// refusal, unless the archive's reader itself failed.
func (a *archive) entryError(name string, err error) error {
	if a.src.err != nil {
		return fmt.Errorf("reading archive: %w", a.src.err)
	}
	return invalid(name, 0, "corrupt archive entry: %v", err)
}

// extractEntry writes e below root.
func (a *archive) extractEntry(root *os.Root, e zipEntry, u *unpacked) error {
	name := filepath.FromSlash(e.name)
	if e.dir {
		return root.MkdirAll(name, 0o755)
	}
	if dir := filepath.Dir(name); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	perm := fs.FileMode(0o644)
	if e.file.Mode()&0o111 != 0 {
		perm = 0o755
	}
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	err = a.readEntry(e, f, u)
	if err == nil {
		err = f.Chmod(perm) // the mode given to OpenFile is subject to the umask
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// recordingReaderAt remembers the first error of its reader other than
// io.EOF, to tell a failing disk or network from a corrupt archive. Reads
// outside the archive, which only corrupt offsets ask for, do not count.
type recordingReaderAt struct {
	r    io.ReaderAt
	size int64
	err  error
}

var errOutside = errors.New("offset outside the archive")

func (r *recordingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= r.size {
		return 0, errOutside
	}
	n, err := r.r.ReadAt(p, off)
	if err != nil && err != io.EOF && r.err == nil {
		r.err = err
	}
	return n, err
}

// definitionTooBig refuses a definition file over maxDefinitionBytes.
func definitionTooBig(name string) *ValidationError {
	return invalid(name, 0, "file is over %s; flow and job definitions must be smaller", humanBytes(maxDefinitionBytes))
}
