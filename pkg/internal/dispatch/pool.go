package dispatch

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

// Pool is a dispatcher's view of the executors and their load. Reading every
// executor (and counting its executions) for each assignment would cost two
// queries whose size grows with the cluster, so the view is read at most
// every maxAge and the assignments made since are counted in. When a choice
// found nobody eligible in a view older than recheckAfter, the next Refresh
// reads it again, so a newly activated executor is used at once. A view
// can lag behind a deactivation or a crash by up to maxAge: the executor
// then refuses the nudge (or does not answer) and the execution goes back
// to the queue without it, as with any refusal.
//
// Choose never touches the database, so it may run inside a transaction;
// Refresh reads it and must run outside one (a transaction waiting for a
// view that waits for a free connection would deadlock a full pool).
type Pool struct {
	st           *store.Store
	offlineAfter time.Duration
	maxAge       time.Duration

	loadMu sync.Mutex // one reader of the database at a time

	mu      sync.Mutex
	rnd     *rand.Rand
	list    []*store.Executor
	ages    []time.Duration // heartbeat ages when read
	loaded  time.Time
	recheck bool // a choice found nobody eligible in an old view
}

// recheckAfter bounds how often a choice that found nobody re-reads the view.
const recheckAfter = 50 * time.Millisecond

// NewPool makes a pool that re-reads the executors at most every maxAge.
func NewPool(st *store.Store, offlineAfter, maxAge time.Duration) *Pool {
	return &Pool{st: st, offlineAfter: offlineAfter, maxAge: maxAge,
		rnd: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x9e3779b97f4a7c15))}
}

// Invalidate makes the next Refresh read the executors again.
func (p *Pool) Invalidate() {
	p.mu.Lock()
	p.loaded = time.Time{}
	p.mu.Unlock()
}

// Refresh reads the executors when the view is due: never read, older than
// maxAge, invalidated, or found wanting by a choice.
func (p *Pool) Refresh(ctx context.Context) error {
	if !p.due() {
		return nil
	}
	p.loadMu.Lock()
	defer p.loadMu.Unlock()
	if !p.due() { // another caller read it meanwhile
		return nil
	}
	list, err := p.st.ExecutorsWithLoad(ctx, store.Page{})
	if err != nil {
		return err
	}
	ages := make([]time.Duration, len(list))
	for i, e := range list {
		ages[i] = e.HeartbeatAge
	}
	p.mu.Lock()
	p.list, p.ages, p.loaded, p.recheck = list, ages, time.Now(), false
	p.mu.Unlock()
	return nil
}

func (p *Pool) due() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.loaded.IsZero() || time.Since(p.loaded) >= p.maxAge || p.recheck
}

// Choose picks a uniformly random eligible executor for ex (see the package
// function Choose) from the view and counts the execution against it; with
// none it returns nil and why ex waits. It is a ChooseFunc that never
// fails and never reads the database.
func (p *Pool) Choose(_ context.Context, ex *store.Execution) (*store.Executor, string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	// Heartbeats age with the view.
	since := time.Since(p.loaded)
	for i, e := range p.list {
		if p.ages[i] >= 0 {
			e.HeartbeatAge = p.ages[i] + since
		}
	}
	e, reason := Choose(ex, p.list, p.offlineAfter, p.rnd)
	if e == nil {
		if since >= recheckAfter {
			p.recheck = true
		}
		return nil, reason, nil
	}
	e.RunningFlows++
	return e, "", nil
}

// refused returns copies of the online executors that, in the current view,
// refused the cluster secret.
func (p *Pool) refused() []*store.Executor {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*store.Executor
	for i, e := range p.list {
		if e.SecretRefused != "" && p.ages[i] >= 0 && p.ages[i] < p.offlineAfter {
			c := *e
			out = append(out, &c)
		}
	}
	return out
}
