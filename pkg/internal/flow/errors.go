package flow

import (
	"fmt"
	"strings"
)

// ValidationError is a refusal of a project archive or directory: a problem a
// user has to fix in their files, as opposed to an I/O failure. Every refusal
// by Load, LoadDir and Extract is (or wraps) one; use errors.As to detect it.
type ValidationError struct {
	File string // archive-relative path with '/' separators; "" when no single file applies
	Line int    // 1-based line in File; 0 when unknown or not applicable
	Msg  string // what is wrong, in one line
}

// Error formats the refusal on one line as "<file>[:<line>]: <problem>", or
// just "<problem>" when no file applies. Control characters (which a hostile
// archive can put in entry names) are escaped.
func (e *ValidationError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return oneLine(b.String())
}

// invalid builds a *ValidationError; line 0 means no line.
func invalid(file string, line int, format string, args ...any) *ValidationError {
	return &ValidationError{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// oneLine escapes control characters so that s prints on a single line.
func oneLine(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if isControl(r) {
			fmt.Fprintf(&b, `\x%02x`, r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// humanBytes formats a byte count for messages: "200 MiB", "1.5 GiB",
// "512 bytes".
func humanBytes(n int64) string {
	units := []struct {
		size int64
		name string
	}{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}}
	for _, u := range units {
		switch {
		case n < u.size:
			continue
		case n%u.size == 0:
			return fmt.Sprintf("%d %s", n/u.size, u.name)
		default:
			return fmt.Sprintf("%.1f %s", float64(n)/float64(u.size), u.name)
		}
	}
	if n == 1 {
		return "1 byte"
	}
	return fmt.Sprintf("%d bytes", n)
}

// sizeAndLimit formats a size over a limit for messages, in bytes when
// rounding would make them look equal ("200.0 MiB, over the 200 MiB limit").
func sizeAndLimit(n, limit int64) (string, string) {
	size, max := humanBytes(n), humanBytes(limit)
	if strings.Replace(size, ".0 ", " ", 1) == max {
		return fmt.Sprintf("%d bytes", n), fmt.Sprintf("%s (%d bytes)", max, limit)
	}
	return size, max
}
