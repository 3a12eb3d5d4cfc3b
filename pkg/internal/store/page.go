package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
)

// Page asks for part of a list: at most Limit rows (0: all of them) after
// the row whose key is After ("" = from the start), in the list's order.
// The key is the row's id, or its name for lists ordered by name.
type Page struct {
	After string
	Limit int
}

// ErrBadCursor is a Page.After that is not a key of the list.
var ErrBadCursor = errors.New("bad cursor")

// idAfter returns After as an id (0 when empty).
func (p Page) idAfter() (int64, error) {
	if p.After == "" {
		return 0, nil
	}
	id, err := strconv.ParseInt(p.After, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%w %q: want the id of the last row seen", ErrBadCursor, p.After)
	}
	return id, nil
}

// limitSQL is the LIMIT clause of p ("" for all rows).
func (p Page) limitSQL() string {
	if p.Limit <= 0 {
		return ""
	}
	return " LIMIT " + strconv.Itoa(p.Limit)
}

// queryAll runs q and scans every row it returns with scan; what names the
// list in errors. None is an empty slice, not nil.
func queryAll[T any](ctx context.Context, s *Store, what string, scan func(scanner) (T, error), q string, args ...any) ([]T, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}
