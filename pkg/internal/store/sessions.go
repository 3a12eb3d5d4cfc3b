package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// SessionTouchEvery is how stale a session's last use may get before a
// request writes it again: the idle expiry slides without a write on every
// request.
const SessionTouchEvery = time.Minute

// AddSession stores the hash of a new web session of user (Azkaban's
// session.id), used now. ErrNotFound when there is no such user; the insert
// reads the user itself, so a user deleted meanwhile gets no session.
func (s *Store) AddSession(ctx context.Context, user, hash, remote string) error {
	res, err := s.db.ExecContext(ctx, "INSERT INTO web_sessions (session_hash, user_id, remote, created_at, last_used) SELECT ?, id, ?, "+s.d.now+", "+s.d.now+" FROM users WHERE name = ?",
		hash, remote, user)
	if isDuplicate(err) {
		return fmt.Errorf("a session with this hash exists: %w", ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("add session: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("user %q: %w", user, ErrNotFound)
	}
	return nil
}

// SessionUser returns the user of the session with this hash when it was
// used within idle (by the database clock), and marks it used now if its
// last use is older than SessionTouchEvery. ErrNotFound for an unknown or
// expired session, or one whose user was deleted.
func (s *Store) SessionUser(ctx context.Context, hash string, idle time.Duration) (*User, error) {
	var u User
	var c nullTime
	var id, sinceMS int64
	err := s.db.QueryRowContext(ctx, "SELECT w.id, "+s.d.msSince("w.last_used")+", u.id, u.name, u.role, u.created_at FROM web_sessions w JOIN users u ON u.id = w.user_id WHERE w.session_hash = ? AND w.last_used > "+s.d.nowPlus,
		hash, s.d.nowPlusArg(-idle)).Scan(&id, &sinceMS, &u.ID, &u.Name, &u.Role, &c)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("check session: %w", err)
	}
	u.CreatedAt = c.t
	if time.Duration(sinceMS)*time.Millisecond >= SessionTouchEvery {
		if _, err := s.db.ExecContext(ctx, "UPDATE web_sessions SET last_used = "+s.d.now+" WHERE id = ?", id); err != nil {
			return nil, fmt.Errorf("touch session: %w", err)
		}
	}
	return &u, nil
}

// DeleteIdleSessions removes the sessions not used within idle and returns
// how many it removed.
func (s *Store) DeleteIdleSessions(ctx context.Context, idle time.Duration) (int64, error) {
	res, err := s.db.ExecContext(ctx, "DELETE FROM web_sessions WHERE last_used <= "+s.d.nowPlus, s.d.nowPlusArg(-idle))
	if err != nil {
		return 0, fmt.Errorf("delete idle sessions: %w", err)
	}
	return res.RowsAffected()
}
