package webserver

import (
	"context"
	"sync"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

// watchPace is how often a web server reads the statuses of the executions
// its clients wait on, while any client waits.
const watchPace = 10 * time.Millisecond

// statusWatch tells waiting requests (long polls) when an execution's
// status is no longer the one they saw. One goroutine per web server reads
// the statuses of every execution waited on in one statement every
// watchPace, however many clients wait; it runs only while someone waits.
type statusWatch struct {
	st *store.Store

	mu      sync.Mutex
	waiters map[*waiter]struct{}
	running bool
}

type waiter struct {
	id      int64
	seen    string
	changed chan struct{}
}

// wait returns once execution id's status is no longer seen (true), or
// when d has passed or ctx ended (false).
func (w *statusWatch) wait(ctx context.Context, id int64, seen string, d time.Duration) bool {
	wt := &waiter{id: id, seen: seen, changed: make(chan struct{})}
	w.mu.Lock()
	if w.waiters == nil {
		w.waiters = map[*waiter]struct{}{}
	}
	w.waiters[wt] = struct{}{}
	if !w.running {
		w.running = true
		go w.loop()
	}
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		delete(w.waiters, wt)
		w.mu.Unlock()
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-wt.changed:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

func (w *statusWatch) loop() {
	t := time.NewTicker(watchPace)
	defer t.Stop()
	for {
		w.mu.Lock()
		if len(w.waiters) == 0 {
			w.running = false
			w.mu.Unlock()
			return
		}
		seen := map[int64]bool{}
		var ids []int64
		for wt := range w.waiters {
			if !seen[wt.id] {
				seen[wt.id] = true
				ids = append(ids, wt.id)
			}
		}
		w.mu.Unlock()

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		statuses, err := w.st.ExecutionStatuses(ctx, ids)
		cancel()
		if err == nil {
			// A failed read changes nothing: the waiters' deadlines bound them.
			w.mu.Lock()
			for wt := range w.waiters {
				if !seen[wt.id] {
					continue // came in after the read
				}
				// Gone (deleted) counts as changed.
				if st, ok := statuses[wt.id]; !ok || st != wt.seen {
					close(wt.changed)
					delete(w.waiters, wt)
				}
			}
			w.mu.Unlock()
		}
		<-t.C
	}
}
