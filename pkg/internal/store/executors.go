package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Executor event types.
const (
	EventRegistered  = "REGISTERED"
	EventActivated   = "ACTIVATED"
	EventDeactivated = "DEACTIVATED"
	EventStopped     = "STOPPED"
	EventLost        = "LOST"
	EventRemoved     = "REMOVED"
	// EventSecretRefused: the executor refused a web server's cluster
	// secret; EventSecretAccepted: it accepted one again.
	EventSecretRefused  = "SECRET_REFUSED"
	EventSecretAccepted = "SECRET_ACCEPTED"
)

// Executor statuses as shown to operators.
const (
	StatusOnline  = "online"
	StatusOffline = "offline"
	StatusStopped = "stopped"
)

// Executor is one row of the executors table.
type Executor struct {
	ID            int64
	Name          string
	Host          string
	Port          int
	Active        bool
	Labels        map[string]string
	MaxFlows      int
	Version       string
	StartedAt     *time.Time
	StoppedAt     *time.Time
	LastHeartbeat *time.Time
	// HeartbeatAge is how old the last heartbeat is by the database clock;
	// negative when there has been none.
	HeartbeatAge time.Duration
	ClockSkew    time.Duration
	RunningFlows int
	Load1        float64
	// Stopped is true when the executor shut down cleanly after its last start.
	Stopped bool
	// TLS is true when the executor serves HTTPS.
	TLS bool
	// Lease is the lease the executor granted itself at its last heartbeat.
	Lease time.Duration
	// SecretRefused says why the executor refused a web server's cluster
	// secret ("" when the last call it got was accepted); no work is
	// offered to it while set.
	SecretRefused   string
	SecretRefusedAt *time.Time
}

// Status is online, offline or stopped, judged by the database clock.
func (e *Executor) Status(offlineAfter time.Duration) string {
	switch {
	case e.Stopped:
		return StatusStopped
	case e.HeartbeatAge >= 0 && e.HeartbeatAge < offlineAfter:
		return StatusOnline
	default:
		return StatusOffline
	}
}

// Addr is host:port.
func (e *Executor) Addr() string { return fmt.Sprintf("%s:%d", e.Host, e.Port) }

// ExecutorSpec is what an executor announces when it registers.
type ExecutorSpec struct {
	// ID, when set, is reused if the executor's row was deleted, so the
	// executor keeps its id.
	ID        int64
	Name      string
	Host      string
	Port      int
	Labels    map[string]string
	MaxFlows  int
	Version   string
	LocalTime time.Time // the executor's own clock, for the skew column
	TLS       bool
}

// Heartbeat is what an executor reports every few seconds.
type Heartbeat struct {
	LocalTime    time.Time
	RunningFlows int
	Load1        float64
	// Last is the reply to this executor's previous heartbeat, if any:
	// while nothing it says has changed, the heartbeat is one statement.
	Last *HeartbeatReply
}

// ExecutorEvent is one row of executor_events.
type ExecutorEvent struct {
	ID         int64
	ExecutorID int64
	Type       string
	Actor      string
	Message    string
	Time       time.Time
}

func (s *Store) executorColumns() string {
	return `id, name, host, port, active, labels, max_flows, version, started_at, stopped_at, last_heartbeat,
  COALESCE(` + s.d.msSince("last_heartbeat") + `, -1), clock_skew_ms, running_flows, load1,
  CASE WHEN stopped_at IS NOT NULL AND (started_at IS NULL OR stopped_at >= started_at) THEN 1 ELSE 0 END, tls, lease_ms,
  secret_refused_at, secret_refused`
}

type scanner interface{ Scan(dest ...any) error }

func scanExecutor(r scanner) (*Executor, error) {
	var (
		e                        Executor
		labels                   string
		started, stopped, beat   nullTime
		refusedAt                nullTime
		ageMs, skewMs, isStopped int64
		leaseMs                  int64
	)
	if err := r.Scan(&e.ID, &e.Name, &e.Host, &e.Port, &e.Active, &labels, &e.MaxFlows, &e.Version,
		&started, &stopped, &beat, &ageMs, &skewMs, &e.RunningFlows, &e.Load1, &isStopped, &e.TLS, &leaseMs,
		&refusedAt, &e.SecretRefused); err != nil {
		return nil, err
	}
	e.Labels = map[string]string{}
	if labels != "" {
		_ = json.Unmarshal([]byte(labels), &e.Labels)
	}
	e.StartedAt, e.StoppedAt, e.LastHeartbeat = started.ptr(), stopped.ptr(), beat.ptr()
	e.HeartbeatAge = time.Duration(ageMs) * time.Millisecond
	if e.LastHeartbeat == nil {
		e.HeartbeatAge = -1
	}
	e.ClockSkew = time.Duration(skewMs) * time.Millisecond
	e.Stopped = isStopped == 1
	e.Lease = time.Duration(leaseMs) * time.Millisecond
	e.SecretRefusedAt = refusedAt.ptr()
	return &e, nil
}

func labelsJSON(l map[string]string) string {
	if l == nil {
		l = map[string]string{}
	}
	b, _ := json.Marshal(l)
	return string(b)
}

// skewExpr is the executor's clock skew in milliseconds: its clock, given as
// the one parameter (see localTimeArg), minus the database clock.
func (s *Store) skewExpr() string { return s.d.msBetween(s.d.now, "?") }

// RegisterExecutor inserts or updates the executor's (host, port) row, always
// inactive, and records a REGISTERED event. The row keeps its id across
// restarts; a deleted row is re-created with spec.ID when that id is free.
func (s *Store) RegisterExecutor(ctx context.Context, spec ExecutorSpec) (*Executor, error) {
	var e *Executor
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// A plain read (no locking read of a row that may not exist yet: gap
		// locks would deadlock executors registering at the same time); the
		// upsert below is atomic on its own.
		var existing int64
		err := tx.QueryRowContext(ctx, "SELECT id FROM executors WHERE host = ? AND port = ?", spec.Host, spec.Port).Scan(&existing)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		skew := s.localTimeArg(spec.LocalTime)
		if existing == 0 && spec.ID > 0 {
			// Re-create a deleted row under its old id, if nobody took it.
			res, err := tx.ExecContext(ctx, s.d.insertIgnore+` executors (id, name, host, port, active, labels, max_flows, version, started_at, stopped_at, last_heartbeat, clock_skew_ms, running_flows, created_at, tls)
VALUES (?, ?, ?, ?, 0, ?, ?, ?, `+s.d.now+`, NULL, `+s.d.now+`, `+s.skewExpr()+`, 0, `+s.d.now+`, ?)`,
				spec.ID, spec.Name, spec.Host, spec.Port, labelsJSON(spec.Labels), spec.MaxFlows, spec.Version, skew, spec.TLS)
			if err != nil {
				return fmt.Errorf("re-create executor %d: %w", spec.ID, err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				existing = -1 // handled
			}
		}
		if existing != -1 {
			if _, err := tx.ExecContext(ctx, s.d.upsertExecutor,
				spec.Name, spec.Host, spec.Port, labelsJSON(spec.Labels), spec.MaxFlows, spec.Version, skew, spec.TLS); err != nil {
				return fmt.Errorf("register executor %s:%d: %w", spec.Host, spec.Port, err)
			}
		}
		row := tx.QueryRowContext(ctx, "SELECT "+s.executorColumns()+" FROM executors WHERE host = ? AND port = ?", spec.Host, spec.Port)
		var err2 error
		if e, err2 = scanExecutor(row); err2 != nil {
			return err2
		}
		msg := "registered inactive"
		if existing > 0 {
			msg = "restarted; registered inactive"
		}
		return s.addEvent(ctx, tx, e.ID, EventRegistered, spec.Name, fmt.Sprintf("%s (version %s, %s:%d)", msg, spec.Version, spec.Host, spec.Port))
	})
	return e, err
}

func (s *Store) localTimeArg(t time.Time) any {
	if t.IsZero() {
		t = time.Now()
	}
	return t.UTC().Format(timeFormat)
}

func (s *Store) addEvent(ctx context.Context, tx *sql.Tx, id int64, typ, actor, msg string) error {
	_, err := tx.ExecContext(ctx, "INSERT INTO executor_events (executor_id, type, actor, message, created_at) VALUES (?, ?, ?, ?, "+s.d.now+")",
		id, typ, actor, msg)
	if err != nil {
		return fmt.Errorf("record %s event for executor %d: %w", typ, id, err)
	}
	return nil
}

// HeartbeatReply is what the database says back to a heartbeat.
type HeartbeatReply struct {
	Active bool
	// OfflineAfter is the cluster's offline threshold (0 when no web
	// server has recorded one yet).
	OfflineAfter time.Duration
	// Lease is the lease this heartbeat grants (LeaseFor(OfflineAfter)),
	// recorded in the executor's row for the reaper.
	Lease time.Duration
	// offline is the stored threshold setting, as read ("" for none).
	offline string
}

// DefaultOfflineAfter is assumed while no web server has recorded the
// cluster's offline threshold (the web server's own default).
const DefaultOfflineAfter = 30 * time.Second

// LeaseFor is the lease an executor may hold under an offline threshold:
// two thirds of it, so that its jobs are dead well before any web server
// declares it lost.
func LeaseFor(offline time.Duration) time.Duration {
	if offline <= 0 {
		offline = DefaultOfflineAfter
	}
	return offline * 2 / 3
}

// ExecutorHeartbeat writes last_heartbeat with the database clock, and the
// lease it grants, and returns whether the executor is active, the cluster's
// offline threshold and that lease. It returns ErrNotFound if the row is gone.
func (s *Store) ExecutorHeartbeat(ctx context.Context, id int64, hb Heartbeat) (HeartbeatReply, error) {
	if last := hb.Last; last != nil {
		// The write is conditional on the activation and the threshold
		// being what the last reply said: then that reply still holds.
		res, err := s.db.ExecContext(ctx, "UPDATE executors SET last_heartbeat = "+s.d.now+", clock_skew_ms = "+s.skewExpr()+
			", running_flows = ?, load1 = ?, lease_ms = ? WHERE id = ? AND active = ? AND COALESCE((SELECT value FROM cluster_settings WHERE name = ?), '') = ?",
			s.localTimeArg(hb.LocalTime), hb.RunningFlows, hb.Load1, last.Lease.Milliseconds(), id, last.Active, settingOfflineAfter, last.offline)
		if err != nil {
			return HeartbeatReply{}, fmt.Errorf("heartbeat of executor %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return *last, nil
		}
		// Something changed (or the row is gone): read it all.
	}
	var reply HeartbeatReply
	var offline sql.NullString
	err := s.db.QueryRowContext(ctx, "SELECT active, (SELECT value FROM cluster_settings WHERE name = ?) FROM executors WHERE id = ?", settingOfflineAfter, id).
		Scan(&reply.Active, &offline)
	if errors.Is(err, sql.ErrNoRows) {
		return reply, fmt.Errorf("executor %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return reply, fmt.Errorf("heartbeat of executor %d: %w", id, err)
	}
	reply.offline = offline.String
	reply.OfflineAfter = parseMillis(offline.String)
	reply.Lease = LeaseFor(reply.OfflineAfter)
	_, err = s.db.ExecContext(ctx, "UPDATE executors SET last_heartbeat = "+s.d.now+", clock_skew_ms = "+s.skewExpr()+
		", running_flows = ?, load1 = ?, lease_ms = ? WHERE id = ?", s.localTimeArg(hb.LocalTime), hb.RunningFlows, hb.Load1, reply.Lease.Milliseconds(), id)
	if err != nil {
		return reply, fmt.Errorf("heartbeat of executor %d: %w", id, err)
	}
	return reply, nil
}

// SetExecutorActive activates or deactivates an executor and records an event
// when the state changed. It is idempotent; changed reports whether it did
// anything.
func (s *Store) SetExecutorActive(ctx context.Context, id int64, active bool, actor string) (changed bool, err error) {
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE executors SET active = ? WHERE id = ? AND active <> ?", active, id, active)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return executorExists(ctx, tx, id)
		}
		changed = true
		typ, msg := EventActivated, "activated"
		if !active {
			typ, msg = EventDeactivated, "deactivated"
		}
		return s.addEvent(ctx, tx, id, typ, actor, msg)
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		err = fmt.Errorf("set executor %d active=%v: %w", id, active, err)
	}
	return changed, err
}

// SetSecretRefused records that the executor refused a web server's cluster
// secret (why: reason) and, when it had not been refused before, writes a
// SECRET_REFUSED event. It reports whether the state changed.
func (s *Store) SetSecretRefused(ctx context.Context, id int64, reason, actor string) (changed bool, err error) {
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE executors SET secret_refused_at = "+s.d.now+", secret_refused = ? WHERE id = ? AND secret_refused_at IS NULL", reason, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			changed = true
			return s.addEvent(ctx, tx, id, EventSecretRefused, actor, reason)
		}
		_, err = tx.ExecContext(ctx, "UPDATE executors SET secret_refused = ? WHERE id = ?", reason, id)
		return err
	})
	if err != nil {
		err = fmt.Errorf("record that executor %d refused the cluster secret: %w", id, err)
	}
	return changed, err
}

// ClearSecretRefused records that the executor accepted a web server's
// cluster secret; a SECRET_ACCEPTED event is written when it had been
// refused. It reports whether the state changed.
func (s *Store) ClearSecretRefused(ctx context.Context, id int64, actor string) (changed bool, err error) {
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE executors SET secret_refused_at = NULL, secret_refused = '' WHERE id = ? AND secret_refused_at IS NOT NULL", id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			changed = true
			return s.addEvent(ctx, tx, id, EventSecretAccepted, actor, "accepted the cluster secret")
		}
		return nil
	})
	if err != nil {
		err = fmt.Errorf("record that executor %d accepted the cluster secret: %w", id, err)
	}
	return changed, err
}

// MarkExecutorStopped records a clean shutdown: inactive, stopped_at set, a
// STOPPED event. It returns ErrNotFound, recording nothing, when the row is
// gone (the executor was removed while it ran).
func (s *Store) MarkExecutorStopped(ctx context.Context, id int64, actor, msg string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE executors SET active = ?, stopped_at = "+s.d.now+", running_flows = 0 WHERE id = ?", false, id)
		if err != nil {
			return fmt.Errorf("mark executor %d stopped: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			if err := executorExists(ctx, tx, id); err != nil {
				return err
			}
		}
		return s.addEvent(ctx, tx, id, EventStopped, actor, msg)
	})
}

// executorExists returns ErrNotFound when executor id has no row, reading
// inside tx.
func executorExists(ctx context.Context, tx *sql.Tx, id int64) error {
	var one int
	err := tx.QueryRowContext(ctx, "SELECT 1 FROM executors WHERE id = ?", id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("executor %d: %w", id, ErrNotFound)
	}
	return err
}

// ListExecutors returns every executor, ordered by id.
func (s *Store) ListExecutors(ctx context.Context) ([]*Executor, error) {
	return queryAll(ctx, s, "list executors", scanExecutor, "SELECT "+s.executorColumns()+" FROM executors ORDER BY id")
}

// GetExecutor returns one executor or ErrNotFound.
func (s *Store) GetExecutor(ctx context.Context, id int64) (*Executor, error) {
	e, err := scanExecutor(s.db.QueryRowContext(ctx, "SELECT "+s.executorColumns()+" FROM executors WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("executor %d: %w", id, ErrNotFound)
	}
	return e, err
}

// DeleteExecutor removes an executor that is stopped or whose heartbeat is
// older than offlineAfter; an online one gives ErrConflict.
func (s *Store) DeleteExecutor(ctx context.Context, id int64, offlineAfter time.Duration, actor string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		e, err := scanExecutor(tx.QueryRowContext(ctx, "SELECT "+s.executorColumns()+" FROM executors WHERE id = ?"+s.d.forUpdate, id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("executor %d: %w", id, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if e.Status(offlineAfter) == StatusOnline {
			return fmt.Errorf("executor %d (%s) is online; stop it first (SIGTERM, or scripts/shutdown-exec.sh) or wait until it is offline: %w", id, e.Addr(), ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM executors WHERE id = ?", id); err != nil {
			return fmt.Errorf("delete executor %d: %w", id, err)
		}
		return s.addEvent(ctx, tx, id, EventRemoved, actor, "removed "+e.Addr())
	})
}

// ExecutorEvents returns the newest events of one executor (all when id is 0).
func (s *Store) ExecutorEvents(ctx context.Context, id int64, limit int) ([]ExecutorEvent, error) {
	q := "SELECT id, executor_id, type, actor, message, created_at FROM executor_events"
	var args []any
	if id > 0 {
		q += " WHERE executor_id = ?"
		args = append(args, id)
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list executor events: %w", err)
	}
	defer rows.Close()
	var out []ExecutorEvent
	for rows.Next() {
		var ev ExecutorEvent
		var t nullTime
		if err := rows.Scan(&ev.ID, &ev.ExecutorID, &ev.Type, &ev.Actor, &ev.Message, &t); err != nil {
			return nil, err
		}
		ev.Time = t.t
		out = append(out, ev)
	}
	return out, rows.Err()
}

// ExecutorsWithLoad lists executors by id (the key of p) with RunningFlows
// set to the executions each holds (DISPATCHING, RUNNING or KILLING), as the
// database counts them, not as their heartbeats said.
func (s *Store) ExecutorsWithLoad(ctx context.Context, p Page) ([]*Executor, error) {
	after, err := p.idAfter()
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, "SELECT "+s.executorColumns()+" FROM executors WHERE id > ? ORDER BY id"+p.limitSQL(), after)
	if err != nil {
		return nil, err
	}
	var list []*Executor
	byID := map[int64]*Executor{}
	for rows.Next() {
		e, err := scanExecutor(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		e.RunningFlows = 0
		list = append(list, e)
		byID[e.ID] = e
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return list, nil
	}
	rows, err = s.db.QueryContext(ctx, "SELECT executor_id, COUNT(*) FROM executions WHERE status IN "+activeStatuses+" AND executor_id BETWEEN ? AND ? GROUP BY executor_id",
		list[0].ID, list[len(list)-1].ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		if e := byID[id]; e != nil {
			e.RunningFlows = n
		}
	}
	return list, rows.Err()
}
