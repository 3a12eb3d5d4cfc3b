package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// User is one row of users (without its password hash).
type User struct {
	ID        int64
	Name      string
	Role      string
	CreatedAt time.Time
}

// Token describes an API token; the token itself is never stored, only its
// SHA-256 hash, and is shown once when created.
type Token struct {
	ID        int64
	User      string
	Name      string
	Prefix    string
	CreatedAt time.Time
	ExpiresAt *time.Time
	RevokedAt *time.Time
}

// AddUser creates a user; ErrConflict if the name is taken. The unique key
// on the name decides, so of concurrent adds of one name exactly one wins.
func (s *Store) AddUser(ctx context.Context, name, role, passwordHash string) (*User, error) {
	if _, err := s.db.ExecContext(ctx, "INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, "+s.d.now+")", name, role, passwordHash); err != nil {
		if isDuplicate(err) {
			return nil, fmt.Errorf("user %q already exists: %w", name, ErrConflict)
		}
		return nil, fmt.Errorf("add user %q: %w", name, err)
	}
	return s.GetUser(ctx, name)
}

// GetUser returns a user by name, or ErrNotFound.
func (s *Store) GetUser(ctx context.Context, name string) (*User, error) {
	u, _, err := s.userWithHash(ctx, name)
	return u, err
}

// UserPasswordHash returns a user and the hash to check a password against.
func (s *Store) UserPasswordHash(ctx context.Context, name string) (*User, string, error) {
	return s.userWithHash(ctx, name)
}

func (s *Store) userWithHash(ctx context.Context, name string) (*User, string, error) {
	var u User
	var hash string
	var c nullTime
	err := s.db.QueryRowContext(ctx, "SELECT id, name, role, password_hash, created_at FROM users WHERE name = ?", name).Scan(&u.ID, &u.Name, &u.Role, &hash, &c)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", fmt.Errorf("user %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, "", fmt.Errorf("get user %q: %w", name, err)
	}
	u.CreatedAt = c.t
	return &u, hash, nil
}

// ListUsers returns users by name (the key of p).
func (s *Store) ListUsers(ctx context.Context, p Page) ([]User, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT id, name, role, created_at FROM users WHERE name > ? ORDER BY name"+p.limitSQL(), p.After)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	out := []User{}
	for rows.Next() {
		var u User
		var c nullTime
		if err := rows.Scan(&u.ID, &u.Name, &u.Role, &c); err != nil {
			return nil, err
		}
		u.CreatedAt = c.t
		out = append(out, u)
	}
	return out, rows.Err()
}

// CountUsers returns how many users exist.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM users").Scan(&n)
	return n, err
}

// SetPasswordHash changes a user's password.
func (s *Store) SetPasswordHash(ctx context.Context, name, hash string) error {
	res, err := s.db.ExecContext(ctx, "UPDATE users SET password_hash = ? WHERE name = ?", hash, name)
	if err != nil {
		return fmt.Errorf("set password of %q: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := s.GetUser(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

// DeleteUser removes a user and revokes its tokens.
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	defer s.tokens.forget()
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var id int64
		err := tx.QueryRowContext(ctx, "SELECT id FROM users WHERE name = ?", name).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("user %q: %w", name, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE api_tokens SET revoked_at = "+s.d.now+" WHERE user_id = ? AND revoked_at IS NULL", id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "DELETE FROM users WHERE id = ?", id)
		return err
	})
}

// AddToken stores the hash of a new token of user; expires zero = never. It
// returns ErrNotFound when there is no such user (the insert reads the user
// itself, so a user deleted meanwhile gets no token) and ErrConflict when a
// token with this hash exists.
func (s *Store) AddToken(ctx context.Context, user, name, hash, prefix string, expires time.Time) (*Token, error) {
	res, err := s.db.ExecContext(ctx, "INSERT INTO api_tokens (user_id, name, token_hash, prefix, created_at, expires_at) SELECT id, ?, ?, ?, "+s.d.now+", ? FROM users WHERE name = ?",
		name, hash, prefix, dbTimeArg(expires), user)
	if isDuplicate(err) {
		return nil, fmt.Errorf("a token with this hash exists: %w", ErrConflict)
	}
	if err != nil {
		return nil, fmt.Errorf("add token: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, fmt.Errorf("user %q: %w", user, ErrNotFound)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return nil, err
	}
	list, err := s.listTokens(ctx, "t.id = ?", id)
	if err != nil {
		return nil, fmt.Errorf("read new token: %w", err)
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("token of user %q (deleted meanwhile): %w", user, ErrNotFound)
	}
	return &list[0], nil
}

// ListTokens lists the tokens of user ("" = everyone's) by id.
func (s *Store) ListTokens(ctx context.Context, user string, p Page) ([]Token, error) {
	after, err := p.idAfter()
	if err != nil {
		return nil, err
	}
	if user == "" {
		return s.listTokens(ctx, "t.id > ?"+" ORDER BY t.id"+p.limitSQL(), after)
	}
	return s.listTokens(ctx, "t.id > ? AND u.name = ?"+" ORDER BY t.id"+p.limitSQL(), after, user)
}

func (s *Store) listTokens(ctx context.Context, where string, args ...any) ([]Token, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT t.id, u.name, t.name, t.prefix, t.created_at, t.expires_at, t.revoked_at FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE "+where, args...)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	out := []Token{}
	for rows.Next() {
		var t Token
		var c, e, r nullTime
		if err := rows.Scan(&t.ID, &t.User, &t.Name, &t.Prefix, &c, &e, &r); err != nil {
			return nil, err
		}
		t.CreatedAt, t.ExpiresAt, t.RevokedAt = c.t, e.ptr(), r.ptr()
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken revokes a token by id; only its owner's when user != "".
func (s *Store) RevokeToken(ctx context.Context, id int64, user string) error {
	defer s.tokens.forget()
	q := "UPDATE api_tokens SET revoked_at = " + s.d.now + " WHERE id = ? AND revoked_at IS NULL"
	args := []any{id}
	if user != "" {
		q += " AND user_id = (SELECT id FROM users WHERE name = ?)"
		args = append(args, user)
	}
	res, err := s.db.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("revoke token %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("token %d (not yours, or already revoked): %w", id, ErrNotFound)
	}
	return nil
}

// RevokeTokenHash revokes the token with this hash (a logout: the caller
// holds the token itself, not its id). Revoking a revoked or unknown token
// is no error.
func (s *Store) RevokeTokenHash(ctx context.Context, hash string) error {
	defer s.tokens.forget()
	if _, err := s.db.ExecContext(ctx, "UPDATE api_tokens SET revoked_at = "+s.d.now+" WHERE token_hash = ? AND revoked_at IS NULL", hash); err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	return nil
}

// TokenUser returns the user owning the token with this hash if the token is
// neither revoked nor expired (by the database clock). An answer is kept for
// up to TokenCacheTTL (never past the token's expiry); revoking a token or
// deleting a user through this Store drops what it kept.
func (s *Store) TokenUser(ctx context.Context, hash string) (*User, error) {
	if u, ok := s.tokens.get(hash); ok {
		return u, nil
	}
	var u User
	var c, exp nullTime
	err := s.db.QueryRowContext(ctx, "SELECT u.id, u.name, u.role, u.created_at, t.expires_at FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ? AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > "+s.d.now+")", hash).
		Scan(&u.ID, &u.Name, &u.Role, &c, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("check token: %w", err)
	}
	u.CreatedAt = c.t
	var expires *time.Time
	if !exp.t.IsZero() {
		expires = &exp.t
	}
	s.tokens.put(hash, &u, expires)
	return &u, nil
}
