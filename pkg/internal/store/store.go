// Package store holds every SQL statement of crawlctl. It opens MySQL/MariaDB
// (multi-node deployments) or SQLite (solo mode) from one DSN setting, runs the
// embedded migrations and offers one typed method per operation. The daemons
// (web server, executor) and `crawlctl migrate` call it; nothing else writes SQL.
//
// Statements that differ between the two databases live in the dialect table
// below; everything else is written once.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"modernc.org/sqlite" // registers the "sqlite" driver (pure Go)
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/crawlctl/crawlctl/pkg/internal/backoff"
)

// Errors callers test with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	// ErrSchemaOutdated means the database has not been migrated to this
	// binary's schema.
	ErrSchemaOutdated = errors.New("database schema is missing or older than this binary; run `crawlctl migrate up`")
	// ErrBadDSN means the database setting (--db, CRAWLCTL_DB) is missing
	// or malformed: the operator's mistake, not the database's.
	ErrBadDSN = errors.New("bad database setting")
)

// dsnError is a parse error of a DSN that matches ErrBadDSN; its text is the
// parse error's.
type dsnError struct{ error }

func (e dsnError) Unwrap() []error { return []error{e.error, ErrBadDSN} }

// Store is a handle on the crawlctl database. It is safe for concurrent use.
type Store struct {
	db *sql.DB
	d  dialect
	// redacted is the DSN with its password hidden, for messages.
	redacted string
	tokens   tokenCache
	// onPruneBatch, when set (by tests), hears of every DELETE of Prune.
	onPruneBatch func(table string, rows int64)
}

// dialect lists the SQL that differs between MySQL and SQLite.
type dialect struct {
	name string // "mysql" or "sqlite"
	// now is the database clock, UTC.
	now string
	// msSince returns an expression for the milliseconds elapsed since the
	// time column col, by the database clock.
	msSince func(col string) string
	// msBetween returns an expression for b - a in milliseconds.
	msBetween func(a, b string) string
	// skipLocked is appended to a SELECT that claims queue rows.
	skipLocked string
	// forUpdate is appended to a SELECT that locks a row for update.
	forUpdate string
	// upsertExecutor inserts or updates an executor row keyed by (host, port);
	// its 7th parameter is the executor's clock, turned into clock_skew_ms.
	upsertExecutor string
	// insertIgnore starts an INSERT that does nothing on a key conflict.
	insertIgnore string
	// nowPlus is the database clock plus a duration given as nowPlusArg(d).
	nowPlus    string
	nowPlusArg func(d time.Duration) any
	// upsertJobSuffix turns an INSERT of execution_jobs rows into an upsert.
	upsertJobSuffix string
	// upsertSetting sets cluster_settings (name, value).
	upsertSetting string
	// deleteBatch is the statement that deletes the rows of table that pick
	// selects: pick is a SELECT without its column list ("FROM table t
	// WHERE ... LIMIT ?", the table aliased t); keys are the table's key
	// columns. The database reads only the picked rows, by their key.
	deleteBatch func(table string, keys []string, pick string) string
	// joinInOrder joins two tables with the left one read first.
	joinInOrder string
	// useIndex follows a table in FROM to make the database read it by
	// the index named ix.
	useIndex func(ix string) string
}

// upsertJobs is the statement that inserts or updates n execution_jobs rows.
func (d dialect) upsertJobs(n int) string {
	return "INSERT INTO execution_jobs (execution_id, exec_attempt, job, type, status, attempt, start_time, end_time, exit_code, error, outputs) VALUES " +
		strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?), ", n), ", ") + d.upsertJobSuffix
}

var mysqlDialect = dialect{
	name:      "mysql",
	now:       "NOW(6)",
	msSince:   func(col string) string { return "(TIMESTAMPDIFF(MICROSECOND, " + col + ", NOW(6)) DIV 1000)" },
	msBetween: func(a, b string) string { return "(TIMESTAMPDIFF(MICROSECOND, " + a + ", " + b + ") DIV 1000)" },
	// SKIP LOCKED lets several web servers take disjoint batches of the queue.
	skipLocked: " FOR UPDATE SKIP LOCKED",
	forUpdate:  " FOR UPDATE",
	upsertExecutor: `INSERT INTO executors (name, host, port, active, labels, max_flows, version, started_at, stopped_at, last_heartbeat, clock_skew_ms, running_flows, created_at, tls)
VALUES (?, ?, ?, FALSE, ?, ?, ?, NOW(6), NULL, NOW(6), (TIMESTAMPDIFF(MICROSECOND, NOW(6), ?) DIV 1000), 0, NOW(6), ?)
ON DUPLICATE KEY UPDATE name = VALUES(name), active = FALSE, labels = VALUES(labels), max_flows = VALUES(max_flows),
  version = VALUES(version), started_at = NOW(6), stopped_at = NULL, last_heartbeat = NOW(6),
  clock_skew_ms = VALUES(clock_skew_ms), running_flows = 0, tls = VALUES(tls)`,
	insertIgnore: "INSERT IGNORE INTO",
	nowPlus:      "NOW(6) + INTERVAL ? MICROSECOND",
	nowPlusArg:   func(d time.Duration) any { return d.Microseconds() },
	upsertJobSuffix: `
ON DUPLICATE KEY UPDATE type = VALUES(type), status = VALUES(status), attempt = VALUES(attempt), start_time = VALUES(start_time),
  end_time = VALUES(end_time), exit_code = VALUES(exit_code), error = VALUES(error), outputs = VALUES(outputs)`,
	upsertSetting: "INSERT INTO cluster_settings (name, value, updated_at) VALUES (?, ?, NOW(6)) ON DUPLICATE KEY UPDATE value = VALUES(value), updated_at = NOW(6)",
	// A join with the picked keys: MySQL runs "DELETE ... WHERE id IN
	// (SELECT ...)" as a scan of the whole table.
	deleteBatch: func(table string, keys []string, pick string) string {
		cols, on := make([]string, len(keys)), make([]string, len(keys))
		for i, k := range keys {
			cols[i], on[i] = "t."+k, "d."+k+" = x."+k
		}
		return "DELETE d FROM " + table + " d JOIN (SELECT " + strings.Join(cols, ", ") + " " + pick + ") x ON " + strings.Join(on, " AND ")
	},
	joinInOrder: " STRAIGHT_JOIN ",
	useIndex:    func(ix string) string { return " FORCE INDEX (" + ix + ")" },
}

const sqliteNow = "strftime('%Y-%m-%d %H:%M:%f', 'now')"

var sqliteDialect = dialect{
	name: "sqlite",
	now:  sqliteNow,
	msSince: func(col string) string {
		return "CAST(ROUND((julianday('now') - julianday(" + col + ")) * 86400000) AS INTEGER)"
	},
	msBetween: func(a, b string) string {
		return "CAST(ROUND((julianday(" + b + ") - julianday(" + a + ")) * 86400000) AS INTEGER)"
	},
	// SQLite has one writer at a time (transactions start IMMEDIATE), so the
	// queue needs no row locks.
	skipLocked: "",
	forUpdate:  "",
	upsertExecutor: `INSERT INTO executors (name, host, port, active, labels, max_flows, version, started_at, stopped_at, last_heartbeat, clock_skew_ms, running_flows, created_at, tls)
VALUES (?, ?, ?, 0, ?, ?, ?, ` + sqliteNow + `, NULL, ` + sqliteNow + `, CAST(ROUND((julianday(?) - julianday(` + sqliteNow + `)) * 86400000) AS INTEGER), 0, ` + sqliteNow + `, ?)
ON CONFLICT (host, port) DO UPDATE SET name = excluded.name, active = 0, labels = excluded.labels, max_flows = excluded.max_flows,
  version = excluded.version, started_at = ` + sqliteNow + `, stopped_at = NULL, last_heartbeat = ` + sqliteNow + `,
  clock_skew_ms = excluded.clock_skew_ms, running_flows = 0, tls = excluded.tls`,
	insertIgnore: "INSERT OR IGNORE INTO",
	nowPlus:      "strftime('%Y-%m-%d %H:%M:%f', 'now', ?)",
	nowPlusArg:   func(d time.Duration) any { return fmt.Sprintf("%+.3f seconds", d.Seconds()) },
	upsertJobSuffix: `
ON CONFLICT (execution_id, exec_attempt, job) DO UPDATE SET type = excluded.type, status = excluded.status, attempt = excluded.attempt,
  start_time = excluded.start_time, end_time = excluded.end_time, exit_code = excluded.exit_code, error = excluded.error, outputs = excluded.outputs`,
	upsertSetting: "INSERT INTO cluster_settings (name, value, updated_at) VALUES (?, ?, " + sqliteNow + ") ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
	// Every table has a rowid; the subquery runs once.
	deleteBatch: func(table string, _ []string, pick string) string {
		return "DELETE FROM " + table + " WHERE rowid IN (SELECT t.rowid " + pick + ")"
	},
	joinInOrder: " CROSS JOIN ",
	useIndex:    func(ix string) string { return " INDEXED BY " + ix },
}

// Open connects to the database named by dsn:
//
//	mysql://user:pass@host:port/dbname[?param=value...]   (any go-sql-driver/mysql parameter, e.g. tls=true)
//	user:pass@tcp(host:port)/dbname[?param=value...]      (go-sql-driver/mysql's own form)
//	sqlite:///absolute/path/file.db  or  sqlite://relative/path.db
//
// It checks that the server answers but not the schema (see CheckSchema).
func Open(ctx context.Context, dsn string) (*Store, error) {
	driver, source, d, err := parseDSN(dsn)
	if err != nil {
		return nil, dsnError{err}
	}
	db, err := sql.Open(driver, source)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", Redact(dsn), err)
	}
	if d.name == "sqlite" {
		// One writer at a time; readers go on in WAL mode.
		db.SetMaxOpenConns(4)
	} else {
		db.SetMaxOpenConns(32)
		db.SetMaxIdleConns(32)
		db.SetConnMaxLifetime(5 * time.Minute)
	}
	s := &Store{db: db, d: d, redacted: Redact(dsn)}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("database %s unreachable: %w", s.redacted, err)
	}
	return s, nil
}

// Close closes the connection pool.
func (s *Store) Close() error { return s.db.Close() }

// String is the DSN with its password hidden.
func (s *Store) String() string { return s.redacted }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

func parseDSN(dsn string) (driver, source string, d dialect, err error) {
	switch {
	case strings.HasPrefix(dsn, "mysql://"):
		cfg, err := parseMySQLURL(dsn)
		if err != nil {
			return "", "", d, err
		}
		return "mysql", cfg.FormatDSN(), mysqlDialect, nil
	case driverForm(dsn) >= 0:
		cfg, err := parseDriverDSN(dsn)
		if err != nil {
			return "", "", d, err
		}
		return "mysql", cfg.FormatDSN(), mysqlDialect, nil
	case strings.HasPrefix(dsn, "sqlite://"):
		rest := strings.TrimPrefix(dsn, "sqlite://")
		path, query, _ := strings.Cut(rest, "?")
		if path == "" {
			return "", "", d, fmt.Errorf("bad --db %q: no file (sqlite:///var/lib/crawlctl/crawlctl.db)", dsn)
		}
		q, _ := url.ParseQuery(query)
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(NORMAL)")
		q.Add("_pragma", "foreign_keys(1)")
		q.Set("_txlock", "immediate")
		return "sqlite", "file:" + path + "?" + q.Encode(), sqliteDialect, nil
	case dsn == "":
		return "", "", d, errors.New("no database configured: set --db or CRAWLCTL_DB (mysql://user:pass@host:3306/crawlctl or sqlite:///path/crawlctl.db)")
	default:
		return "", "", d, fmt.Errorf("bad --db %q: use mysql://user:pass@host:3306/dbname, user:pass@tcp(host:3306)/dbname or sqlite:///path/file.db", Redact(dsn))
	}
}

// badPassword says how to write a password with special characters; it never
// repeats any part of the password.
const badPassword = "the user or password is not percent-encoded correctly: write special characters as %XX (% as %25, @ as %40, : as %3A, / as %2F, # as %23, ? as %3F)"

// parseMySQLURL reads mysql://user:pass@host:port/dbname?params. The user
// information ends at the last '@', so a password with an unencoded '/', ':'
// or '#' is still read whole, and no error ever shows a piece of it.
func parseMySQLURL(dsn string) (*mysql.Config, error) {
	rest := strings.TrimPrefix(dsn, "mysql://")
	var user, pass string
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		u, p, _ := strings.Cut(rest[:at], ":")
		var e1, e2 error
		user, e1 = url.PathUnescape(u)
		pass, e2 = url.PathUnescape(p)
		if e1 != nil || e2 != nil {
			return nil, fmt.Errorf("bad --db %q: %s", Redact(dsn), badPassword)
		}
		rest = rest[at+1:]
	}
	u, err := url.Parse("mysql://" + rest)
	if err != nil {
		return nil, fmt.Errorf("bad --db %q: %v (%s)", Redact(dsn), err, "special characters in the password must be percent-encoded")
	}
	q := u.Query()
	netAddr := "tcp(" + u.Host + ")"
	if u.Port() == "" {
		netAddr = "tcp(" + u.Host + ":3306)"
	}
	if sock := q.Get("socket"); sock != "" {
		netAddr = "unix(" + sock + ")"
		q.Del("socket")
	}
	if strings.Trim(u.Path, "/") == "" {
		return nil, fmt.Errorf("bad --db %q: no database name (mysql://user:pass@host:3306/crawlctl)", Redact(dsn))
	}
	// Let the driver read the parameters so every go-sql-driver/mysql
	// parameter (tls, readTimeout, ...) keeps its documented meaning; the
	// credentials are set afterwards and never pass through its parser.
	cfg, err := mysql.ParseDSN(netAddr + u.EscapedPath() + "?" + q.Encode())
	if err != nil {
		return nil, fmt.Errorf("bad --db %q: %v", Redact(dsn), err)
	}
	if cfg.DBName == "" {
		return nil, fmt.Errorf("bad --db %q: no database name (mysql://user:pass@host:3306/crawlctl)", Redact(dsn))
	}
	cfg.User, cfg.Passwd = user, pass
	mysqlDefaults(cfg, q)
	return cfg, nil
}

// driverForm returns where "@tcp(" or "@unix(" starts in a go-sql-driver/mysql
// DSN (user:pass@tcp(host:3306)/dbname), or -1.
func driverForm(dsn string) int {
	if strings.Contains(dsn, "://") {
		return -1
	}
	if i := strings.LastIndex(dsn, "@tcp("); i >= 0 {
		return i
	}
	return strings.LastIndex(dsn, "@unix(")
}

// parseDriverDSN reads the go-sql-driver/mysql form operators paste from
// other tools: user:pass@tcp(host:3306)/dbname?params.
func parseDriverDSN(dsn string) (*mysql.Config, error) {
	at := driverForm(dsn)
	user, pass, _ := strings.Cut(dsn[:at], ":")
	cfg, err := mysql.ParseDSN(dsn[at+1:])
	if err != nil {
		return nil, fmt.Errorf("bad --db %q: %v", Redact(dsn), err)
	}
	if cfg.DBName == "" {
		return nil, fmt.Errorf("bad --db %q: no database name (user:pass@tcp(host:3306)/crawlctl)", Redact(dsn))
	}
	cfg.User, cfg.Passwd = user, pass
	q := url.Values{}
	if _, query, ok := strings.Cut(dsn[at:], "?"); ok {
		q, _ = url.ParseQuery(query)
	}
	mysqlDefaults(cfg, q)
	return cfg, nil
}

// mysqlDefaults sets what crawlctl needs of every MySQL connection, and the
// defaults of parameters the DSN (whose query is q) did not set.
func mysqlDefaults(cfg *mysql.Config, q url.Values) {
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	// Client-side placeholders: one round trip per statement instead of
	// prepare + execute + close (utf8mb4 connections make this safe).
	if q.Get("interpolateParams") == "" {
		cfg.InterpolateParams = true
	}
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["time_zone"] = "'+00:00'"
	if q.Get("timeout") == "" {
		cfg.Timeout = 5 * time.Second
	}
}

// Redact hides the password of a DSN (mysql://user:pass@host/db or
// user:pass@tcp(host)/db): everything between the user's ':' and the '@'
// that starts the address becomes xxxxx.
func Redact(dsn string) string {
	at := driverForm(dsn)
	if at < 0 {
		at = strings.LastIndex(dsn, "@")
	}
	if at < 0 {
		return dsn
	}
	head := dsn[:at]
	scheme := ""
	if i := strings.Index(head, "://"); i >= 0 {
		scheme, head = head[:i+3], head[i+3:]
	}
	user, _, hasPass := strings.Cut(head, ":")
	if !hasPass {
		return dsn
	}
	return scheme + user + ":xxxxx" + dsn[at:]
}

// txRetry is how a transaction the database chose as a deadlock victim is
// run again: 5 runs in all, jittered so that the victims do not meet again.
var txRetry = backoff.Policy{Base: 10 * time.Millisecond, Max: 80 * time.Millisecond, Jitter: 0.5, Tries: 5}

// inTx runs fn in a transaction, committing when it returns nil. A
// transaction the database chose as a deadlock victim (or whose lock wait
// timed out) is rolled back and run again, a few times: fn must not keep
// state from an earlier run.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return backoff.Retry(ctx, txRetry, func(int) error {
		err := s.tryTx(ctx, fn)
		if !retryable(err) {
			return backoff.Stop(err)
		}
		return err
	})
}

func (s *Store) tryTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// retryable reports a MySQL deadlock (1213) or lock wait timeout (1205).
func retryable(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1213 || me.Number == 1205)
}

// isDuplicate reports an insert refused by a primary or unique key: MySQL's
// ER_DUP_ENTRY (1062), SQLite's SQLITE_CONSTRAINT_UNIQUE or _PRIMARYKEY.
func isDuplicate(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1062
	}
	var se *sqlite.Error
	return errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

// timeFormat is how times are written as parameters (always UTC).
const timeFormat = "2006-01-02 15:04:05.000000"

func dbTimeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(timeFormat)
}

// nullTime scans DATETIME (MySQL) and TEXT (SQLite) columns alike.
type nullTime struct{ t time.Time }

func (n *nullTime) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		n.t = time.Time{}
	case time.Time:
		n.t = x.UTC()
	case []byte:
		return n.parse(string(x))
	case string:
		return n.parse(x)
	default:
		return fmt.Errorf("cannot scan %T into a time", v)
	}
	return nil
}

func (n *nullTime) parse(s string) error {
	for _, layout := range []string{"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999Z07:00", "2006-01-02 15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			n.t = t.UTC()
			return nil
		}
	}
	return fmt.Errorf("cannot parse time %q", s)
}

// ptr returns nil for the zero time.
func (n nullTime) ptr() *time.Time {
	if n.t.IsZero() {
		return nil
	}
	t := n.t
	return &t
}

// queryIDs runs a query of one integer column, such as ids.
func (s *Store) queryIDs(ctx context.Context, q string, args ...any) ([]int64, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []int64{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// Now reads the database clock.
func (s *Store) Now(ctx context.Context) (time.Time, error) {
	var n nullTime
	if err := s.db.QueryRowContext(ctx, "SELECT "+s.d.now).Scan(&n); err != nil {
		return time.Time{}, fmt.Errorf("read database clock: %w", err)
	}
	return n.t, nil
}

// ExecRaw runs an arbitrary statement. Only tests and operator tooling use it,
// to act as an operator typing SQL by hand.
func (s *Store) ExecRaw(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return s.db.ExecContext(ctx, q, args...)
}

// QueryRaw runs an arbitrary query; only tests use it, to look at what is
// really stored.
func (s *Store) QueryRaw(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return s.db.QueryContext(ctx, q, args...)
}
