package flow

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
)

func TestParseProperties(t *testing.T) {
	text := "# comment\n" +
		"! another comment\n" +
		"# a comment does not continue \\\n" +
		"equals=value one\n" +
		"spaced = value two  \n" +
		"colon:three\n" +
		"blank four\n" +
		"  indented = yes\n" +
		"escaped\\=key = x\n" +
		"multi = first \\\n" +
		"        second \\\n" +
		"   third\n" +
		"windows=C:\\\\dir\\\\file\n" +
		"tab=a\\tb\n" +
		"unicode=caf\\u00e9\n" +
		"bad.unicode=\\u12\n" +
		"empty=\n" +
		"\\#not.a.comment=1\n" +
		"dup=first\n" +
		"dup=second\r\n" +
		"crlf=yes\r\n" +
		"last=end \\"
	want := map[string]string{
		"equals":         "value one",
		"spaced":         "value two",
		"colon":          "three",
		"blank":          "four",
		"indented":       "yes",
		"escaped=key":    "x",
		"multi":          "first second third",
		"windows":        `C:\dir\file`,
		"tab":            "a\tb",
		"unicode":        "café",
		"bad.unicode":    `\u12`,
		"empty":          "",
		"#not.a.comment": "1",
		"dup":            "second",
		"crlf":           "yes",
		"last":           "end",
	}
	if got := parseProperties([]byte(text)); !reflect.DeepEqual(got, want) {
		t.Errorf("parseProperties:\ngot  %q\nwant %q", got, want)
	}
}

func TestParsePropertiesEncoding(t *testing.T) {
	// ISO-8859-1, the encoding Java reads properties files in.
	if got := parseProperties([]byte("name=caf\xe9\n"))["name"]; got != "café" {
		t.Errorf("latin-1: %q", got)
	}
	if got := parseProperties([]byte("\uFEFFtype=noop\n"))["type"]; got != "noop" {
		t.Errorf("with a byte order mark: %q", got)
	}
}

// TestFlowNamesOf: the names read from a stored project's JSON are the
// project's flow names, sorted; anything else gives none.
func TestFlowNamesOf(t *testing.T) {
	p := mustLoad(t, map[string]string{
		"p.project":  "azkaban-flow-version: 2.0\n",
		"zeta.flow":  "nodes:\n  - name: a\n    type: noop\n",
		"alpha.flow": "nodes:\n  - name: b\n    type: noop\n",
	})
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := FlowNamesOf(string(data)), p.FlowNames(); !slices.Equal(got, want) || len(got) != 2 || got[0] != "alpha" {
		t.Fatalf("FlowNamesOf = %v; want %v", got, want)
	}
	for _, bad := range []string{"", "{", `{"flows": 3}`} {
		if got := FlowNamesOf(bad); len(got) != 0 {
			t.Errorf("FlowNamesOf(%q) = %v; want none", bad, got)
		}
	}
}
