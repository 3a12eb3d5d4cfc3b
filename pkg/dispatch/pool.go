package dispatch

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/crawlctl/crawlctl/pkg/store"
)

// Pool is a dispatcher's view of the executors and their load. Reading every
// executor (and counting its executions) for each assignment would cost two
// queries whose size grows with the cluster, so the view is read at most
// every MaxAge and the assignments made since are counted in. Whenever a
// choice finds nobody eligible in a view older than recheckAfter, the view is
// read again first, so a newly activated executor is used at once. A view
// can lag behind a deactivation or a crash by up to MaxAge: the executor
// then refuses the nudge (or does not answer) and the execution goes back
// to the queue without it, as with any refusal.
type Pool struct {
	st           *store.Store
	offlineAfter time.Duration
	maxAge       time.Duration

	mu     sync.Mutex
	rnd    *rand.Rand
	list   []*store.Executor
	ages   []time.Duration // heartbeat ages when read
	loaded time.Time
}

// recheckAfter bounds how often a choice that found nobody re-reads the view.
const recheckAfter = 50 * time.Millisecond

// NewPool makes a pool that re-reads the executors at most every maxAge.
func NewPool(st *store.Store, offlineAfter, maxAge time.Duration) *Pool {
	return &Pool{st: st, offlineAfter: offlineAfter, maxAge: maxAge,
		rnd: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x9e3779b97f4a7c15))}
}

// Invalidate makes the next choice read the executors again.
func (p *Pool) Invalidate() {
	p.mu.Lock()
	p.loaded = time.Time{}
	p.mu.Unlock()
}

// Choose picks a uniformly random eligible executor for ex (see the package
// function Choose) and counts the execution against it; with none it returns
// nil and why ex waits. It is a store.ChooseFunc.
func (p *Pool) Choose(ctx context.Context, ex *store.Execution) (*store.Executor, string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.loaded) >= p.maxAge {
		if err := p.load(ctx); err != nil {
			return nil, "", err
		}
	}
	e, reason := p.choose(ex)
	if e == nil && time.Since(p.loaded) >= recheckAfter {
		if err := p.load(ctx); err != nil {
			return nil, "", err
		}
		e, reason = p.choose(ex)
	}
	if e != nil {
		e.RunningFlows++
	}
	return e, reason, nil
}

func (p *Pool) choose(ex *store.Execution) (*store.Executor, string) {
	// Heartbeats age with the view.
	since := time.Since(p.loaded)
	for i, e := range p.list {
		if p.ages[i] >= 0 {
			e.HeartbeatAge = p.ages[i] + since
		}
	}
	return Choose(ex, p.list, p.offlineAfter, p.rnd)
}

func (p *Pool) load(ctx context.Context) error {
	list, err := p.st.ExecutorsWithLoad(ctx)
	if err != nil {
		return err
	}
	p.list, p.loaded = list, time.Now()
	p.ages = make([]time.Duration, len(list))
	for i, e := range list {
		p.ages[i] = e.HeartbeatAge
	}
	return nil
}
