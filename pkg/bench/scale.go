package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/crawlctl/crawlctl/pkg/dispatch"
	"github.com/crawlctl/crawlctl/pkg/store"
)

// smallCluster is the executor count of the baseline dispatch rate.
const smallCluster = 4

// Scale is measured in-process against the store, without the daemons.
type Scale struct {
	// Executions is how many queued executions each dispatch rate assigns.
	Executions int `json:"executions"`
	// DispatchRate4 and DispatchRate1000 are executions assigned per second
	// by repeated AssignQueued(64) with 4 and with ExecutorsLarge (1000)
	// active executors heartbeating every second.
	DispatchRate4            float64 `json:"dispatch_rate_4"`
	DispatchRate1000         float64 `json:"dispatch_rate_1000"`
	DispatchRateRatio1000vs4 float64 `json:"dispatch_rate_ratio_1000_vs_4"`
	ExecutorsSmall           int     `json:"executors_small"`
	ExecutorsLarge           int     `json:"executors_large"`
	RegisterLargeS           float64 `json:"register_large_s"`
	HeartbeatRoundMsLarge    float64 `json:"heartbeat_round_ms_large"`
	HeartbeatRoundMsSmall    float64 `json:"heartbeat_round_ms_small"`
	Queued                   int     `json:"queued"`
	BulkInsertS              float64 `json:"bulk_insert_s"`
	BulkRowsPerS             float64 `json:"bulk_rows_per_s"`
	ClaimSamples             int     `json:"claim_samples"`
	ClaimExecutors           int     `json:"claim_executors"`
	ClaimP50MsAt100kQueued   float64 `json:"claim_p50_ms_at_100k_queued"`
	ClaimP99MsAt100kQueued   float64 `json:"claim_p99_ms_at_100k_queued"`
	ClaimMaxMsAt100kQueued   float64 `json:"claim_max_ms_at_100k_queued"`
	ClaimP50RatioToCommit    float64 `json:"claim_p50_ratio_to_commit"`
	ClaimP99RatioToCommit    float64 `json:"claim_p99_ratio_to_commit"`
	// ClaimP50MsShortQueue is the same assign+claim with at most 50 queued.
	ClaimP50MsShortQueue float64 `json:"claim_p50_ms_short_queue"`
}

// benchExecution is the shape of every execution the scale phase queues.
var benchExecution = store.NewExecution{
	ProjectID: 1, Project: "bench", Version: 1, Flow: "one",
	Concurrent: "ignore", FailureAction: "finishCurrent", SubmitUser: "crawlbench",
}

func measureScale(ctx context.Context, dsn string, cfg Config, lim Limits, logf func(string, ...any)) (Scale, error) {
	sc := Scale{Executions: cfg.ScaleExecutions, ExecutorsSmall: smallCluster, ExecutorsLarge: cfg.ScaleExecutors, ClaimSamples: cfg.ClaimSamples}
	st, err := store.Open(ctx, dsn)
	if err != nil {
		return sc, err
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		return sc, err
	}

	hb := &heartbeater{st: st}
	hctx, stopHB := context.WithCancel(ctx)
	hbDone := make(chan struct{})
	go func() { defer close(hbDone); hb.run(hctx) }()
	defer func() { stopHB(); <-hbDone }()

	rnd := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x853c49e6748fea9b))
	choose := func(ex *store.Execution, executors []*store.Executor) (*store.Executor, string) {
		return dispatch.Choose(ex, executors, 30*time.Second, rnd)
	}

	if err := registerExecutors(ctx, st, hb, 0, smallCluster); err != nil {
		return sc, err
	}
	logf("scale: dispatch rate with %d executors", smallCluster)
	if sc.DispatchRate4, err = dispatchRate(ctx, st, cfg.ScaleExecutions, choose); err != nil {
		return sc, err
	}
	sc.HeartbeatRoundMsSmall = hb.meanRound()

	logf("scale: registering %d executors", cfg.ScaleExecutors-smallCluster)
	t0 := time.Now()
	if err := registerExecutors(ctx, st, hb, smallCluster, cfg.ScaleExecutors); err != nil {
		return sc, err
	}
	sc.RegisterLargeS = time.Since(t0).Seconds()
	// Let a full heartbeat round of the large cluster run before timing.
	if err := hb.waitRounds(ctx, 2); err != nil {
		return sc, err
	}
	hb.meanRound()
	logf("scale: dispatch rate with %d executors", cfg.ScaleExecutors)
	if sc.DispatchRate1000, err = dispatchRate(ctx, st, cfg.ScaleExecutions, choose); err != nil {
		return sc, err
	}
	sc.DispatchRateRatio1000vs4 = ratio(sc.DispatchRate1000, sc.DispatchRate4)

	// The same assign+claim with a short queue, for comparison.
	short := min(cfg.ClaimSamples, 50)
	if _, err := st.BulkQueueExecutions(ctx, benchExecution, short, 1000); err != nil {
		return sc, err
	}
	if sc.ClaimP50MsShortQueue, _, _, err = claimLatency(ctx, st, short, choose); err != nil {
		return sc, err
	}

	logf("scale: queueing %d executions", cfg.BulkQueued)
	t0 = time.Now()
	if sc.Queued, err = st.BulkQueueExecutions(ctx, benchExecution, cfg.BulkQueued, 1000); err != nil {
		return sc, err
	}
	sc.BulkInsertS = time.Since(t0).Seconds()
	sc.BulkRowsPerS = float64(sc.Queued) / sc.BulkInsertS
	logf("scale: %d assign+claim samples at %d queued", cfg.ClaimSamples, sc.Queued)
	sc.ClaimExecutors = cfg.ScaleExecutors
	if sc.ClaimP50MsAt100kQueued, sc.ClaimP99MsAt100kQueued, sc.ClaimMaxMsAt100kQueued, err = claimLatency(ctx, st, cfg.ClaimSamples, choose); err != nil {
		return sc, err
	}
	sc.ClaimP50RatioToCommit = ratio(sc.ClaimP50MsAt100kQueued, lim.CommitMs)
	sc.ClaimP99RatioToCommit = ratio(sc.ClaimP99MsAt100kQueued, lim.CommitMs)
	sc.HeartbeatRoundMsLarge = hb.meanRound()
	return sc, hb.error()
}

// registerExecutors registers and activates executors number from..to-1
// (as an executor daemon would, then an operator) and hands them to hb.
// One at a time: concurrent registrations can deadlock in the database.
func registerExecutors(ctx context.Context, st *store.Store, hb *heartbeater, from, to int) error {
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
		return fmt.Errorf("register executors: %w", err)
	}
	hb.add(ids)
	return nil
}

// dispatchRate queues n executions, times repeated AssignQueued(64) until
// all are assigned, then ends them so they hold no executor slot.
func dispatchRate(ctx context.Context, st *store.Store, n int, choose store.ChooseFunc) (float64, error) {
	if _, err := st.BulkQueueExecutions(ctx, benchExecution, n, 1000); err != nil {
		return 0, err
	}
	start := time.Now()
	assigned := 0
	for assigned < n {
		as, err := st.AssignQueued(ctx, 64, choose)
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

// claimLatency times samples x (AssignQueued(1) + ClaimExecution of the
// assigned row), as a dispatcher and an executor do for one execution.
func claimLatency(ctx context.Context, st *store.Store, samples int, choose store.ChooseFunc) (p50, p99, maxMs float64, err error) {
	var took []float64
	for range samples {
		start := time.Now()
		as, err := st.AssignQueued(ctx, 1, choose)
		if err != nil {
			return 0, 0, 0, err
		}
		if len(as) != 1 {
			return 0, 0, 0, fmt.Errorf("assign returned %d executions, want 1", len(as))
		}
		a := as[0]
		ok, err := st.ClaimExecution(ctx, a.ExecutionID, a.Executor.ID, a.Attempt)
		if err != nil {
			return 0, 0, 0, err
		}
		if !ok {
			return 0, 0, 0, fmt.Errorf("claim of execution %d refused", a.ExecutionID)
		}
		took = append(took, ms(time.Since(start)))
	}
	if _, err := st.BenchFinishActive(ctx); err != nil {
		return 0, 0, 0, err
	}
	return pct(took, 50), pct(took, 99), pct(took, 100), nil
}

// heartbeater heartbeats every registered executor once a second, one after
// the other, like that many executor daemons would.
type heartbeater struct {
	st *store.Store

	mu     sync.Mutex
	ids    []int64
	rounds int
	spent  time.Duration // of the rounds since the last meanRound
	count  int
	err    error
}

func (h *heartbeater) add(ids []int64) {
	h.mu.Lock()
	h.ids = append(h.ids, ids...)
	h.mu.Unlock()
}

func (h *heartbeater) run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h.mu.Lock()
		ids := append([]int64(nil), h.ids...)
		h.mu.Unlock()
		start := time.Now()
		for _, id := range ids {
			if _, err := h.st.ExecutorHeartbeat(ctx, id, store.Heartbeat{LocalTime: time.Now()}); err != nil {
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
		h.spent += time.Since(start)
		h.count++
		h.mu.Unlock()
	}
}

// meanRound is the mean duration of the rounds since the last call, in ms.
func (h *heartbeater) meanRound() float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.count == 0 {
		return 0
	}
	m := ms(h.spent) / float64(h.count)
	h.spent, h.count = 0, 0
	return m
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
