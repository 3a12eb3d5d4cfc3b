// Package retention is the web server's prune loop: every so often it asks
// the store to delete what the retention settings say is old (store.Prune)
// and logs what went. `crawlctl web serve` and `crawlctl solo` run it; every
// web server may, since Prune shares the work through the database.
package retention

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/rs/zerolog"

	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

// Run prunes with r every interval (each wait drawn from 80-120% of it, so
// that web servers started together do not prune together), the first time
// after one such wait, until ctx ends. An interval of 0 prunes never.
func Run(ctx context.Context, st *store.Store, r store.Retention, every time.Duration, log zerolog.Logger) {
	if every <= 0 {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(jitter(every)):
			Once(ctx, st, r, log)
		}
	}
}

// Once prunes with r and logs the result: at info level what was deleted,
// when something was; a failure as a warning.
func Once(ctx context.Context, st *store.Store, r store.Retention, log zerolog.Logger) {
	start := time.Now()
	rep, err := st.Prune(ctx, r, false)
	if err != nil && (ctx.Err() == nil || !errors.Is(err, ctx.Err())) {
		log.Warn().Err(err).Msg("prune failed; the next one goes on from where it stopped")
	}
	if rep.Total() == 0 {
		return
	}
	ev := log.Info().Int64("rows", rep.Total()).Dur("took", time.Since(start))
	for _, table := range store.PruneTables {
		if n := rep.Rows[table]; n > 0 {
			ev = ev.Int64(table, n)
		}
	}
	ev.Msg("pruned old rows")
}

// jitter returns d give or take 20%.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}
