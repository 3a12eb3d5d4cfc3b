package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/store/benchdb"
)

// Soak is a long-lived cluster in fast time: the history of many ended
// executions (with their jobs and logs) inserted at once, then pruned by
// the retention the web servers apply, while flows keep being submitted.
// It reports the dispatch latency before, during and after the pruning,
// and the tables' sizes before and after.
type Soak struct {
	// Executions ended executions inserted, each with one job and a log
	// chunk of LogBytes, ended AgeDays ago; InsertS is how long that took.
	Executions int     `json:"executions"`
	LogBytes   int     `json:"log_bytes"`
	AgeDays    int     `json:"age_days"`
	InsertS    float64 `json:"insert_s"`
	// Before, During and After are one-job flows run one at a time: before
	// the pruning, while it runs, after it.
	Before SoakLatency `json:"before"`
	During SoakLatency `json:"during"`
	After  SoakLatency `json:"after"`
	// PruneS is how long the pruning took; Deleted the rows it deleted over
	// every table; DeletedPerS their rate.
	PruneS      float64 `json:"prune_s"`
	Deleted     int64   `json:"deleted"`
	DeletedPerS float64 `json:"deleted_per_s"`
	// SizesBefore and SizesAfter: rows and MiB of the tables that grow.
	// InnoDB keeps the space of deleted rows for new ones (free_mib)
	// rather than giving it back to the file system.
	SizesBefore map[string]benchdb.TableSize `json:"sizes_before"`
	SizesAfter  map[string]benchdb.TableSize `json:"sizes_after"`
}

// SoakLatency is submit -> first job started of sequential one-job flows.
type SoakLatency struct {
	Runs       int     `json:"runs"`
	StartP50Ms float64 `json:"start_p50_ms"`
	StartP99Ms float64 `json:"start_p99_ms"`
	DoneP50Ms  float64 `json:"done_p50_ms"`
}

// soakTables are the tables whose size the soak reports.
var soakTables = []string{"executions", "execution_jobs", "execution_logs"}

// pruneFunc deletes what the retention says is old and returns how many
// rows it deleted.
type pruneFunc func(ctx context.Context) (int64, error)

func measureSoak(ctx context.Context, cl *cluster, st db, cfg Config, prune pruneFunc, logf func(string, ...any)) (Soak, error) {
	s := Soak{Executions: cfg.SoakExecutions, LogBytes: 1024, AgeDays: 100}
	logf("soak: inserting %d executions that ended %d days ago", s.Executions, s.AgeDays)
	t0 := time.Now()
	n, err := st.BulkEndedExecutions(ctx, benchExecution, s.Executions, 1000, s.LogBytes, time.Duration(s.AgeDays)*24*time.Hour)
	if err != nil {
		return s, err
	}
	s.Executions, s.InsertS = n, time.Since(t0).Seconds()
	if s.SizesBefore, err = st.TableSizes(ctx, soakTables...); err != nil {
		return s, err
	}
	runs := cfg.SoakRuns
	logf("soak: %d flows before pruning", runs)
	if s.Before, err = soakLatency(ctx, cl.api, runs, nil); err != nil {
		return s, err
	}

	logf("soak: pruning while flows run")
	type pruned struct {
		n   int64
		err error
		d   time.Duration
	}
	done := make(chan pruned, 1)
	go func() {
		t0 := time.Now()
		n, err := prune(ctx)
		done <- pruned{n, err, time.Since(t0)}
	}()
	var p pruned
	if s.During, err = soakLatency(ctx, cl.api, 0, func() bool {
		select {
		case p = <-done:
			return true
		default:
			return false
		}
	}); err != nil {
		return s, err
	}
	if p.err != nil {
		return s, fmt.Errorf("prune: %w", p.err)
	}
	s.PruneS, s.Deleted = p.d.Seconds(), p.n
	s.DeletedPerS = ratio(float64(p.n), p.d.Seconds())

	logf("soak: %d flows after pruning", runs)
	if s.After, err = soakLatency(ctx, cl.api, runs, nil); err != nil {
		return s, err
	}
	if s.SizesAfter, err = st.TableSizes(ctx, soakTables...); err != nil {
		return s, err
	}
	return s, nil
}

// soakLatency runs one-job flows one at a time: runs of them, or, when
// stop is set, until stop says so (at least one).
func soakLatency(ctx context.Context, a *api, runs int, stop func() bool) (SoakLatency, error) {
	var starts, dones []float64
	for i := 0; stop != nil || i < runs; i++ {
		if stop != nil && i > 0 && stop() {
			break
		}
		id, err := a.submit(ctx, "one")
		if err != nil {
			return SoakLatency{}, err
		}
		e, err := a.waitEnd(ctx, id, time.Millisecond, time.Minute)
		if err != nil {
			return SoakLatency{}, err
		}
		start, _ := jobSpan(e)
		if e.EndTime == nil || start.IsZero() {
			return SoakLatency{}, fmt.Errorf("execution %d ended %s: %s", id, e.Status, e.Error)
		}
		starts = append(starts, ms(start.Sub(e.SubmitTime)))
		dones = append(dones, ms(e.EndTime.Sub(e.SubmitTime)))
	}
	return SoakLatency{Runs: len(starts), StartP50Ms: median(starts), StartP99Ms: pct(starts, 99), DoneP50Ms: median(dones)}, nil
}
