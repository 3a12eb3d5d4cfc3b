package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/store/storetest"
)

// TestOpenRefusesWhatItCannotUse: a DSN that names no usable database
// fails with a message that says what is wrong and never shows the
// password.
func TestOpenRefusesWhatItCannotUse(t *testing.T) {
	t.Parallel()
	cases := []struct {
		dsn  string
		says string
	}{
		{"", "no database configured"},
		{"postgres://u:s3cret@h/db", "use mysql://user:pass@host:3306/dbname"},
		{"mysql://u:s3cret@h:3306", "no database name"},
		{"mysql://u:s3cret@h:3306/db?timeout=soon", "bad --db"},
		{"mysql://u:s3cret@h:bad/db", "bad --db"},
		{"sqlite://", "no file"},
		// Nothing listens on port 1; the socket does not exist.
		{"mysql://u:s3cret@127.0.0.1:1/db", "unreachable"},
		{"mysql://u:s3cret@localhost/db?socket=/nonexistent/mysqld.sock", "/nonexistent/mysqld.sock"},
		{"sqlite:///nonexistent/dir/crawlctl.db", "unreachable"},
	}
	for _, c := range cases {
		t.Run(c.dsn, func(t *testing.T) {
			t.Parallel()
			s, err := store.Open(context.Background(), c.dsn)
			if err == nil {
				s.Close()
				t.Fatal("opened")
			}
			if !strings.Contains(err.Error(), c.says) || strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("error %q: want it to say %q and hide the password", err, c.says)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	for dsn, want := range map[string]string{
		"mysql://crawl:s3cret@db:3306/crawlctl?tls=true": "mysql://crawl:xxxxx@db:3306/crawlctl?tls=true",
		"mysql://crawl@db:3306/crawlctl":                 "mysql://crawl@db:3306/crawlctl",
		"mysql://crawl:s3%@db/crawlctl":                  "mysql://crawl:xxxxx@db/crawlctl", // not a URL, still hidden
		"sqlite:///var/lib/crawlctl/crawlctl.db":         "sqlite:///var/lib/crawlctl/crawlctl.db",
	} {
		if got := store.Redact(dsn); got != want {
			t.Errorf("Redact(%q) = %q, want %q", dsn, got, want)
		}
	}
}

// TestConnection: an open store names its database without the password,
// answers pings and reads the database clock, in UTC; closed, it does not.
func TestConnection(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		if name := s.String(); name == "" || name != store.Redact(name) {
			t.Fatalf("String() = %q, want the redacted DSN", name)
		}
		if err := s.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		now, err := s.Now(ctx)
		if err != nil || now.Location() != time.UTC || now.Sub(time.Now()).Abs() > time.Minute {
			t.Fatalf("database clock = %v, %v; want UTC, close to this host's", now, err)
		}
		s.Close()
		if err := s.Ping(ctx); err == nil {
			t.Fatal("a closed store answers pings")
		}
		if _, err := s.Now(ctx); err == nil {
			t.Fatal("a closed store reads the clock")
		}
	})
}
