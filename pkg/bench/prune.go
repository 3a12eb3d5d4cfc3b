package bench

import (
	"context"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

// soakRetention is what the soak prunes with: the web servers' defaults.
var soakRetention = store.Retention{Executions: 90 * 24 * time.Hour, Logs: 30 * 24 * time.Hour, Events: 90 * 24 * time.Hour, Versions: 20}

// pruneWith prunes st's database as a web server does, in the same
// bounded batches.
func pruneWith(st db) pruneFunc {
	return func(ctx context.Context) (int64, error) {
		rep, err := st.Store.Prune(ctx, soakRetention, false)
		return rep.Total(), err
	}
}
