package flow

import (
	"io"
	"math"
)

// Limits bound what an archive or project directory may contain. A zero or
// negative field means the default.
type Limits struct {
	MaxArchiveBytes  int64 // compressed archive size; default 200 MiB
	MaxUnpackedBytes int64 // total uncompressed size; default 1 GiB
	MaxFiles         int   // entries (files and directories); default 100000
}

// Defaults of Limits.
const (
	defaultMaxArchiveBytes  = 200 << 20
	defaultMaxUnpackedBytes = 1 << 30
	defaultMaxFiles         = 100000
)

// maxDefinitionBytes caps one .flow, .project, .job or .properties file.
// They are parsed in memory; real ones are a few KiB.
const maxDefinitionBytes = 16 << 20

// DefaultLimits returns the limits used when a field of Limits is not set.
func DefaultLimits() Limits {
	return Limits{
		MaxArchiveBytes:  defaultMaxArchiveBytes,
		MaxUnpackedBytes: defaultMaxUnpackedBytes,
		MaxFiles:         defaultMaxFiles,
	}
}

// orDefault returns lim with every unset field replaced by its default.
func (lim Limits) orDefault() Limits {
	def := DefaultLimits()
	if lim.MaxArchiveBytes <= 0 {
		lim.MaxArchiveBytes = def.MaxArchiveBytes
	}
	if lim.MaxUnpackedBytes <= 0 {
		lim.MaxUnpackedBytes = def.MaxUnpackedBytes
	}
	if lim.MaxFiles <= 0 {
		lim.MaxFiles = def.MaxFiles
	}
	return lim
}

func tooManyFiles(limit int) *ValidationError {
	return invalid("", 0, "project has more than %d files and directories, over the limit", limit)
}

// unpacked counts the bytes unpacked so far against MaxUnpackedBytes.
type unpacked struct {
	left  int64 // bytes that may still be unpacked
	limit int64
}

func newUnpacked(lim Limits) *unpacked {
	return &unpacked{left: lim.MaxUnpackedBytes, limit: lim.MaxUnpackedBytes}
}

func (u *unpacked) overLimit(name string) *ValidationError {
	return invalid(name, 0, "project unpacks to more than %s, over the limit (set --max-unpacked-size)", humanBytes(u.limit))
}

// charge accounts for n bytes of the file name without reading them.
func (u *unpacked) charge(name string, n int64) error {
	if n > u.left {
		u.left = -1
		return u.overLimit(name)
	}
	u.left -= n
	return nil
}

// copy copies r to w, counting the bytes actually read. It never passes on
// more than the remaining allowance plus one byte, whatever size the source
// claims, and returns a *ValidationError once the allowance is exceeded.
// A read error is returned wrapped in a readError, so that the caller can tell
// it from an error of w.
func (u *unpacked) copy(name string, w io.Writer, r io.Reader) error {
	er := &errReader{r: r}
	n, err := io.Copy(w, io.LimitReader(er, min(u.left, math.MaxInt64-1)+1))
	u.left -= n
	if u.left < 0 {
		return u.overLimit(name)
	}
	if er.err != nil {
		return readError{er.err}
	}
	return err
}

// errReader remembers the error of its reader.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}

// readError marks an error as coming from the source of a copy.
type readError struct{ err error }

func (e readError) Error() string { return e.err.Error() }
func (e readError) Unwrap() error { return e.err }
