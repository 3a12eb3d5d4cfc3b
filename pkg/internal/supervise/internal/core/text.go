package core

// Small replacements for strconv and strings: importing those would make
// this package wait, at program start, for every package that sorts before
// them and is ready first (see the package comment).

// itoa formats a non-negative or negative int in decimal.
func itoa(n int) string {
	if n < 0 {
		return "-" + utoa(uint64(-n))
	}
	return utoa(uint64(n))
}

// utoa formats n in decimal.
func utoa(n uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// parseUint parses a decimal number made of digits only.
func parseUint(s string) (uint64, bool) {
	if s == "" || len(s) > 19 {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// parseInt parses an optionally signed decimal number.
func parseInt(s string) (int64, bool) {
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	n, ok := parseUint(s)
	if !ok || n > 1<<63-1 {
		return 0, false
	}
	if neg {
		return -int64(n), true
	}
	return int64(n), true
}

// atoi parses a non-negative decimal int.
func atoi(s string) (int, bool) {
	n, ok := parseUint(s)
	if !ok || n > 1<<31-1 {
		return 0, false
	}
	return int(n), true
}

// cut splits s around the first sep.
func cut(s string, sep byte) (before, after string, found bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func contains(s string, c byte) bool {
	_, _, found := cut(s, c)
	return found
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

func trimSpace(s string) string {
	for s != "" && isSpace(s[0]) {
		s = s[1:]
	}
	for s != "" && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// oneLine replaces newlines with spaces.
func oneLine(s string) string {
	if !contains(s, '\n') {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if c == '\n' {
			b[i] = ' '
		}
	}
	return string(b)
}

func quote(s string) string { return `"` + s + `"` }

// splitComma splits a comma-separated list, dropping empty items.
func splitComma(s string) []string {
	var out []string
	for s != "" {
		item, rest, _ := cut(s, ',')
		if item != "" {
			out = append(out, item)
		}
		s = rest
	}
	return out
}

// withoutVars returns env less the variables named in names.
func withoutVars(env, names []string) []string {
	if len(names) == 0 {
		return env
	}
	out := make([]string, 0, len(env))
next:
	for _, kv := range env {
		name, _, _ := cut(kv, '=')
		for _, n := range names {
			if name == n {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}
