package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
	"unicode/utf8"
)

// Column sizes of login_failures.
const (
	maxRemoteLen = 64
	maxUserLen   = 255
)

// loginKey clips a remote address and a user name to their columns: a
// longer name than any user can have still counts, as its prefix.
func loginKey(remote, user string) (string, string) {
	return clip(remote, maxRemoteLen), clip(user, maxUserLen)
}

// clip cuts s to at most n bytes, at a character boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// RecentLoginFailures returns how long ago (database clock) each failed
// login of user from remote within the last window happened, oldest first.
// Every web server sees the same failures.
func (s *Store) RecentLoginFailures(ctx context.Context, remote, user string, window time.Duration) ([]time.Duration, error) {
	remote, user = loginKey(remote, user)
	rows, err := s.db.QueryContext(ctx, "SELECT "+s.d.msSince("failed_at")+" FROM login_failures WHERE remote = ? AND user_name = ? AND failed_at > "+s.d.nowPlus+" ORDER BY failed_at",
		remote, user, s.d.nowPlusArg(-window))
	if err != nil {
		return nil, fmt.Errorf("read failed logins: %w", err)
	}
	defer rows.Close()
	var ages []time.Duration
	for rows.Next() {
		var ms int64
		if err := rows.Scan(&ms); err != nil {
			return nil, fmt.Errorf("read failed logins: %w", err)
		}
		ages = append(ages, time.Duration(ms)*time.Millisecond)
	}
	return ages, rows.Err()
}

// AddLoginFailure records a failed login of user from remote, now by the
// database clock, and forgets every failure (of anyone) older than window.
func (s *Store) AddLoginFailure(ctx context.Context, remote, user string, window time.Duration) error {
	remote, user = loginKey(remote, user)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM login_failures WHERE failed_at <= "+s.d.nowPlus, s.d.nowPlusArg(-window)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO login_failures (remote, user_name, failed_at) VALUES (?, ?, "+s.d.now+")", remote, user)
		return err
	})
	if err != nil {
		return fmt.Errorf("record failed login: %w", err)
	}
	return nil
}

// ClearLoginFailures forgets the failed logins of user from remote (after
// a successful one).
func (s *Store) ClearLoginFailures(ctx context.Context, remote, user string) error {
	remote, user = loginKey(remote, user)
	if _, err := s.db.ExecContext(ctx, "DELETE FROM login_failures WHERE remote = ? AND user_name = ?", remote, user); err != nil {
		return fmt.Errorf("clear failed logins: %w", err)
	}
	return nil
}
