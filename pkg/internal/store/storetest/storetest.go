// Package storetest gives tests a fresh, migrated crawlctl database: a new
// MySQL/MariaDB database per call (dropped when the test ends), or a SQLite
// file in a temp dir. The MySQL server comes from CRAWLCTL_TEST_MYSQL_DSN
// (default root@tcp(127.0.0.1:3306)/); when none answers the test fails,
// because `make test` is expected to have started one.
//
// The shared suites run on every dialect; CRAWLCTL_TEST_DIALECTS=sqlite (or
// mysql) runs them on that one alone, to measure what it covers.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

// Dialects are the databases the shared suites run on: MySQL and SQLite, or
// those named in CRAWLCTL_TEST_DIALECTS (comma-separated).
var Dialects = selectDialects(os.Getenv("CRAWLCTL_TEST_DIALECTS"))

func selectDialects(env string) []string {
	all := []string{"mysql", "sqlite"}
	if env == "" {
		return all
	}
	var out []string
	for _, d := range strings.Split(env, ",") {
		if d = strings.TrimSpace(d); slices.Contains(all, d) && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

func serverDSN() string {
	if v := os.Getenv("CRAWLCTL_TEST_MYSQL_DSN"); v != "" {
		return v
	}
	return "root@tcp(127.0.0.1:3306)/"
}

// NewDSN creates an empty, unmigrated database of the given dialect and
// returns its crawlctl DSN. MySQL databases are dropped at cleanup.
func NewDSN(t testing.TB, dialect string) string {
	t.Helper()
	if dialect == "sqlite" {
		return "sqlite://" + filepath.Join(t.TempDir(), "crawlctl.db")
	}
	cfg, err := mysql.ParseDSN(serverDSN())
	if err != nil {
		t.Fatalf("CRAWLCTL_TEST_MYSQL_DSN %q: %v", serverDSN(), err)
	}
	cfg.DBName = ""
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		admin.Close()
		t.Fatalf("no MySQL/MariaDB at %s (%v): run the tests with `make test`, which starts one, or set CRAWLCTL_TEST_MYSQL_DSN", cfg.Addr, err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "crawlctl_test_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		admin.Close()
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
		admin.Close()
	})
	u := url.URL{Scheme: "mysql", Host: cfg.Addr, Path: "/" + name}
	if cfg.Passwd != "" {
		u.User = url.UserPassword(cfg.User, cfg.Passwd)
	} else {
		u.User = url.User(cfg.User)
	}
	return u.String()
}

// NewMigratedDSN is NewDSN plus `migrate up`.
func NewMigratedDSN(t testing.TB, dialect string) string {
	t.Helper()
	dsn := NewDSN(t, dialect)
	s := open(t, dsn)
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	s.Close()
	return dsn
}

// New returns an open store on a fresh migrated database, closed at cleanup.
func New(t testing.TB, dialect string) *store.Store {
	t.Helper()
	s := open(t, NewMigratedDSN(t, dialect))
	t.Cleanup(func() { s.Close() })
	return s
}

func open(t testing.TB, dsn string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	return s
}

// Each runs fn as a subtest once per dialect with a fresh store.
func Each(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	each(t, Dialects, false, fn)
}

// EachParallel is Each for a test that shares nothing but its fresh stores:
// the test and its dialect subtests run in parallel with other such tests.
func EachParallel(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	t.Parallel()
	each(t, Dialects, true, fn)
}

// Only is Each for the dialects a test is about (a behaviour only one of
// them has), among those selected.
func Only(t *testing.T, dialects []string, fn func(t *testing.T, s *store.Store)) {
	each(t, dialects, false, fn)
}

func each(t *testing.T, dialects []string, parallel bool, fn func(t *testing.T, s *store.Store)) {
	for _, d := range dialects {
		if !slices.Contains(Dialects, d) {
			continue
		}
		t.Run(d, func(t *testing.T) {
			if parallel {
				t.Parallel()
			}
			fn(t, New(t, d))
		})
	}
}
