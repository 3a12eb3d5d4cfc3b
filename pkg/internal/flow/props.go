package flow

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// parseProperties reads a Java properties file (the syntax of
// java.util.Properties.load): one "key=value", "key: value" or "key value"
// per logical line; lines starting with '#' or '!' are comments; a line
// ending with an odd number of backslashes continues on the next one; the
// escapes \t \n \r \f \uXXXX are decoded and any other escaped character
// stands for itself. Keys and values are trimmed, and a later key replaces an
// earlier one. The text is read as UTF-8, or as ISO-8859-1 (Java's default
// for properties) when it is not valid UTF-8.
func parseProperties(data []byte) map[string]string {
	props := make(map[string]string)
	lines := splitLines(decodeText(data))
	for i := 0; i < len(lines); i++ {
		line := trimLeftBlank(lines[i])
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		for continues(line) {
			line = line[:len(line)-1]
			if i+1 == len(lines) {
				break
			}
			i++
			line += trimLeftBlank(lines[i])
		}
		key, value := splitProperty(line)
		props[key] = value
	}
	return props
}

// decodeText returns data as a string, dropping a UTF-8 byte order mark and
// decoding ISO-8859-1 when data is not valid UTF-8.
func decodeText(data []byte) string {
	if utf8.Valid(data) {
		return strings.TrimPrefix(string(data), "\uFEFF")
	}
	runes := make([]rune, len(data))
	for i, b := range data {
		runes[i] = rune(b)
	}
	return string(runes)
}

// splitLines splits text at "\n", "\r\n" and "\r".
func splitLines(text string) []string {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	return strings.Split(text, "\n")
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\f' }

func trimLeftBlank(s string) string {
	i := 0
	for i < len(s) && isBlank(s[i]) {
		i++
	}
	return s[i:]
}

// continues reports whether a line ends with an unescaped backslash.
func continues(line string) bool {
	n := 0
	for i := len(line) - 1; i >= 0 && line[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// splitProperty splits a logical line into its unescaped, trimmed key and
// value. The key ends at the first unescaped '=', ':' or blank; blanks and
// one '=' or ':' separate it from the value.
func splitProperty(line string) (key, value string) {
	end := len(line)
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c == '\\' {
			i++ // skip the escaped character
			continue
		}
		if c == '=' || c == ':' || isBlank(c) {
			end = i
			break
		}
	}
	key, rest := line[:end], trimLeftBlank(line[end:])
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = trimLeftBlank(rest[1:])
	}
	return strings.TrimSpace(unescape(key)), strings.TrimSpace(unescape(rest))
}

// unescape decodes the backslash escapes of a properties key or value.
// A malformed \u escape is kept as written.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch c = s[i]; c {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+5 <= len(s) {
				if r, err := strconv.ParseUint(s[i+1:i+5], 16, 32); err == nil {
					b.WriteRune(rune(r))
					i += 4
					continue
				}
			}
			b.WriteString(`\u`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
