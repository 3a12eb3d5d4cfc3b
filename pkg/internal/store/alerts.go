package store

// The alert outbox: alerts written in the transaction of the state change
// that causes them, and claimed, retried and finished by web servers.

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Alert kinds: an execution's final status, or an executor lost with flows.
const (
	AlertFailed       = "FAILED"
	AlertKilled       = "KILLED"
	AlertSucceeded    = "SUCCEEDED"
	AlertExecutorLost = "EXECUTOR_LOST"
)

// Alert statuses.
const (
	AlertPending = "PENDING"
	AlertSent    = "SENT"
	AlertGaveUp  = "FAILED"
)

// Alert is one row of the outbox.
type Alert struct {
	ID          int64
	Kind        string
	ExecutionID int64 // 0 for an executor alert
	ExecutorID  int64 // the executor it ran on or that was lost (0: none)
	Status      string
	Message     string
	Attempts    int
	// Done lists the channels that took it already.
	Done      []string
	ClaimedBy string
	NextTry   time.Time
	LastError string
	CreatedAt time.Time
	// Age is how long ago it was written (database clock).
	Age        time.Duration
	FinishedAt *time.Time
	// Token is the claim this copy holds (ClaimAlerts sets it).
	Token string
}

// enqueueEnded writes, inside tx, the alert of execution id if its status
// is final: always for FAILED and KILLED, for SUCCEEDED only when it has
// success recipients. An execution ends once, so its key makes a second
// write (there is none) a no-op.
func (s *Store) enqueueEnded(ctx context.Context, tx *sql.Tx, id int64) error {
	var status, successEmails, errText string
	var executor sql.NullInt64
	err := tx.QueryRowContext(ctx, "SELECT status, success_emails, error, executor_id FROM executions WHERE id = ?", id).Scan(&status, &successEmails, &errText, &executor)
	if err != nil {
		return fmt.Errorf("read execution %d for its alert: %w", id, err)
	}
	switch {
	case status == ExecFailed, status == ExecKilled:
	case status == ExecSucceeded && successEmails != "":
	default:
		return nil
	}
	_, err = s.insertAlert(ctx, tx, "execution/"+strconv.FormatInt(id, 10), status, id, executor.Int64, errText)
	return err
}

// insertAlert writes an alert unless one with its key exists; it reports
// whether it wrote one.
func (s *Store) insertAlert(ctx context.Context, tx *sql.Tx, key, kind string, execID, executorID int64, msg string) (bool, error) {
	res, err := tx.ExecContext(ctx, s.d.insertIgnore+" alerts (dedupe_key, kind, execution_id, executor_id, status, message, next_try, created_at) VALUES (?, ?, ?, ?, 'PENDING', ?, "+s.d.now+", "+s.d.now+")",
		key, kind, nullID(execID), nullID(executorID), clip(msg, MaxText))
	if err != nil {
		return false, fmt.Errorf("write %s alert: %w", kind, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// lostAlert writes, inside tx, the alert of an executor lost with running
// flows; one loss (one last heartbeat) gives one alert whichever web
// servers reap it.
func (s *Store) lostAlert(ctx context.Context, tx *sql.Tx, executorID int64, msg string) (bool, error) {
	var beat nullTime
	if err := tx.QueryRowContext(ctx, "SELECT last_heartbeat FROM executors WHERE id = ?", executorID).Scan(&beat); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil // removed: its executions' alerts say it
		}
		return false, err
	}
	key := fmt.Sprintf("lost/%d/%d", executorID, beat.t.UnixMicro())
	return s.insertAlert(ctx, tx, key, AlertExecutorLost, 0, executorID, msg)
}

const alertColumns = "id, kind, COALESCE(execution_id, 0), COALESCE(executor_id, 0), status, message, attempts, done_channels, claimed_by, next_try, COALESCE(last_error, ''), created_at, finished_at"

func (s *Store) scanAlert(r scanner) (*Alert, error) {
	var a Alert
	var done string
	var next, created, finished nullTime
	var ageMs int64
	if err := r.Scan(&a.ID, &a.Kind, &a.ExecutionID, &a.ExecutorID, &a.Status, &a.Message, &a.Attempts, &done, &a.ClaimedBy,
		&next, &a.LastError, &created, &finished, &ageMs); err != nil {
		return nil, err
	}
	a.Done = splitList(done)
	a.NextTry, a.CreatedAt, a.FinishedAt = next.t, created.t, finished.ptr()
	a.Age = time.Duration(ageMs) * time.Millisecond
	return &a, nil
}

func (s *Store) alertSelect() string {
	return "SELECT " + alertColumns + ", " + s.d.msSince("created_at") + " FROM alerts"
}

// AlertFilter narrows ListAlerts.
type AlertFilter struct {
	Status string
	// Before, when set, lists only alerts older than this id.
	Before int64
	Limit  int
}

// ListAlerts returns alerts, newest first.
func (s *Store) ListAlerts(ctx context.Context, f AlertFilter) ([]*Alert, error) {
	q := s.alertSelect() + " WHERE 1 = 1"
	var args []any
	if f.Status != "" {
		q += " AND status = ?"
		args = append(args, strings.ToUpper(f.Status))
	}
	if f.Before > 0 {
		q += " AND id < ?"
		args = append(args, f.Before)
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, f.Limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	defer rows.Close()
	out := []*Alert{}
	for rows.Next() {
		a, err := s.scanAlert(rows)
		if err != nil {
			return nil, fmt.Errorf("list alerts: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// AlertAttempt is one delivery attempt of an alert to one channel.
type AlertAttempt struct {
	Channel string
	OK      bool
	Error   string
	Server  string
	At      time.Time
}

// AlertAttempts returns the delivery attempts of an alert, oldest first.
func (s *Store) AlertAttempts(ctx context.Context, id int64) ([]AlertAttempt, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT channel, ok, COALESCE(error, ''), server, at FROM alert_attempts WHERE alert_id = ? ORDER BY id", id)
	if err != nil {
		return nil, fmt.Errorf("alert %d attempts: %w", id, err)
	}
	defer rows.Close()
	out := []AlertAttempt{}
	for rows.Next() {
		var a AlertAttempt
		var at nullTime
		if err := rows.Scan(&a.Channel, &a.OK, &a.Error, &a.Server, &at); err != nil {
			return nil, err
		}
		a.At = at.t
		out = append(out, a)
	}
	return out, rows.Err()
}

// ClaimAlerts claims up to limit due PENDING alerts for server for lease:
// each by a conditional update, so of several web servers claiming at once
// exactly one gets each alert. A claim whose lease ran out (its web server
// died mid-delivery) may be taken again. Every claim counts an attempt.
func (s *Store) ClaimAlerts(ctx context.Context, server string, lease time.Duration, limit int) ([]*Alert, error) {
	ids, err := s.queryIDs(ctx, "SELECT id FROM alerts WHERE status = 'PENDING' AND next_try <= "+s.d.now+
		" AND (lease_until IS NULL OR lease_until < "+s.d.now+") ORDER BY next_try, id LIMIT ?", limit)
	if err != nil {
		return nil, fmt.Errorf("due alerts: %w", err)
	}
	var out []*Alert
	for _, id := range ids {
		token := server + "/" + nonce()
		res, err := s.db.ExecContext(ctx, "UPDATE alerts SET claimed_by = ?, lease_until = "+s.d.nowPlus+", attempts = attempts + 1 WHERE id = ? AND status = 'PENDING' AND next_try <= "+s.d.now+
			" AND (lease_until IS NULL OR lease_until < "+s.d.now+")", token, s.d.nowPlusArg(lease), id)
		if err != nil {
			return out, fmt.Errorf("claim alert %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			continue // another web server has it
		}
		a, err := s.scanAlert(s.db.QueryRowContext(ctx, s.alertSelect()+" WHERE id = ?", id))
		if err != nil {
			return out, fmt.Errorf("read alert %d: %w", id, err)
		}
		a.Token = token
		out = append(out, a)
	}
	return out, nil
}

func nonce() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ErrAlertLost means the claim of an alert is no longer held (its lease ran
// out and another web server claimed it).
var ErrAlertLost = errors.New("alert claim lost")

// AlertDelivered records one delivery attempt of claimed alert a to
// channel; when ok, the channel joins a's done channels, so no retry sends
// to it again. It returns ErrAlertLost when a's claim is no longer held.
func (s *Store) AlertDelivered(ctx context.Context, a *Alert, channel string, ok bool, errText string) error {
	server, _, _ := strings.Cut(a.Token, "/")
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if ok {
			done := a.Done
			if !slices.Contains(done, channel) {
				done = append(slices.Clone(done), channel)
			}
			res, err := tx.ExecContext(ctx, "UPDATE alerts SET done_channels = ? WHERE id = ? AND claimed_by = ? AND status = 'PENDING'", strings.Join(done, ","), a.ID, a.Token)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return fmt.Errorf("alert %d: %w", a.ID, ErrAlertLost)
			}
			a.Done = done
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO alert_attempts (alert_id, channel, ok, error, server, at) VALUES (?, ?, ?, ?, ?, "+s.d.now+")",
			a.ID, channel, ok, clip(errText, MaxText), server)
		return err
	})
}

// FinishAlert ends the claim of a: SENT when errText is "", otherwise back
// to PENDING until retryIn has passed, or FAILED for good when giveUp.
func (s *Store) FinishAlert(ctx context.Context, a *Alert, errText string, retryIn time.Duration, giveUp bool) error {
	var res sql.Result
	var err error
	where := " WHERE id = ? AND claimed_by = ? AND status = 'PENDING'"
	switch {
	case errText == "":
		res, err = s.db.ExecContext(ctx, "UPDATE alerts SET status = 'SENT', lease_until = NULL, last_error = NULL, finished_at = "+s.d.now+where, a.ID, a.Token)
	case giveUp:
		res, err = s.db.ExecContext(ctx, "UPDATE alerts SET status = 'FAILED', lease_until = NULL, last_error = ?, finished_at = "+s.d.now+where, clip(errText, MaxText), a.ID, a.Token)
	default:
		res, err = s.db.ExecContext(ctx, "UPDATE alerts SET lease_until = NULL, last_error = ?, next_try = "+s.d.nowPlus+where, clip(errText, MaxText), s.d.nowPlusArg(retryIn), a.ID, a.Token)
	}
	if err != nil {
		return fmt.Errorf("finish alert %d: %w", a.ID, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("alert %d: %w", a.ID, ErrAlertLost)
	}
	return nil
}

// LogTail returns the last n bytes (at most) of a job's log in the
// execution's current attempt (job "" is the flow log).
func (s *Store) LogTail(ctx context.Context, execID int64, job string, n int) ([]byte, error) {
	var size sql.NullInt64
	err := s.db.QueryRowContext(ctx, "SELECT MAX(l.start_offset + LENGTH(l.data)) FROM execution_logs l JOIN executions e ON e.id = l.execution_id AND e.attempt = l.exec_attempt WHERE l.execution_id = ? AND l.job = ?",
		execID, job).Scan(&size)
	if err != nil {
		return nil, fmt.Errorf("log size of execution %d: %w", execID, err)
	}
	if !size.Valid || size.Int64 == 0 {
		return nil, nil
	}
	b, _, err := s.ReadLog(ctx, execID, job, max(size.Int64-int64(n), 0), n)
	return b, err
}

// ExecutorOfflineAlert writes the EXECUTOR_LOST alert of an active
// executor whose last heartbeat (database clock) is older than
// offlineAfter and that did not stop cleanly. Its key is the executor and
// that heartbeat, so one outage gives one alert, whether it is found here
// (an idle executor) or by the reaper taking its flows back, and by however
// many web servers. It reports whether it wrote one.
func (s *Store) ExecutorOfflineAlert(ctx context.Context, executorID int64, offlineAfter time.Duration, msg string) (bool, error) {
	wrote := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		wrote = false
		var ageMs sql.NullInt64
		var active, stopped bool
		err := tx.QueryRowContext(ctx, "SELECT active, "+s.d.msSince("last_heartbeat")+", CASE WHEN stopped_at IS NOT NULL AND (started_at IS NULL OR stopped_at >= started_at) THEN 1 ELSE 0 END FROM executors WHERE id = ?",
			executorID).Scan(&active, &ageMs, &stopped)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if !active || stopped || !ageMs.Valid || time.Duration(ageMs.Int64)*time.Millisecond < offlineAfter {
			return nil
		}
		wrote, err = s.lostAlert(ctx, tx, executorID, msg)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("offline alert of executor %d: %w", executorID, err)
	}
	return wrote, nil
}
