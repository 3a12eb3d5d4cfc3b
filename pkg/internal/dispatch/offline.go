package dispatch

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

// offlineAlerts remembers the outages this web server already wrote an
// alert for (executor id and the heartbeat it went silent after), so an
// executor that stays offline is not looked at again every tick.
type offlineAlerts struct {
	mu   sync.Mutex
	done map[int64]time.Time
}

// alertOffline writes an EXECUTOR_LOST alert for every active executor of
// the view that went offline without stopping cleanly, idle ones included
// (the reaper writes it for those with flows, with the same key, so an
// outage gives one alert). Like the reaper, it judges nobody right after
// this web server's own database outage.
func (d *Dispatcher) alertOffline(ctx context.Context) {
	if d.db.reachableFor() < d.cfg.OfflineAfter {
		return
	}
	for _, e := range d.pool.offline(d.cfg.OfflineAfter) {
		d.offline.mu.Lock()
		seen := d.offline.done[e.ID].Equal(*e.LastHeartbeat)
		d.offline.mu.Unlock()
		if seen {
			continue
		}
		after := max(d.cfg.OfflineAfter, e.Lease*3/2)
		msg := fmt.Sprintf("executor lost: %s (%s) is offline: no heartbeat since %s", e.Name, e.Addr(), e.LastHeartbeat.UTC().Format(time.RFC3339))
		wrote, err := d.store.ExecutorOfflineAlert(ctx, e.ID, after, msg)
		if err != nil {
			if ctx.Err() == nil {
				d.log.Warn().Err(err).Int64("executor_id", e.ID).Msg("could not write the executor's offline alert; trying again")
			}
			continue
		}
		if wrote {
			d.log.Warn().Int64("executor_id", e.ID).Str("executor", e.Addr()).Msg("active executor offline: alert written")
		}
		d.offline.mu.Lock()
		d.offline.done[e.ID] = *e.LastHeartbeat
		d.offline.mu.Unlock()
	}
}

// offline returns copies of the active executors of the view that have
// heartbeated before, did not stop cleanly, and whose heartbeat is older
// than after (or their lease's 3/2, if longer).
func (p *Pool) offline(after time.Duration) []*store.Executor {
	p.mu.Lock()
	defer p.mu.Unlock()
	since := time.Since(p.loaded)
	var out []*store.Executor
	for i, e := range p.list {
		if !e.Active || e.Stopped || e.LastHeartbeat == nil || p.ages[i] < 0 {
			continue
		}
		if p.ages[i]+since >= max(after, e.Lease*3/2) {
			c := *e
			out = append(out, &c)
		}
	}
	return out
}
