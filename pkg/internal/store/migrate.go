package store

import (
	"context"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"

	"github.com/crawlctl/crawlctl/migrations"
)

// MigrationState is where a database stands against this binary's schema.
type MigrationState struct {
	Current int64
	Latest  int64
	Pending []MigrationInfo
}

// MigrationInfo names one migration.
type MigrationInfo struct {
	Version int64
	Source  string
}

func (s *Store) provider() (*goose.Provider, error) {
	dir, gd := "mysql", goose.DialectMySQL
	if s.d.name == "sqlite" {
		dir, gd = "sqlite", goose.DialectSQLite3
	}
	sub, err := fs.Sub(migrations.FS, dir)
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(gd, s.db, sub)
}

// Migrate applies every pending migration and returns the versions applied.
func (s *Store) Migrate(ctx context.Context) ([]MigrationInfo, error) {
	p, err := s.provider()
	if err != nil {
		return nil, err
	}
	res, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate %s: %w", s.redacted, err)
	}
	var out []MigrationInfo
	for _, r := range res {
		out = append(out, MigrationInfo{Version: r.Source.Version, Source: r.Source.Path})
	}
	return out, nil
}

// MigrationStatus reports the current and latest schema versions.
func (s *Store) MigrationStatus(ctx context.Context) (MigrationState, error) {
	p, err := s.provider()
	if err != nil {
		return MigrationState{}, err
	}
	var st MigrationState
	srcs := p.ListSources()
	if len(srcs) > 0 {
		st.Latest = srcs[len(srcs)-1].Version
	}
	statuses, err := p.Status(ctx)
	if err != nil {
		return st, fmt.Errorf("read schema version of %s: %w", s.redacted, err)
	}
	for _, ms := range statuses {
		if ms.State == goose.StateApplied {
			if ms.Source.Version > st.Current {
				st.Current = ms.Source.Version
			}
		} else {
			st.Pending = append(st.Pending, MigrationInfo{Version: ms.Source.Version, Source: ms.Source.Path})
		}
	}
	return st, nil
}

// CheckSchema returns ErrSchemaOutdated unless every migration is applied.
func (s *Store) CheckSchema(ctx context.Context) error {
	st, err := s.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	if len(st.Pending) > 0 {
		return fmt.Errorf("%s is at schema version %d, this binary needs %d: %w", s.redacted, st.Current, st.Latest, ErrSchemaOutdated)
	}
	return nil
}
