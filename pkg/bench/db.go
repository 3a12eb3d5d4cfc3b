package bench

import (
	"context"

	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/store/benchdb"
)

// db is the benchmark's view of its database: the daemons' store and the
// benchmark's own statements (store/benchdb).
type db struct {
	*store.Store
	*benchdb.DB
}

func openDB(ctx context.Context, dsn string) (db, error) {
	st, err := store.Open(ctx, dsn)
	if err != nil {
		return db{}, err
	}
	b, err := benchdb.OpenSession(ctx, dsn)
	if err != nil {
		st.Close()
		return db{}, err
	}
	return db{st, b}, nil
}

func (d db) close() {
	d.Store.Close()
	d.DB.Close()
}
