package runner

import (
	"errors"
	"strings"
	"testing"
)

func TestParamScope(t *testing.T) {
	s := &paramScope{
		layers: []map[string]string{
			{"over": "submit"}, // overrides
			{"over": "job", "who": "job", "shell": "${HOME:-/root}"}, // node
			{"who": "container", "inner": "${who}!"},                 // container
			{"greet": "hi ${inner}", "who": "flow", "a": "${b}", "b": "${a}"},
		},
		builtins: map[string]string{"azkaban.job.id": "j"},
		output: func(job, key string) (string, bool) {
			if job == "up" && key == "k" {
				return "${not-expanded}", true
			}
			return "", false
		},
	}
	cases := map[string]string{
		"${over}":               "submit",
		"${greet}":              "hi job!",
		"${azkaban.job.id}-x":   "j-x",
		"${up:k}":               "${not-expanded}",
		"${shell}":              "${HOME:-/root}",
		"$HOME ${#x} ${y%.*} $": "$HOME ${#x} ${y%.*} $",
		"no refs":               "no refs",
	}
	for in, want := range cases {
		got, err := s.expand(in, 0)
		if err != nil || got != want {
			t.Errorf("expand(%q) = %q, %v; want %q", in, got, err, want)
		}
	}

	var undef *undefinedParamError
	if _, err := s.expand("x ${nope} y", 0); !errors.As(err, &undef) || err.Error() != "undefined parameter ${nope}" {
		t.Errorf("undefined: %v", err)
	}
	if _, err := s.expand("${up:other}", 0); !errors.As(err, &undef) || undef.name != "up:other" {
		t.Errorf("undefined output: %v", err)
	}
	if _, err := s.expand("${a}", 0); err == nil || !strings.Contains(err.Error(), "circular") {
		t.Errorf("loop: %v", err)
	}
	if got := strings.Join(s.keys(), ","); got != "a,b,greet,inner,over,shell,who" {
		t.Errorf("keys %s", got)
	}
}

func TestParseTimeout(t *testing.T) {
	cases := []struct {
		in   string
		secs float64
		text string
		bad  bool
	}{
		{"", 0, "", false},
		{"90", 90, "90s", false},
		{"90s", 90, "90s", false},
		{"10m", 600, "10m", false},
		{"1.5s", 1.5, "1.5s", false},
		{"soon", 0, "", true},
		{"-1s", 0, "", true},
	}
	for _, tc := range cases {
		d, text, err := parseTimeout(tc.in)
		if (err != nil) != tc.bad || d.Seconds() != tc.secs || text != tc.text {
			t.Errorf("parseTimeout(%q) = %v, %q, %v", tc.in, d, text, err)
		}
	}
}
