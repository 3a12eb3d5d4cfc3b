package flow

import (
	"reflect"
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
