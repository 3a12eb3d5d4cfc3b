// Package benchdb holds the benchmark's own statements (pkg/bench,
// cmd/crawlbench): throwaway databases, a scratch table to time one commit,
// a multi-row queue filler and a few aggregate reads, on MySQL/MariaDB. The
// daemons never use it; it keeps its own connection to the database.
package benchdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

// ScratchDatabase is a MySQL/MariaDB database created for one run and
// dropped by Drop.
type ScratchDatabase struct {
	// Name is the database name, e.g. crawlbench_0a1b2c3d4e5f.
	Name string
	// DSN is the crawlctl DSN of the database (mysql://user@host:port/name).
	DSN   string
	admin *sql.DB
}

var scratchPrefix = regexp.MustCompile(`^[a-z][a-z0-9_]{0,40}$`)

// CreateScratchDatabase creates an empty database named prefix_<random> on
// the server of serverDSN, a go-sql-driver/mysql DSN such as
// root@tcp(127.0.0.1:3306)/ (the database part is ignored). Drop removes it.
func CreateScratchDatabase(ctx context.Context, serverDSN, prefix string) (*ScratchDatabase, error) {
	if !scratchPrefix.MatchString(prefix) {
		return nil, fmt.Errorf("bad scratch database prefix %q", prefix)
	}
	cfg, err := mysql.ParseDSN(serverDSN)
	if err != nil {
		return nil, fmt.Errorf("bad MySQL server DSN %q: %v", store.Redact("mysql://"+serverDSN), err)
	}
	cfg.DBName = ""
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return nil, err
	}
	admin.SetMaxOpenConns(2)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := admin.PingContext(pctx); err != nil {
		admin.Close()
		return nil, fmt.Errorf("no MySQL/MariaDB answers at %s: %w", cfg.Addr, err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := prefix + "_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(pctx, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		admin.Close()
		return nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u := url.URL{Scheme: "mysql", Host: cfg.Addr, Path: "/" + name}
	if cfg.Passwd != "" {
		u.User = url.UserPassword(cfg.User, cfg.Passwd)
	} else {
		u.User = url.User(cfg.User)
	}
	if cfg.Net == "unix" {
		u.Host = "localhost"
		u.RawQuery = url.Values{"socket": {cfg.Addr}}.Encode()
	}
	return &ScratchDatabase{Name: name, DSN: u.String(), admin: admin}, nil
}

// Drop drops the database and closes the server connection. It is safe to
// call more than once.
func (d *ScratchDatabase) Drop(ctx context.Context) error {
	if d == nil || d.admin == nil {
		return nil
	}
	_, err := d.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+d.Name)
	if err != nil {
		return fmt.Errorf("drop database %s: %w", d.Name, err)
	}
	d.admin.Close()
	d.admin = nil
	return nil
}

// DB is a connection to a crawlctl database for the benchmark.
type DB struct {
	db *sql.DB
}

// Open connects to the MySQL/MariaDB database of the crawlctl DSN dsn.
func Open(ctx context.Context, dsn string) (*DB, error) { return open(ctx, dsn, 32) }

// OpenSession connects to the database of dsn over one connection kept
// open, so that BenchServerCounters can leave out the statements and row
// reads of the benchmark itself (its session's own counters).
func OpenSession(ctx context.Context, dsn string) (*DB, error) { return open(ctx, dsn, 1) }

func open(ctx context.Context, dsn string, conns int) (*DB, error) {
	driver, source, err := store.Driver(dsn)
	if err != nil {
		return nil, err
	}
	if driver != "mysql" {
		return nil, fmt.Errorf("the benchmark needs MySQL/MariaDB, not %s", driver)
	}
	db, err := sql.Open(driver, source)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("database %s unreachable: %w", store.Redact(dsn), err)
	}
	return &DB{db: db}, nil
}

// Close closes the connections.
func (s *DB) Close() error { return s.db.Close() }

// ServerVersion is the database server's version.
func (s *DB) ServerVersion(ctx context.Context) (string, error) {
	q := "SELECT VERSION()"
	var v string
	if err := s.db.QueryRowContext(ctx, q).Scan(&v); err != nil {
		return "", fmt.Errorf("read server version: %w", err)
	}
	return v, nil
}

// BenchCommitTable creates the scratch table BenchCommit writes to.
func (s *DB) BenchCommitTable(ctx context.Context) error {
	q := `CREATE TABLE IF NOT EXISTS bench_commits (
  id         BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
  v          BIGINT      NOT NULL,
  created_at DATETIME(6) NOT NULL
) ENGINE=InnoDB`
	if _, err := s.db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("create bench_commits: %w", err)
	}
	return nil
}

// BenchCommit inserts one row into the scratch table in autocommit mode:
// one statement, one durable commit.
func (s *DB) BenchCommit(ctx context.Context, v int64) error {
	if _, err := s.db.ExecContext(ctx, "INSERT INTO bench_commits (v, created_at) VALUES (?, "+now+")", v); err != nil {
		return fmt.Errorf("bench commit: %w", err)
	}
	return nil
}

// BulkQueueExecutions inserts n QUEUED executions shaped like ne with
// multi-row INSERTs of batch rows (one transaction each) and returns how many
// it inserted. submit_time is the database clock.
func (s *DB) BulkQueueExecutions(ctx context.Context, ne store.NewExecution, n, batch int) (int, error) {
	if batch <= 0 {
		batch = 1000
	}
	if ne.Concurrent == "" {
		ne.Concurrent = "ignore"
	}
	if ne.FailureAction == "" {
		ne.FailureAction = "finishCurrent"
	}
	params := "{}"
	if ne.Params != nil {
		b, _ := json.Marshal(ne.Params)
		params = string(b)
	}
	const head = `INSERT INTO executions (project_id, project, version, flow, status, pinned_executor_id, attempt, excluded, flow_retries, params,
  priority, concurrent, failure_action, submit_user, submit_time, wait_reason, error, kill_reason, updated_at) VALUES `
	row := "(?, ?, ?, ?, 'QUEUED', ?, 0, '[]', ?, ?, ?, ?, ?, ?, " + now + ", '', '', '', " + now + ")"
	done := 0
	for done < n {
		k := min(batch, n-done)
		var q strings.Builder
		q.Grow(len(head) + k*(len(row)+2))
		q.WriteString(head)
		args := make([]any, 0, k*11)
		for i := 0; i < k; i++ {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString(row)
			args = append(args, ne.ProjectID, ne.Project, ne.Version, ne.Flow, pinned(ne.PinnedExecutorID), ne.FlowRetries, params,
				ne.Priority, ne.Concurrent, ne.FailureAction, ne.SubmitUser)
		}
		if _, err := s.db.ExecContext(ctx, q.String(), args...); err != nil {
			return done, fmt.Errorf("bulk queue executions (%d of %d done): %w", done, n, err)
		}
		done += k
	}
	return done, nil
}

// BenchFinishActive marks every DISPATCHING, RUNNING or KILLING execution
// SUCCEEDED, so a benchmark phase starts with no executor slots held. It
// returns how many rows it changed.
func (s *DB) BenchFinishActive(ctx context.Context) (int64, error) {
	res, err := s.db.ExecContext(ctx, "UPDATE executions SET status = 'SUCCEEDED', end_time = "+now+", updated_at = "+now+" WHERE status IN "+"('DISPATCHING', 'RUNNING', 'KILLING')")
	if err != nil {
		return 0, fmt.Errorf("finish active executions: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// BenchMaxExecutionID is the highest execution id (0 when there is none).
func (s *DB) BenchMaxExecutionID(ctx context.Context) (int64, error) {
	var id sql.NullInt64
	if err := s.db.QueryRowContext(ctx, "SELECT MAX(id) FROM executions").Scan(&id); err != nil {
		return 0, fmt.Errorf("read max execution id: %w", err)
	}
	return id.Int64, nil
}

// ExecutionSpan sums up the executions with id >= minID.
type ExecutionSpan struct {
	Total     int
	Ended     int // SUCCEEDED, FAILED or KILLED
	Succeeded int
	// FirstSubmit is the earliest submit_time; LastEnd the latest end_time
	// (zero when none ended). Both by the database clock.
	FirstSubmit time.Time
	LastEnd     time.Time
}

// BenchExecutionSpan counts the executions with id >= minID by outcome and
// returns their first submit and last end time.
func (s *DB) BenchExecutionSpan(ctx context.Context, minID int64) (ExecutionSpan, error) {
	var (
		sp                  ExecutionSpan
		ended, succeeded    sql.NullInt64
		firstSubmit, lastEn sql.NullTime
	)
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*),
  SUM(CASE WHEN status IN ('SUCCEEDED', 'FAILED', 'KILLED') THEN 1 ELSE 0 END),
  SUM(CASE WHEN status = 'SUCCEEDED' THEN 1 ELSE 0 END),
  MIN(submit_time), MAX(end_time)
FROM executions WHERE id >= ?`, minID).Scan(&sp.Total, &ended, &succeeded, &firstSubmit, &lastEn)
	if err != nil {
		return sp, fmt.Errorf("sum up executions from %d: %w", minID, err)
	}
	sp.Ended, sp.Succeeded = int(ended.Int64), int(succeeded.Int64)
	sp.FirstSubmit, sp.LastEnd = firstSubmit.Time, lastEn.Time
	return sp, nil
}

// BenchClearExecutions deletes every execution and its jobs; the
// benchmark's scale phase uses it between measurements on its own scratch
// database. It returns how many executions it deleted.
func (s *DB) BenchClearExecutions(ctx context.Context) (int64, error) {
	var n int64
	tx, err := s.db.BeginTx(ctx, nil)
	if err == nil {
		var res sql.Result
		if _, err = tx.ExecContext(ctx, "DELETE FROM execution_jobs"); err == nil {
			if res, err = tx.ExecContext(ctx, "DELETE FROM executions"); err == nil {
				n, _ = res.RowsAffected()
				err = tx.Commit()
			}
		}
		if err != nil {
			_ = tx.Rollback()
		}
	}
	if err != nil {
		return 0, fmt.Errorf("clear executions: %w", err)
	}
	return n, nil
}

// benchCounters are the server status counters BenchServerCounters reads.
// Those of sessionCounters MariaDB and MySQL also count per session.
var (
	benchCounters = []string{"Questions", "Com_select", "Com_insert", "Com_update", "Com_delete", "Com_commit",
		"Com_stmt_prepare", "Com_stmt_execute", "Rows_read", "Handler_read_rnd_next", "Innodb_rows_read", "Innodb_row_lock_waits"}
	sessionCounters = map[string]bool{"Questions": true, "Com_select": true, "Com_insert": true, "Com_update": true, "Com_delete": true,
		"Com_commit": true, "Com_stmt_prepare": true, "Com_stmt_execute": true, "Rows_read": true, "Handler_read_rnd_next": true}
)

// BenchServerCounters reads cumulative server-wide status counters (SHOW
// GLOBAL STATUS) by name, so a benchmark can count what a phase cost the
// database. On a DB from OpenSession, the counters MySQL keeps per session
// leave out that session's own work (SHOW SESSION STATUS): what the
// benchmark asked itself is not the system's cost. SQLite has none: it
// returns an empty map.
func (s *DB) BenchServerCounters(ctx context.Context) (map[string]int64, error) {
	global, err := s.status(ctx, "GLOBAL")
	if err != nil {
		return nil, err
	}
	if s.db.Stats().MaxOpenConnections != 1 {
		return global, nil
	}
	own, err := s.status(ctx, "SESSION")
	if err != nil {
		return nil, err
	}
	for name := range sessionCounters {
		if _, ok := global[name]; ok {
			global[name] -= own[name]
		}
	}
	return global, nil
}

func (s *DB) status(ctx context.Context, scope string) (map[string]int64, error) {
	out := map[string]int64{}
	rows, err := s.db.QueryContext(ctx, "SHOW "+scope+" STATUS WHERE Variable_name IN ('"+strings.Join(benchCounters, "', '")+"')")
	if err != nil {
		return nil, fmt.Errorf("read server counters: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return nil, err
		}
		var n int64
		if _, err := fmt.Sscan(value, &n); err == nil {
			out[name] = n
		}
	}
	return out, rows.Err()
}

// now is the database clock, as the daemons write it.
const now = "NOW(6)"

func pinned(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// BulkEndedExecutions inserts n SUCCEEDED executions of flow shaped like ne
// that ended age ago, each with one job row and one log chunk of logBytes,
// batch executions per transaction: the history a long-running cluster
// keeps. It returns how many it inserted.
func (s *DB) BulkEndedExecutions(ctx context.Context, ne store.NewExecution, n, batch, logBytes int, age time.Duration) (int, error) {
	if batch <= 0 {
		batch = 1000
	}
	ago := "DATE_SUB(" + now + ", INTERVAL " + strconv.FormatInt(age.Microseconds(), 10) + " MICROSECOND)"
	const head = `INSERT INTO executions (project_id, project, version, flow, status, executor_id, attempt, excluded, flow_retries, params,
  priority, concurrent, failure_action, submit_user, submit_time, dispatched_time, start_time, end_time, wait_reason, error, kill_reason, updated_at) VALUES `
	row := "(?, ?, ?, ?, 'SUCCEEDED', NULL, 1, '[]', 0, '{}', 0, 'ignore', 'finishCurrent', 'crawlbench', " + ago + ", " + ago + ", " + ago + ", " + ago + ", '', '', '', " + ago + ")"
	done := 0
	for done < n {
		k := min(batch, n-done)
		err := func() error {
			tx, err := s.db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			var q strings.Builder
			q.WriteString(head)
			args := make([]any, 0, k*4)
			for i := 0; i < k; i++ {
				if i > 0 {
					q.WriteString(", ")
				}
				q.WriteString(row)
				args = append(args, ne.ProjectID, ne.Project, ne.Version, ne.Flow)
			}
			res, err := tx.ExecContext(ctx, q.String(), args...)
			if err != nil {
				return err
			}
			// One multi-row insert takes consecutive ids.
			first, err := res.LastInsertId()
			if err != nil {
				return err
			}
			last := first + int64(k) - 1
			if _, err := tx.ExecContext(ctx, `INSERT INTO execution_jobs (execution_id, exec_attempt, job, type, status, attempt, start_time, end_time, exit_code, error)
SELECT id, 1, 'job', 'command', 'SUCCEEDED', 0, start_time, end_time, 0, '' FROM executions WHERE id BETWEEN ? AND ?`, first, last); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO execution_logs (execution_id, exec_attempt, job, attempt, start_offset, data, created_at)
SELECT id, 1, 'job', 0, 0, REPEAT('x', ?), end_time FROM executions WHERE id BETWEEN ? AND ?`, logBytes, first, last); err != nil {
				return err
			}
			return tx.Commit()
		}()
		if err != nil {
			return done, fmt.Errorf("bulk insert ended executions (%d of %d done): %w", done, n, err)
		}
		done += k
	}
	return done, nil
}

// TableSize is one table's size as the server estimates it.
type TableSize struct {
	Rows  int64   `json:"rows"`
	MiB   float64 `json:"mib"` // data and indexes
	Freed float64 `json:"free_mib"`
}

// TableSizes analyzes tables and returns their sizes (information_schema).
func (s *DB) TableSizes(ctx context.Context, tables ...string) (map[string]TableSize, error) {
	out := map[string]TableSize{}
	for _, t := range tables {
		// ANALYZE refreshes the estimates; it returns a result set.
		rows, err := s.db.QueryContext(ctx, "ANALYZE TABLE "+t)
		if err != nil {
			return nil, fmt.Errorf("analyze %s: %w", t, err)
		}
		rows.Close()
		var ts TableSize
		var data, index, free int64
		err = s.db.QueryRowContext(ctx, "SELECT table_rows, data_length, index_length, data_free FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?", t).
			Scan(&ts.Rows, &data, &index, &free)
		if err != nil {
			return nil, fmt.Errorf("size of %s: %w", t, err)
		}
		ts.MiB, ts.Freed = float64(data+index)/(1<<20), float64(free)/(1<<20)
		out[t] = ts
	}
	return out, nil
}
