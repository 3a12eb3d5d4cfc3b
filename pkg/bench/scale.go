package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/dispatch"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

// smallCluster is the executor count of the baseline dispatch rate.
const smallCluster = 4

// heartbeatEvery is how often each simulated executor heartbeats: the
// executor's default --heartbeat.
const heartbeatEvery = 5 * time.Second

// Scale is measured in-process against the store, without the daemons.
type Scale struct {
	// Executions is how many queued executions each dispatch rate assigns.
	Executions int `json:"executions"`
	// DispatchRate4 and DispatchRate1000 are executions assigned per second
	// by repeated AssignDue(64) with ExecutorsSmall (4) and with
	// ExecutorsLarge (1000) active executors heartbeating every second.
	DispatchRate4            float64 `json:"dispatch_rate_4"`
	DispatchRate1000         float64 `json:"dispatch_rate_1000"`
	DispatchRateRatio1000vs4 float64 `json:"dispatch_rate_ratio_1000_vs_4"`
	ExecutorsSmall           int     `json:"executors_small"`
	ExecutorsLarge           int     `json:"executors_large"`
	RegisterLargeS           float64 `json:"register_large_s"`
	// HeartbeatRoundMsLarge is the mean time spent writing one round of
	// heartbeats of the large cluster (every executor once, spread over
	// heartbeatEvery) while the large-cluster measurements ran (including the
	// deep-queue claim, whose transaction the heartbeats may wait for).
	HeartbeatRoundMsLarge float64 `json:"heartbeat_round_ms_large"`
	// HeartbeatMaxMsLarge is the slowest single heartbeat meanwhile.
	HeartbeatMaxMsLarge float64 `json:"heartbeat_max_ms_large"`

	// Queued is how many executions were queued (100,000 but in quick
	// runs) when one AssignDue(1) + ClaimExecution was timed
	// ClaimSamples times (fewer than asked when the run's time ran out),
	// with ClaimExecutors executors registered.
	Queued                 int     `json:"queued"`
	BulkInserted           int     `json:"bulk_inserted"`
	BulkInsertS            float64 `json:"bulk_insert_s"`
	BulkRowsPerS           float64 `json:"bulk_rows_per_s"`
	ClaimSamples           int     `json:"claim_samples"`
	ClaimExecutors         int     `json:"claim_executors"`
	ClaimP50MsAt100kQueued float64 `json:"claim_p50_ms_at_100k_queued"`
	ClaimP99MsAt100kQueued float64 `json:"claim_p99_ms_at_100k_queued"`
	ClaimMaxMsAt100kQueued float64 `json:"claim_max_ms_at_100k_queued"`
	ClaimP50RatioToCommit  float64 `json:"claim_p50_ratio_to_commit"`
	ClaimP99RatioToCommit  float64 `json:"claim_p99_ratio_to_commit"`
	// ClaimP50MsShortQueue is the same with at most 50 queued, with the
	// small cluster; ClaimP50MsShortQueueLarge with the large one.
	ClaimP50MsShortQueue      float64 `json:"claim_p50_ms_short_queue"`
	ClaimP50MsShortQueueLarge float64 `json:"claim_p50_ms_short_queue_large"`
	// ClaimP50MsAt100kQueuedLarge is the deep queue with the large cluster,
	// from only ClaimSamplesLarge samples: each one is slow.
	ClaimP50MsAt100kQueuedLarge float64 `json:"claim_p50_ms_at_100k_queued_large"`
	ClaimSamplesLarge           int     `json:"claim_samples_large"`
	// DBErrors counts AssignQueued calls that failed and were tried again
	// (see assignRetries); LastDBError is the last such error.
	DBErrors    int    `json:"db_errors"`
	LastDBError string `json:"last_db_error,omitempty"`
}

// benchExecution is the shape of every execution the scale phase queues.
var benchExecution = store.NewExecution{
	ProjectID: 1, Project: "bench", Version: 1, Flow: "one",
	Concurrent: "ignore", FailureAction: "finishCurrent", SubmitUser: "crawlbench",
}

// shortQueue is the queue length of the short-queue claim figures.
const shortQueue = 50

func measureScale(ctx context.Context, dsn string, cfg Config, lim Limits, deadline time.Time, logf func(string, ...any)) (Scale, error) {
	sc := Scale{Executions: cfg.ScaleExecutions, ExecutorsSmall: smallCluster, ExecutorsLarge: cfg.ScaleExecutors, ClaimExecutors: smallCluster}
	st, err := openDB(ctx, dsn)
	if err != nil {
		return sc, err
	}
	defer st.close()
	if _, err := st.Migrate(ctx); err != nil {
		return sc, err
	}

	hb := &heartbeater{st: st.Store, every: heartbeatEvery}
	hctx, stopHB := context.WithCancel(ctx)
	hbDone := make(chan struct{})
	go func() { defer close(hbDone); hb.run(hctx) }()
	defer func() { stopHB(); <-hbDone }()

	// The dispatcher's own view of the executors: read at most once a
	// second, and again whenever the executors change (as an activation
	// through the web server does).
	pool := dispatch.NewPool(st.Store, 30*time.Second, time.Second)

	// Small cluster: dispatch rate and short-queue claims.
	if _, err := registerExecutors(ctx, st, hb, 0, smallCluster); err != nil {
		return sc, err
	}
	logf("scale: dispatch rate with %d executors", smallCluster)
	if sc.DispatchRate4, err = dispatchRate(ctx, st, cfg.ScaleExecutions, pool, &sc.DBErrors, &sc.LastDBError); err != nil {
		return sc, err
	}
	if sc.ClaimP50MsShortQueue, err = shortQueueClaim(ctx, st, pool, &sc.DBErrors, &sc.LastDBError); err != nil {
		return sc, err
	}

	// Large cluster: dispatch rate, short-queue claims, then one deep-queue
	// claim (each one is slow).
	logf("scale: registering %d executors", cfg.ScaleExecutors-smallCluster)
	t0 := time.Now()
	extra, err := registerExecutors(ctx, st, hb, smallCluster, cfg.ScaleExecutors)
	if err != nil {
		return sc, err
	}
	sc.RegisterLargeS = time.Since(t0).Seconds()
	pool.Invalidate()
	// Let a full heartbeat round of the large cluster run before timing.
	hb.meanRound()
	if err := hb.waitRounds(ctx, 1); err != nil {
		return sc, err
	}
	logf("scale: dispatch rate with %d executors", cfg.ScaleExecutors)
	if sc.DispatchRate1000, err = dispatchRate(ctx, st, cfg.ScaleExecutions, pool, &sc.DBErrors, &sc.LastDBError); err != nil {
		return sc, err
	}
	sc.DispatchRateRatio1000vs4 = ratio(sc.DispatchRate1000, sc.DispatchRate4)
	if sc.ClaimP50MsShortQueueLarge, err = shortQueueClaim(ctx, st, pool, &sc.DBErrors, &sc.LastDBError); err != nil {
		return sc, err
	}
	logf("scale: queueing %d executions", cfg.BulkQueued)
	t0 = time.Now()
	inserted, err := st.BulkQueueExecutions(ctx, benchExecution, cfg.BulkQueued, 1000)
	if err != nil {
		return sc, err
	}
	sc.BulkInserted, sc.BulkInsertS = inserted, time.Since(t0).Seconds()
	sc.BulkRowsPerS = float64(inserted) / sc.BulkInsertS
	logf("scale: 1 assign+claim at %d queued, %d executors", inserted, cfg.ScaleExecutors)
	took, err := claimLatency(ctx, st, 1, 1, 0, pool, &sc.DBErrors, &sc.LastDBError)
	if err != nil {
		return sc, err
	}
	sc.ClaimSamplesLarge = len(took)
	sc.ClaimP50MsAt100kQueuedLarge = pct(took, 50)
	// Include the heartbeat round that ran alongside that claim.
	if err := hb.waitRounds(ctx, 1); err != nil {
		return sc, err
	}
	sc.HeartbeatRoundMsLarge, sc.HeartbeatMaxMsLarge = hb.meanRound()

	// Back to the small cluster for the deep-queue claims, with as many
	// samples as fit before the deadline (but at least a few).
	logf("scale: removing %d executors", len(extra))
	if err := removeExecutors(ctx, st, hb, extra); err != nil {
		return sc, err
	}
	pool.Invalidate()
	sc.Queued = inserted - len(took)
	logf("scale: up to %d assign+claim samples at %d queued, %d executors", cfg.ClaimSamples, sc.Queued, smallCluster)
	if took, err = claimLatency(ctx, st, cfg.ClaimSamples, min(cfg.ClaimSamples, 20), time.Until(deadline), pool, &sc.DBErrors, &sc.LastDBError); err != nil {
		return sc, err
	}
	sc.ClaimSamples = len(took)
	sc.ClaimP50MsAt100kQueued, sc.ClaimP99MsAt100kQueued, sc.ClaimMaxMsAt100kQueued = pct(took, 50), pct(took, 99), pct(took, 100)
	sc.ClaimP50RatioToCommit = ratio(sc.ClaimP50MsAt100kQueued, lim.CommitMs)
	sc.ClaimP99RatioToCommit = ratio(sc.ClaimP99MsAt100kQueued, lim.CommitMs)
	return sc, hb.error()
}

// shortQueueClaim is the median assign+claim with shortQueue queued.
func shortQueueClaim(ctx context.Context, st db, pool *dispatch.Pool, errs *int, last *string) (float64, error) {
	if _, err := st.BulkQueueExecutions(ctx, benchExecution, shortQueue, 1000); err != nil {
		return 0, err
	}
	took, err := claimLatency(ctx, st, shortQueue, shortQueue, 0, pool, errs, last)
	if err != nil {
		return 0, err
	}
	return pct(took, 50), nil
}

// registerExecutors registers and activates executors number from..to-1
// (as an executor daemon would, then an operator) and hands them to hb.
// One at a time: concurrent registrations can deadlock in the database.
func registerExecutors(ctx context.Context, st db, hb *heartbeater, from, to int) ([]int64, error) {
	ids := make([]int64, to-from)
	_, err := parallel(ctx, 1, to-from, func(i int) error {
		n := from + i
		e, err := st.RegisterExecutor(ctx, store.ExecutorSpec{
			Name: fmt.Sprintf("scale-%04d", n), Host: "127.0.0.1", Port: 20000 + n, Version: "crawlbench", LocalTime: time.Now(),
		})
		if err != nil {
			return err
		}
		if _, err := st.SetExecutorActive(ctx, e.ID, true, "crawlbench"); err != nil {
			return err
		}
		ids[i] = e.ID
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("register executors: %w", err)
	}
	hb.add(ids)
	return ids, nil
}

// removeExecutors stops heartbeating executors and removes them as an
// operator would once they stopped.
func removeExecutors(ctx context.Context, st db, hb *heartbeater, ids []int64) error {
	hb.remove(ids)
	for _, id := range ids {
		if err := st.MarkExecutorStopped(ctx, id, "crawlbench", "benchmark: scale-down"); err != nil {
			return err
		}
		if err := st.DeleteExecutor(ctx, id, 30*time.Second, "crawlbench"); err != nil {
			return fmt.Errorf("remove executor %d: %w", id, err)
		}
	}
	return nil
}

// assignRetries is how often one AssignQueued is tried before the phase
// fails. A retry is for the environment, not the system under test: a
// database server whose on-disk temporary table vanished under it (another
// process cleaning the temp dir) fails that one statement.
const assignRetries = 3

// assign is st.AssignQueued, tried up to assignRetries times; failures
// are counted in *errs and the last one kept in *last.
// assignOnce is one pass of the dispatcher: bring its view of the executors
// up to date if due, then assign.
func assignOnce(ctx context.Context, st db, limit int, pool *dispatch.Pool) ([]dispatch.Assignment, error) {
	if err := pool.Refresh(ctx); err != nil {
		return nil, err
	}
	return dispatch.AssignDue(ctx, st.Store, limit, pool.Choose)
}

func assign(ctx context.Context, st db, limit int, pool *dispatch.Pool, errs *int, last *string) ([]dispatch.Assignment, error) {
	for i := 1; ; i++ {
		as, err := assignOnce(ctx, st, limit, pool)
		if err == nil || i >= assignRetries || ctx.Err() != nil {
			return as, err
		}
		*errs++
		*last = err.Error()
	}
}

// dispatchRate queues n executions, times repeated AssignDue(64) until
// all are assigned, then ends them so they hold no executor slot.
func dispatchRate(ctx context.Context, st db, n int, pool *dispatch.Pool, errs *int, last *string) (float64, error) {
	if _, err := st.BulkQueueExecutions(ctx, benchExecution, n, 1000); err != nil {
		return 0, err
	}
	start := time.Now()
	assigned := 0
	for assigned < n {
		as, err := assign(ctx, st, 64, pool, errs, last)
		if err != nil {
			return 0, err
		}
		if len(as) == 0 {
			return 0, fmt.Errorf("dispatch stalled after %d of %d executions", assigned, n)
		}
		assigned += len(as)
	}
	rate := float64(assigned) / time.Since(start).Seconds()
	if _, err := st.BenchFinishActive(ctx); err != nil {
		return 0, err
	}
	return rate, nil
}

// claimLatency times up to samples x (AssignDue(1) + ClaimExecution of
// the assigned row), as a dispatcher and an executor do for one execution;
// past the first minSamples it takes no new sample once budget has passed.
// Then it ends the claimed executions so they hold no executor slot.
func claimLatency(ctx context.Context, st db, samples, minSamples int, budget time.Duration, pool *dispatch.Pool, errs *int, last *string) ([]float64, error) {
	var took []float64
	began := time.Now()
	failures := 0 // in a row
	for len(took) < samples && (len(took) < minSamples || time.Since(began) < budget) {
		start := time.Now()
		as, err := assignOnce(ctx, st, 1, pool)
		if err != nil && ctx.Err() == nil && failures+1 < assignRetries {
			// Not a sample; see assignRetries.
			failures++
			*errs++
			*last = err.Error()
			continue
		}
		if err != nil {
			return nil, err
		}
		failures = 0
		if len(as) != 1 {
			return nil, fmt.Errorf("assign returned %d executions, want 1", len(as))
		}
		a := as[0]
		ok, err := st.ClaimExecution(ctx, a.ExecutionID, a.Executor.ID, a.Attempt)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("claim of execution %d refused", a.ExecutionID)
		}
		took = append(took, ms(time.Since(start)))
	}
	if _, err := st.BenchFinishActive(ctx); err != nil {
		return nil, err
	}
	return took, nil
}

// heartbeater heartbeats every registered executor once per interval, at
// evenly spread moments, like that many executor daemons started at random
// times would.
type heartbeater struct {
	st    *store.Store
	every time.Duration

	mu     sync.Mutex
	ids    []int64
	rounds int
	spent  time.Duration // of the rounds since the last meanRound
	count  int
	worst  time.Duration // slowest single heartbeat since the last meanRound
	err    error
}

func (h *heartbeater) add(ids []int64) {
	h.mu.Lock()
	h.ids = append(h.ids, ids...)
	h.mu.Unlock()
}

// remove stops heartbeating ids.
func (h *heartbeater) remove(ids []int64) {
	drop := map[int64]bool{}
	for _, id := range ids {
		drop[id] = true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	kept := h.ids[:0]
	for _, id := range h.ids {
		if !drop[id] {
			kept = append(kept, id)
		}
	}
	h.ids = kept
}

func (h *heartbeater) run(ctx context.Context) {
	pace := time.NewTimer(0)
	defer pace.Stop()
	for {
		h.mu.Lock()
		ids := append([]int64(nil), h.ids...)
		h.mu.Unlock()
		start := time.Now()
		slot := h.every / time.Duration(max(len(ids), 1))
		for i, id := range ids {
			pace.Reset(time.Until(start.Add(time.Duration(i) * slot)))
			select {
			case <-ctx.Done():
				return
			case <-pace.C:
			}
			t0 := time.Now()
			_, err := h.st.ExecutorHeartbeat(ctx, id, store.Heartbeat{LocalTime: time.Now()})
			took := time.Since(t0)
			h.mu.Lock()
			h.worst = max(h.worst, took)
			h.spent += took
			h.mu.Unlock()
			if errors.Is(err, store.ErrNotFound) {
				continue // removed meanwhile
			}
			if err != nil {
				if ctx.Err() == nil {
					h.mu.Lock()
					h.err = err
					h.mu.Unlock()
				}
				return
			}
		}
		h.mu.Lock()
		h.rounds++
		h.count++
		h.mu.Unlock()
		pace.Reset(time.Until(start.Add(h.every)))
		select {
		case <-ctx.Done():
			return
		case <-pace.C:
		}
	}
}

// meanRound is the mean time the rounds since the last call spent in
// heartbeat writes and the slowest single heartbeat in them, in ms.
func (h *heartbeater) meanRound() (meanMs, worstMs float64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.count > 0 {
		meanMs = ms(h.spent) / float64(h.count)
	}
	worstMs = ms(h.worst)
	h.spent, h.count, h.worst = 0, 0, 0
	return meanMs, worstMs
}

// waitRounds waits until n more rounds completed.
func (h *heartbeater) waitRounds(ctx context.Context, n int) error {
	h.mu.Lock()
	target := h.rounds + n
	h.mu.Unlock()
	return waitUntil(ctx, 2*time.Minute, "a heartbeat round", func() (bool, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.rounds >= target, h.err
	})
}

func (h *heartbeater) error() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}
