package store

// Reading the job output executors stored.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// ReadLog returns up to length bytes of a job's log (job "" is the flow log)
// from offset, for the execution's current attempt, and the offset after them.
func (s *Store) ReadLog(ctx context.Context, execID int64, job string, offset int64, length int) ([]byte, int64, error) {
	var attempt int
	if err := s.db.QueryRowContext(ctx, "SELECT attempt FROM executions WHERE id = ?", execID).Scan(&attempt); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, offset, fmt.Errorf("execution %d: %w", execID, ErrNotFound)
		}
		return nil, offset, err
	}
	if length <= 0 {
		length = 1 << 20
	}
	rows, err := s.db.QueryContext(ctx, "SELECT start_offset, data FROM execution_logs WHERE execution_id = ? AND exec_attempt = ? AND job = ? AND start_offset + LENGTH(data) > ? ORDER BY start_offset LIMIT 256",
		execID, attempt, job, offset)
	if err != nil {
		return nil, offset, fmt.Errorf("read log of execution %d: %w", execID, err)
	}
	defer rows.Close()
	var out []byte
	next := offset
	for rows.Next() && len(out) < length {
		var start int64
		var data []byte
		if err := rows.Scan(&start, &data); err != nil {
			return nil, offset, err
		}
		if start > next { // a gap: chunks arrive in order, so stop at it
			break
		}
		data = data[next-start:]
		if room := length - len(out); len(data) > room {
			data = data[:room]
		}
		out = append(out, data...)
		next += int64(len(data))
	}
	return out, next, rows.Err()
}
