package store

// Executor labels changed on a running executor.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/crawlctl/crawlctl/pkg/internal/labels"
)

// EventLabeled records a change of an executor's labels.
const EventLabeled = "LABELED"

// SetExecutorLabels sets the labels in set and removes those named in
// remove, in one transaction with a LABELED event when they changed. The
// change holds until the executor restarts: registration writes the
// executor's own --label flags again. It returns the labels now.
func (s *Store) SetExecutorLabels(ctx context.Context, id int64, set map[string]string, remove []string, actor string) (map[string]string, error) {
	var now map[string]string
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var raw string
		err := tx.QueryRowContext(ctx, "SELECT labels FROM executors WHERE id = ?"+s.d.forUpdate, id).Scan(&raw)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("executor %d: %w", id, ErrNotFound)
		}
		if err != nil {
			return err
		}
		old := map[string]string{}
		if raw != "" {
			_ = json.Unmarshal([]byte(raw), &old)
		}
		now = maps.Clone(old)
		for _, k := range remove {
			delete(now, k)
		}
		maps.Copy(now, set)
		if maps.Equal(old, now) {
			return nil
		}
		if j := labelsJSON(now); len(j) > MaxText {
			return fmt.Errorf("labels take %d bytes as JSON; the limit is %d: %w", len(j), MaxText, ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE executors SET labels = ? WHERE id = ?", labelsJSON(now), id); err != nil {
			return err
		}
		return s.addEvent(ctx, tx, id, EventLabeled, actor, labelChange(old, now))
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		err = fmt.Errorf("set labels of executor %d: %w", id, err)
	}
	return now, err
}

// labelChange says what changed: "labels region=eu,gpu=true (were region=us)".
func labelChange(old, now map[string]string) string {
	was := labels.String(old)
	if was == "" {
		was = "none"
	}
	is := labels.String(now)
	if is == "" {
		is = "none"
	}
	return strings.TrimSpace(fmt.Sprintf("labels %s (were %s)", is, was))
}
