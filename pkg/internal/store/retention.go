package store

// Retention: deleting what is old enough, in small batches, so that nothing
// in the database grows forever.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Retention says how long things are kept; a zero field keeps them forever.
type Retention struct {
	// Executions: an execution that ended (SUCCEEDED, FAILED, KILLED)
	// longer ago goes, with its jobs and logs; so does an alert delivered
	// (SENT) or given up (FAILED) longer ago, with its attempts. An
	// execution that has not ended is never deleted, however old.
	Executions time.Duration
	// Logs: the logs of an execution that ended longer ago go; the
	// execution and its jobs stay (until Executions).
	Logs time.Duration
	// Events: executor events older than this go.
	Events time.Duration
	// Versions: each project keeps its newest Versions versions (its
	// latest is never deleted), and any version a queued or running
	// execution uses; the archives of the others go. Schedules always run
	// a project's latest version, so they hold no older one.
	Versions int
	// Sessions: Azkaban API sessions unused for longer go (they have
	// expired; give the web servers' --session-idle).
	Sessions time.Duration
	// LoginFailures: failed logins older than this go (the login limiter
	// looks back a minute).
	LoginFailures time.Duration
}

// PruneTables are the tables Prune deletes from, in the order a report
// shows them.
var PruneTables = []string{
	"executions", "execution_jobs", "execution_logs", "project_versions", "project_files",
	"executor_events", "web_sessions", "login_failures", "alerts", "alert_attempts",
}

// PruneReport counts the rows Prune deleted (or, for a dry run, would
// delete) per table. Rows that another web server deleted meanwhile are
// not counted.
type PruneReport struct {
	DryRun bool
	Rows   map[string]int64
}

// Total is the number of rows over every table.
func (r PruneReport) Total() int64 {
	var n int64
	for _, v := range r.Rows {
		n += v
	}
	return n
}

const (
	// pruneBatch bounds every DELETE: at most this many rows per
	// statement, each statement its own short transaction.
	pruneBatch = 500
	// fileBatch bounds the deletes of project_files, whose rows hold up
	// to a MiB each.
	fileBatch = 16
	// finishedAlerts are the statuses of an alert that is done with.
	finishedAlerts = "('SENT', 'FAILED')"
)

// Prune deletes what r says is old enough, table by table, in batches of at
// most 500 rows, each its own transaction, until nothing is left to delete
// or ctx ends. Several web servers may prune at once: a batch deletes only
// rows that still match, so they share the work. Children go before their
// parent (a job's logs before its execution, an archive's chunks before its
// version), so a prune cut short leaves no orphan, and the next one
// finishes the half-deleted parent. With dryRun it deletes nothing and
// counts what it would delete.
func (s *Store) Prune(ctx context.Context, r Retention, dryRun bool) (PruneReport, error) {
	p := &pruner{s: s, dry: dryRun, rep: PruneReport{DryRun: dryRun, Rows: map[string]int64{}}}
	if r.Versions < 0 {
		return p.rep, errors.New("prune: a negative number of versions to keep")
	}
	var steps []func(context.Context) error
	if r.Executions > 0 {
		ended := "t.end_time < " + s.d.nowPlus + " AND t.status IN " + endedStatuses
		steps = append(steps, func(ctx context.Context) error {
			return p.tree(ctx, "executions", "ix_executions_end", ended, "t.end_time", []any{s.d.nowPlusArg(-r.Executions)},
				child{"execution_logs", "execution_id", []string{"id"}},
				child{"execution_jobs", "execution_id", []string{"execution_id", "exec_attempt", "job"}})
		}, func(ctx context.Context) error {
			done := "t.finished_at < " + s.d.nowPlus + " AND t.status IN " + finishedAlerts
			return p.tree(ctx, "alerts", "ix_alerts_finished", done, "t.finished_at", []any{s.d.nowPlusArg(-r.Executions)},
				child{"alert_attempts", "alert_id", []string{"id"}})
		})
	}
	if r.Logs > 0 {
		steps = append(steps, func(ctx context.Context) error { return p.logs(ctx, r) })
	}
	if r.Versions > 0 {
		steps = append(steps, func(ctx context.Context) error { return p.versions(ctx, r.Versions) })
	}
	for _, a := range []struct {
		table, col string
		age        time.Duration
	}{{"executor_events", "created_at", r.Events}, {"web_sessions", "last_used", r.Sessions}, {"login_failures", "failed_at", r.LoginFailures}} {
		if a.age > 0 {
			steps = append(steps, func(ctx context.Context) error {
				pick := "FROM " + a.table + " t WHERE t." + a.col + " < " + s.d.nowPlus
				return p.rows(ctx, a.table, []string{"id"}, pick, "t."+a.col, pruneBatch, s.d.nowPlusArg(-a.age))
			})
		}
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return p.rep, err
		}
	}
	return p.rep, nil
}

// pruner is one run of Prune.
type pruner struct {
	s   *Store
	dry bool
	rep PruneReport
}

// child is a table whose rows belong to a parent row through fk.
type child struct {
	table, fk string
	keys      []string
}

// rows deletes the rows of table that pick (FROM ... WHERE ..., the table
// aliased t) selects, at most limit per statement in order, until none is
// left; a dry run counts them instead.
func (p *pruner) rows(ctx context.Context, table string, keys []string, pick, order string, limit int, args ...any) error {
	if p.dry {
		return p.count(ctx, table, pick, args...)
	}
	_, err := p.deleteRows(ctx, table, keys, pick, order, limit, args...)
	return err
}

// deleteRows is rows without the dry run; it returns how many it deleted.
func (p *pruner) deleteRows(ctx context.Context, table string, keys []string, pick, order string, limit int, args ...any) (int64, error) {
	if order != "" {
		pick += " ORDER BY " + order
	}
	q := p.s.d.deleteBatch(table, keys, pick+" LIMIT ?")
	args = append(args[:len(args):len(args)], limit)
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		var n int64
		err := p.s.inTx(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, q, args...)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, fmt.Errorf("prune %s: %w", table, err)
		}
		if p.s.onPruneBatch != nil {
			p.s.onPruneBatch(table, n)
		}
		total += n
		p.rep.Rows[table] += n
		if n == 0 {
			return total, nil
		}
	}
}

// count adds to the report the rows that pick selects.
func (p *pruner) count(ctx context.Context, table, pick string, args ...any) error {
	var n int64
	if err := p.s.db.QueryRowContext(ctx, "SELECT COUNT(*) "+pick, args...).Scan(&n); err != nil {
		return fmt.Errorf("count %s to prune: %w", table, err)
	}
	p.rep.Rows[table] += n
	return nil
}

// tree deletes the rows of parent that where (on parent aliased t, with
// args) selects, oldest (by order, which index ix gives) first, and before
// them their children: a batch of parents at a time, each table in
// statements of at most pruneBatch rows. The index is named because a
// database left to choose may take one that starts with the status and
// sort every old row for every batch.
func (p *pruner) tree(ctx context.Context, parent, ix, where, order string, args []any, children ...child) error {
	from := "FROM " + parent + " t" + p.s.d.useIndex(ix) + " WHERE " + where
	if p.dry {
		for _, c := range children {
			if err := p.count(ctx, c.table, "FROM "+c.table+" c JOIN "+parent+" t ON t.id = c."+c.fk+" WHERE "+where, args...); err != nil {
				return err
			}
		}
		return p.count(ctx, parent, from, args...)
	}
	for {
		ids, err := p.ids(ctx, "SELECT t.id "+from+" ORDER BY "+order+" LIMIT ?", append(args[:len(args):len(args)], pruneBatch)...)
		if err != nil || len(ids) == 0 {
			return err
		}
		in := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ") + ")"
		for _, c := range children {
			if _, err := p.deleteRows(ctx, c.table, c.keys, "FROM "+c.table+" t WHERE t."+c.fk+" IN "+in, "", pruneBatch, ids...); err != nil {
				return err
			}
		}
		// Only those that still match: another web server may have taken
		// some already.
		if _, err := p.deleteRows(ctx, parent, []string{"id"}, "FROM "+parent+" t WHERE t.id IN "+in+" AND "+where, "", pruneBatch, append(ids, args...)...); err != nil {
			return err
		}
	}
}

// ids runs a query of ids, for use as parameters.
func (p *pruner) ids(ctx context.Context, q string, args ...any) ([]any, error) {
	ids, err := p.s.queryIDs(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out, nil
}

// logs deletes the logs of the executions that ended more than r.Logs ago.
// A log chunk is written before its execution ends, so the chunks to go
// are among those older than the cutoff: they are read in the order of
// their index (the join must not start from executions, or every batch
// would sort all the old logs).
func (p *pruner) logs(ctx context.Context, r Retention) error {
	d := p.s.d
	pick := "FROM execution_logs t" + d.joinInOrder + "executions e ON e.id = t.execution_id WHERE t.created_at < " + d.nowPlus +
		" AND e.status IN " + endedStatuses + " AND e.end_time < " + d.nowPlus
	args := []any{d.nowPlusArg(-r.Logs), d.nowPlusArg(-r.Logs)}
	if p.dry && r.Executions > 0 {
		// Those of executions deleted whole are counted with them.
		pick += " AND e.end_time >= " + d.nowPlus
		args = append(args, d.nowPlusArg(-r.Executions))
	}
	return p.rows(ctx, "execution_logs", []string{"id"}, pick, "t.created_at", pruneBatch, args...)
}

// liveVersion is true when a queued or running execution uses the version
// of the row aliased v.
const liveVersion = "EXISTS (SELECT 1 FROM executions e WHERE e.project_id = v.project_id AND e.version = v.version AND e.status IN " + liveStatuses + ")"

// versions deletes the project versions older than each project's newest
// keep ones that no queued or running execution uses: a version's chunks
// first, then its row, so that a version whose deletion was cut short
// (some or all chunks gone, the row still there) is finished by the next
// prune, as it still matches.
func (p *pruner) versions(ctx context.Context, keep int) error {
	cand := "FROM project_versions v JOIN projects p ON p.id = v.project_id WHERE v.version <= p.latest_version - ? AND NOT " + liveVersion
	if p.dry {
		if err := p.count(ctx, "project_versions", cand, keep); err != nil {
			return err
		}
		return p.count(ctx, "project_files", "FROM project_files f JOIN project_versions v ON v.project_id = f.project_id AND v.version = f.version"+
			" JOIN projects p ON p.id = v.project_id WHERE v.version <= p.latest_version - ? AND NOT "+liveVersion, keep)
	}
	type key struct {
		project int64
		version int
	}
	var last key
	for {
		rows, err := p.s.db.QueryContext(ctx, "SELECT v.project_id, v.version "+cand+
			" AND (v.project_id > ? OR (v.project_id = ? AND v.version > ?)) ORDER BY v.project_id, v.version LIMIT 100",
			keep, last.project, last.project, last.version)
		if err != nil {
			return fmt.Errorf("prune project versions: %w", err)
		}
		var batch []key
		for rows.Next() {
			var k key
			if err := rows.Scan(&k.project, &k.version); err != nil {
				rows.Close()
				return err
			}
			batch = append(batch, k)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		for _, k := range batch {
			last = k
			if _, err := p.deleteRows(ctx, "project_files", []string{"project_id", "version", "chunk"},
				"FROM project_files t JOIN project_versions v ON v.project_id = t.project_id AND v.version = t.version WHERE t.project_id = ? AND t.version = ? AND NOT "+liveVersion,
				"t.chunk", fileBatch, k.project, k.version); err != nil {
				return err
			}
			if err := p.deleteVersion(ctx, k.project, k.version, keep); err != nil {
				return err
			}
		}
	}
}

// deleteVersion deletes a version row whose chunks are gone, if it is still
// neither among the newest keep nor used.
func (p *pruner) deleteVersion(ctx context.Context, project int64, version, keep int) error {
	var n int64
	err := p.s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM project_versions WHERE project_id = ? AND version = ?"+
			" AND version <= (SELECT latest_version - ? FROM projects WHERE id = ?)"+
			" AND NOT EXISTS (SELECT 1 FROM project_files f WHERE f.project_id = ? AND f.version = ?)"+
			" AND NOT EXISTS (SELECT 1 FROM executions e WHERE e.project_id = ? AND e.version = ? AND e.status IN "+liveStatuses+")",
			project, version, keep, project, project, version, project, version)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("prune version %d of project %d: %w", version, project, err)
	}
	p.rep.Rows["project_versions"] += n
	return nil
}
