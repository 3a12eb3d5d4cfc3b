package bench

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/store/benchdb"
)

// Latency is submit-to-start and submit-to-done of flow one on an idle
// cluster, one execution at a time.
type Latency struct {
	Runs   int `json:"runs"`
	Failed int `json:"failed"`
	// SubmitToStart is the first job's start_time (executor clock) minus the
	// execution's submit_time (database clock).
	SubmitToStart Dist `json:"submit_to_start"`
	// SubmitToDone is end_time minus submit_time (both database clock) of
	// SUCCEEDED executions.
	SubmitToDone Dist `json:"submit_to_done"`
	// StepsP50 and StepsP99 split SubmitToDone into its steps.
	StepsP50 Steps `json:"steps_p50"`
	StepsP99 Steps `json:"steps_p99"`
	// SubmitCall is the round trip of the submit API call, client side.
	SubmitCall Dist `json:"submit_call"`
	// StartLimitMs is what submit -> first job started cannot go below:
	// one spawn, three commits and two HTTP round trips, as measured in the
	// same run; StartRatioToLimit is the p50 over it.
	StartLimitMs      float64 `json:"start_limit_ms"`
	StartRatioToLimit float64 `json:"start_ratio_to_limit"`
	// PollIntervalMs is how often the benchmark fetched the execution.
	PollIntervalMs float64 `json:"poll_interval_ms"`
}

// Steps are the parts of one execution's life, in milliseconds.
type Steps struct {
	// SubmitToDispatched: the web server's dispatcher assigned it
	// (dispatched_time - submit_time).
	SubmitToDispatched float64 `json:"submit_to_dispatched"`
	// DispatchedToClaimed: nudge over HTTP, the executor claims it
	// (start_time - dispatched_time).
	DispatchedToClaimed float64 `json:"dispatched_to_claimed"`
	// ClaimedToJobStart: the executor loads it, prepares the working
	// directory and starts the job (job start_time - start_time).
	ClaimedToJobStart float64 `json:"claimed_to_job_start"`
	// JobRun: the job itself, `true` in a shell (job end_time - job start_time).
	JobRun float64 `json:"job_run"`
	// JobEndToDone: the executor records the job and the end of the
	// execution (end_time - job end_time).
	JobEndToDone float64 `json:"job_end_to_done"`
}

func measureLatency(ctx context.Context, a *api, runs int, poll time.Duration, spawnMs float64, logf func(string, ...any)) (Latency, error) {
	l := Latency{Runs: runs, PollIntervalMs: ms(poll)}
	var toStart, toDone, calls []float64
	var steps [5][]float64
	for i := range runs {
		if i > 0 && i%100 == 0 {
			logf("latency: %d/%d", i, runs)
		}
		t0 := time.Now()
		id, err := a.submit(ctx, "one")
		if err != nil {
			return l, err
		}
		calls = append(calls, ms(time.Since(t0)))
		e, err := a.waitEnd(ctx, id, poll, 60*time.Second)
		if err != nil {
			return l, err
		}
		jobStart, jobEnd := jobSpan(e)
		if e.Status != store.ExecSucceeded || jobStart.IsZero() || e.EndTime == nil || e.StartTime == nil || e.DispatchedTime == nil {
			l.Failed++
			logf("latency: execution %d ended %s: %s", id, e.Status, e.Error)
			continue
		}
		toStart = append(toStart, ms(jobStart.Sub(e.SubmitTime)))
		toDone = append(toDone, ms(e.EndTime.Sub(e.SubmitTime)))
		for k, d := range []time.Duration{
			e.DispatchedTime.Sub(e.SubmitTime), e.StartTime.Sub(*e.DispatchedTime), jobStart.Sub(*e.StartTime),
			jobEnd.Sub(jobStart), e.EndTime.Sub(jobEnd),
		} {
			steps[k] = append(steps[k], ms(d))
		}
	}
	if len(toDone) == 0 {
		return l, fmt.Errorf("none of %d executions succeeded", runs)
	}
	l.SubmitToStart, l.SubmitToDone = newDist(toStart, spawnMs), newDist(toDone, spawnMs)
	l.SubmitCall = newDist(calls, 0)
	at := func(p float64) Steps {
		return Steps{pct(steps[0], p), pct(steps[1], p), pct(steps[2], p), pct(steps[3], p), pct(steps[4], p)}
	}
	l.StepsP50, l.StepsP99 = at(50), at(99)
	return l, nil
}

// jobSpan is the earliest job start and the latest job end of an execution.
func jobSpan(e *execView) (start, end time.Time) {
	for _, j := range e.Jobs {
		if j.StartTime != nil && (start.IsZero() || j.StartTime.Before(start)) {
			start = *j.StartTime
		}
		if j.EndTime != nil && j.EndTime.After(end) {
			end = *j.EndTime
		}
	}
	return start, end
}

// Chain40 is flow chain40: 40 sequential `true` jobs.
type Chain40 struct {
	Runs int `json:"runs"`
	Jobs int `json:"jobs"`
	// TotalMs is the median of end_time - start_time over the runs.
	TotalMs  float64   `json:"total_ms"`
	TotalsMs []float64 `json:"totals_ms"`
	// LimitMs is 40 spawns of `sh -c true` one after the other.
	LimitMs float64 `json:"limit_ms"`
	// PerJobOverheadMs is (total - 40 x spawn) / 40.
	PerJobOverheadMs float64 `json:"per_job_overhead_ms"`
	// RatioToSpawn is total / (40 x spawn).
	RatioToSpawn float64 `json:"ratio_to_spawn"`
	// JobRunP50Ms is the median job (start to end); JobGapP50Ms the median
	// time from one job's end to the next one's start.
	JobRunP50Ms float64 `json:"job_run_p50_ms"`
	JobGapP50Ms float64 `json:"job_gap_p50_ms"`
}

func measureChain40(ctx context.Context, a *api, runs int, spawnMs float64) (Chain40, error) {
	c := Chain40{Runs: runs, Jobs: chainJobs, LimitMs: chainJobs * spawnMs}
	var jobRuns, gaps []float64
	for range runs {
		id, err := a.submit(ctx, "chain40")
		if err != nil {
			return c, err
		}
		e, err := a.waitEnd(ctx, id, 5*time.Millisecond, 5*time.Minute)
		if err != nil {
			return c, err
		}
		if e.Status != store.ExecSucceeded || e.StartTime == nil || e.EndTime == nil {
			return c, fmt.Errorf("execution %d ended %s: %s", id, e.Status, e.Error)
		}
		if len(e.Jobs) != chainJobs {
			return c, fmt.Errorf("execution %d has %d jobs, want %d", id, len(e.Jobs), chainJobs)
		}
		c.TotalsMs = append(c.TotalsMs, ms(e.EndTime.Sub(*e.StartTime)))
		// Jobs come ordered by start time.
		for i, j := range e.Jobs {
			if j.StartTime == nil || j.EndTime == nil {
				continue
			}
			jobRuns = append(jobRuns, ms(j.EndTime.Sub(*j.StartTime)))
			if i > 0 && e.Jobs[i-1].EndTime != nil {
				gaps = append(gaps, ms(j.StartTime.Sub(*e.Jobs[i-1].EndTime)))
			}
		}
	}
	c.TotalMs = median(c.TotalsMs)
	c.PerJobOverheadMs = (c.TotalMs - c.LimitMs) / chainJobs
	c.RatioToSpawn = ratio(c.TotalMs, c.LimitMs)
	c.JobRunP50Ms, c.JobGapP50Ms = median(jobRuns), median(gaps)
	return c, nil
}

// Throughput is flow one submitted by several clients at once.
type Throughput struct {
	Clients int `json:"clients"`
	// Backlog is the most submitted-but-not-ended executions the clients
	// allowed; BacklogFullS the share of the submission window they spent
	// waiting for room (0: the API was the bottleneck).
	Backlog      int     `json:"backlog"`
	BacklogFullS float64 `json:"backlog_full_share"`
	// SubmitS is the submission window; SubmitPerS the accepted rate in it.
	SubmitS    float64 `json:"submit_s"`
	SubmitPerS float64 `json:"submit_per_s"`
	Submitted  int     `json:"submitted"`
	Completed  int     `json:"completed"`
	Failed     int     `json:"failed"`
	Unfinished int     `json:"unfinished"`
	// WindowS runs from the first submit_time to the last end_time.
	WindowS   float64 `json:"window_s"`
	FlowsPerS float64 `json:"flows_per_s"`
	// RatioToSpawnLimit is flows_per_s over sequential spawns per second
	// (one flow is one spawn); RatioToParallelSpawnLimit over the rate of
	// two spawning goroutines.
	RatioToSpawnLimit         float64 `json:"ratio_to_spawn_limit"`
	RatioToParallelSpawnLimit float64 `json:"ratio_to_parallel_spawn_limit"`
	// CPUMsPerFlow is the CPU time each process spent per flow, from the
	// first submit until every flow ended (Linux only).
	CPUMsPerFlow CPUPerFlow `json:"cpu_ms_per_flow"`
	// DBPerFlow is what each flow cost the database server, from its
	// server-wide status counters (lower-cased SHOW GLOBAL STATUS names),
	// less the benchmark's own statements and reads where the server counts
	// them per session: questions, com_*, rows_read (rows the server read
	// from tables), handler_read_rnd_next (of those, read by table scans).
	// innodb_* are server-wide only, the benchmark's progress queries
	// included.
	DBPerFlow map[string]float64 `json:"db_per_flow"`
}

func measureThroughput(ctx context.Context, cl *cluster, st db, cfg Config, lim Limits, logf func(string, ...any)) (Throughput, error) {
	a := cl.api
	t := Throughput{Clients: cfg.Clients, Backlog: cfg.Backlog}
	maxID, err := st.BenchMaxExecutionID(ctx)
	if err != nil {
		return t, err
	}
	minID := maxID + 1

	var submitted, ended atomic.Int64
	mctx, stopMonitor := context.WithCancel(ctx)
	var monitorErr error
	monitorDone := make(chan struct{})
	go func() {
		defer close(monitorDone)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			// Not mctx: a query cancelled in flight closes the connection,
			// and with it the session whose counters are the benchmark's own.
			sp, err := st.BenchExecutionSpan(ctx, minID)
			if err != nil {
				if mctx.Err() == nil {
					monitorErr = err
				}
				return
			}
			ended.Store(int64(sp.Ended))
			select {
			case <-mctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	stopped := false
	stop := func() error {
		if !stopped {
			stopped = true
			stopMonitor()
			<-monitorDone
		}
		return monitorErr
	}
	defer stop()

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		waited   time.Duration
	)
	countersBefore, err := st.BenchServerCounters(ctx)
	if err != nil {
		return t, err
	}
	cpuBefore := takeCPU(cl)
	start := time.Now()
	deadline := start.Add(cfg.Duration)
	for range cfg.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var w time.Duration
			defer func() { mu.Lock(); waited += w; mu.Unlock() }()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if submitted.Load()-ended.Load() >= int64(cfg.Backlog) {
					t0 := time.Now()
					time.Sleep(2 * time.Millisecond)
					w += time.Since(t0)
					continue
				}
				if _, err := a.submit(ctx, "one"); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				submitted.Add(1)
			}
		}()
	}
	wg.Wait()
	t.SubmitS = time.Since(start).Seconds()
	if err := errors.Join(firstErr, ctx.Err(), stop()); err != nil {
		return t, err
	}
	t.Submitted = int(submitted.Load())
	t.SubmitPerS = float64(t.Submitted) / t.SubmitS
	t.BacklogFullS = waited.Seconds() / float64(cfg.Clients) / t.SubmitS
	logf("throughput: %d submitted (%.0f/s); waiting for them to end", t.Submitted, t.SubmitPerS)

	var sp benchdb.ExecutionSpan
	werr := waitUntil(ctx, 2*time.Minute, "the throughput executions to end", func() (bool, error) {
		sp, err = st.BenchExecutionSpan(ctx, minID)
		if err != nil {
			return false, err
		}
		return sp.Total >= t.Submitted && sp.Ended >= sp.Total, nil
	})
	cpuAfter := takeCPU(cl)
	countersAfter, cerr := st.BenchServerCounters(ctx)
	if werr != nil && (ctx.Err() != nil || sp.Total == 0) {
		return t, werr
	}
	if werr != nil {
		logf("throughput: %v; reporting the %d that ended", werr, sp.Ended)
	}
	t.Completed, t.Failed, t.Unfinished = sp.Succeeded, sp.Ended-sp.Succeeded, sp.Total-sp.Ended
	if t.Completed == 0 || sp.LastEnd.IsZero() {
		return t, fmt.Errorf("no execution of %d succeeded", sp.Total)
	}
	win := sp.LastEnd.Sub(sp.FirstSubmit)
	t.WindowS = win.Seconds()
	t.FlowsPerS = float64(t.Completed) / win.Seconds()
	t.RatioToSpawnLimit = ratio(t.FlowsPerS, lim.SpawnsPerS)
	t.RatioToParallelSpawnLimit = ratio(t.FlowsPerS, lim.SpawnsPerSParallel2)
	t.CPUMsPerFlow = perFlow(cpuBefore, cpuAfter, sp.Ended)
	if cerr == nil && sp.Ended > 0 {
		t.DBPerFlow = map[string]float64{}
		for k, v := range countersAfter {
			t.DBPerFlow[strings.ToLower(k)] = float64(v-countersBefore[k]) / float64(sp.Ended)
		}
	}
	return t, nil
}
