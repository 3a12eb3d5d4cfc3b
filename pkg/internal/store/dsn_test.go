package store

import (
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// No error about a DSN ever shows any piece of its password, and both the
// mysql:// URL and go-sql-driver/mysql's own form are read.
func TestDSNNeverShowsPassword(t *testing.T) {
	const pass = "p@ss:w/rd#1"
	for _, dsn := range []string{
		"nu:change-me@tcp(127.0.0.1:3306)", // driver form without a database
		"postgres://nu:change-me@127.0.0.1/db",
		"nu:change-me@127.0.0.1:3306/db",
		"mysql://u:" + pass + "@127.0.0.1:3306",              // no database name
		"mysql://u:" + pass + "@127.0.0.1:3306/db?tls=maybe", // bad parameter
		"mysql://u:" + pass + "@127.0.0.1:x/db",              // bad port
		"mysql://u:p%zz" + pass + "@127.0.0.1:3306/db",       // bad escape
		"u:" + pass + "@tcp(127.0.0.1:3306/db",               // unterminated address
	} {
		_, _, _, err := parseDSN(dsn)
		if err == nil {
			t.Errorf("%q: accepted", dsn)
			continue
		}
		for _, piece := range []string{"change-me", "p@ss", "ss:w", "w/rd", "rd#1", "zz"} {
			if strings.Contains(err.Error(), piece) {
				t.Errorf("%q: error shows %q of the password: %v", dsn, piece, err)
			}
		}
		if !strings.Contains(err.Error(), "bad --db") {
			t.Errorf("%q: %v", dsn, err)
		}
	}
	_, _, _, err := parseDSN("mysql://u:p%zz@h/db")
	if err == nil || !strings.Contains(err.Error(), "percent-encoded") {
		t.Errorf("a bad escape does not say how to encode: %v", err)
	}

	for dsn, want := range map[string][3]string{
		"mysql://u:" + pass + "@db.internal:3306/crawlctl":             {"u", pass, "db.internal:3306"},
		"mysql://u:p%40ss%3Aw%2Frd%231@db.internal/crawlctl?tls=false": {"u", pass, "db.internal:3306"},
		"u:" + pass + "@tcp(db.internal:3307)/crawlctl":                {"u", pass, "db.internal:3307"},
		"nu:change-me@tcp(127.0.0.1:3306)/crawlctl?timeout=2s":         {"nu", "change-me", "127.0.0.1:3306"},
	} {
		driver, source, _, err := parseDSN(dsn)
		if err != nil || driver != "mysql" {
			t.Errorf("%q: %s %v", dsn, driver, err)
			continue
		}
		cfg, err := mysql.ParseDSN(source)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.User != want[0] || cfg.Passwd != want[1] || cfg.Addr != want[2] || cfg.DBName != "crawlctl" || !cfg.ParseTime {
			t.Errorf("%q: read as user %q pass %q addr %q db %q", dsn, cfg.User, cfg.Passwd, cfg.Addr, cfg.DBName)
		}
		if r := Redact(dsn); strings.Contains(r, want[1]) || !strings.Contains(r, want[0]+":xxxxx@") {
			t.Errorf("Redact(%q) = %q", dsn, r)
		}
	}
}
