package bench

import (
	"math"
	"slices"
	"time"
)

// Dist is a distribution of durations in milliseconds, with each figure's
// ratio to the limit it is compared with (0 when there is none).
type Dist struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
	// Ratios to one fork/exec of `sh -c true` (limits.spawn_ms).
	P50RatioToSpawn float64 `json:"p50_ratio_to_spawn,omitempty"`
	P90RatioToSpawn float64 `json:"p90_ratio_to_spawn,omitempty"`
	P99RatioToSpawn float64 `json:"p99_ratio_to_spawn,omitempty"`
	MaxRatioToSpawn float64 `json:"max_ratio_to_spawn,omitempty"`
}

// newDist summarises samples (milliseconds) against spawnMs.
func newDist(samples []float64, spawnMs float64) Dist {
	d := Dist{N: len(samples)}
	if len(samples) == 0 {
		return d
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	d.P50, d.P90, d.P99, d.Max = percentile(s, 50), percentile(s, 90), percentile(s, 99), s[len(s)-1]
	d.P50RatioToSpawn, d.P90RatioToSpawn = ratio(d.P50, spawnMs), ratio(d.P90, spawnMs)
	d.P99RatioToSpawn, d.MaxRatioToSpawn = ratio(d.P99, spawnMs), ratio(d.Max, spawnMs)
	return d
}

// percentile is the nearest-rank percentile p of sorted samples.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// pct is percentile p of unsorted samples.
func pct(samples []float64, p float64) float64 {
	s := slices.Clone(samples)
	slices.Sort(s)
	return percentile(s, p)
}

func median(samples []float64) float64 { return pct(samples, 50) }

// ratio is a / b, 0 when b is not positive.
func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
