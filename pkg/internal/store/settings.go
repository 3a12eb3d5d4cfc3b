package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Cluster settings every daemon must agree on.
const settingOfflineAfter = "offline_after_ms"

// SetOfflineAfter records the cluster's offline threshold: web servers reap
// by it and executors size their lease from it.
func (s *Store) SetOfflineAfter(ctx context.Context, d time.Duration) error {
	_, err := s.db.ExecContext(ctx, s.d.upsertSetting, settingOfflineAfter, strconv.FormatInt(d.Milliseconds(), 10))
	if err != nil {
		return fmt.Errorf("record the offline threshold: %w", err)
	}
	return nil
}

// OfflineAfter returns the cluster's offline threshold, or 0 when no web
// server has recorded one yet.
func (s *Store) OfflineAfter(ctx context.Context) (time.Duration, error) {
	var v string
	err := s.db.QueryRowContext(ctx, "SELECT value FROM cluster_settings WHERE name = ?", settingOfflineAfter).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read the offline threshold: %w", err)
	}
	return parseMillis(v), nil
}

func parseMillis(v string) time.Duration {
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms < 0 {
		return 0
	}
	return time.Duration(ms) * time.Millisecond
}
