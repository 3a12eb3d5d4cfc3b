package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"sync"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/store/benchdb"
)

// Limits are what this machine allows with nothing of crawlctl in the way.
type Limits struct {
	// SpawnMs is the mean time of one fork/exec/wait of `sh -c true`, one at
	// a time; SpawnsPerS its rate. SpawnsPerSParallel2 is the rate with two
	// goroutines spawning at once.
	SpawnMs             float64 `json:"spawn_ms"`
	SpawnsPerS          float64 `json:"spawns_per_s"`
	SpawnsPerSParallel2 float64 `json:"spawns_per_s_parallel_2"`
	SpawnSamples        int     `json:"spawn_samples"`
	// CommitMs is the mean time of one autocommit INSERT on one connection;
	// CommitsPerSParallel16 the commit rate of 16 connections at once.
	CommitMs              float64 `json:"commit_ms"`
	CommitsPerS           float64 `json:"commits_per_s"`
	CommitsPerSParallel16 float64 `json:"commits_per_s_parallel_16"`
	CommitSamples         int     `json:"commit_samples"`
	// HTTPRTTMs is the mean time of one GET on a kept-alive loopback
	// connection to an in-process net/http server.
	HTTPRTTMs   float64 `json:"http_rtt_ms"`
	HTTPSamples int     `json:"http_samples"`
}

func measureLimits(ctx context.Context, dsn string, cfg Config) (Limits, error) {
	var l Limits
	var err error
	if l.SpawnMs, l.SpawnsPerS, l.SpawnsPerSParallel2, err = measureSpawn(ctx, cfg.LimitSamples); err != nil {
		return l, err
	}
	l.SpawnSamples = cfg.LimitSamples
	if l.CommitMs, l.CommitsPerSParallel16, err = measureCommit(ctx, dsn, cfg.LimitSamples); err != nil {
		return l, err
	}
	l.CommitsPerS = 1000 / l.CommitMs
	l.CommitSamples = cfg.LimitSamples
	if l.HTTPRTTMs, err = measureHTTP(ctx, cfg.HTTPSamples); err != nil {
		return l, err
	}
	l.HTTPSamples = cfg.HTTPSamples
	return l, nil
}

func spawnTrue() error {
	if err := exec.Command("/bin/sh", "-c", "true").Run(); err != nil {
		return fmt.Errorf("sh -c true: %w", err)
	}
	return nil
}

// measureSpawn times n spawns one at a time, then n spawns by two goroutines.
func measureSpawn(ctx context.Context, n int) (meanMs, perS, perSParallel2 float64, err error) {
	for range 10 {
		if err := spawnTrue(); err != nil {
			return 0, 0, 0, err
		}
	}
	start := time.Now()
	for range n {
		if err := ctx.Err(); err != nil {
			return 0, 0, 0, err
		}
		if err := spawnTrue(); err != nil {
			return 0, 0, 0, err
		}
	}
	el := time.Since(start)
	meanMs, perS = ms(el)/float64(n), float64(n)/el.Seconds()

	el, err = parallel(ctx, 2, n, func(int) error { return spawnTrue() })
	if err != nil {
		return 0, 0, 0, err
	}
	return meanMs, perS, float64(n) / el.Seconds(), nil
}

// parallel runs fn n times in total from workers goroutines and returns the
// wall time.
func parallel(ctx context.Context, workers, n int, fn func(i int) error) (time.Duration, error) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		next  int
		first error
	)
	take := func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if next >= n || first != nil || ctx.Err() != nil {
			return 0, false
		}
		next++
		return next - 1, true
	}
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i, ok := take()
				if !ok {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	if first != nil {
		return el, first
	}
	return el, ctx.Err()
}

// measureCommit times n autocommit INSERTs on one connection, then 2n from
// 16 connections at once, on a pool of its own that it closes.
func measureCommit(ctx context.Context, dsn string, n int) (meanMs, perSParallel16 float64, err error) {
	st, err := benchdb.Open(ctx, dsn)
	if err != nil {
		return 0, 0, err
	}
	defer st.Close()
	if err := st.BenchCommitTable(ctx); err != nil {
		return 0, 0, err
	}
	for i := range 10 {
		if err := st.BenchCommit(ctx, int64(i)); err != nil {
			return 0, 0, err
		}
	}
	// One goroutine: the pool reuses its one idle connection.
	start := time.Now()
	for i := range n {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		if err := st.BenchCommit(ctx, int64(i)); err != nil {
			return 0, 0, err
		}
	}
	meanMs = ms(time.Since(start)) / float64(n)

	el, err := parallel(ctx, 16, 2*n, func(i int) error { return st.BenchCommit(ctx, int64(i)) })
	if err != nil {
		return 0, 0, err
	}
	return meanMs, float64(2*n) / el.Seconds(), nil
}

// measureHTTP times n GETs to a tiny in-process server on loopback over one
// kept-alive connection.
func measureHTTP(ctx context.Context, n int) (float64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	url := "http://" + ln.Addr().String() + "/ping"
	get := func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return err
	}
	for range 50 {
		if err := get(); err != nil {
			return 0, err
		}
	}
	start := time.Now()
	for range n {
		if err := get(); err != nil {
			return 0, err
		}
	}
	return ms(time.Since(start)) / float64(n), nil
}
