// Package backoff is the one retry policy of crawlctl: exponential delays
// with a cap and optional jitter, waits that end as soon as their context
// does, and Retry, which calls a function until it succeeds, says stop, runs
// out of tries or its context ends.
package backoff

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Policy says how long to wait after each failure.
type Policy struct {
	// Base is the wait after the first failure; each further failure
	// doubles it.
	Base time.Duration
	// Max caps every wait (0 = no cap).
	Max time.Duration
	// Jitter, from 0 to 1, is the share of each wait that is left to
	// chance: a wait of d becomes one drawn from [d*(1-Jitter), d], so
	// jitter never lengthens a wait past the cap.
	Jitter float64
	// Tries bounds the calls Retry makes in all (0 = no bound).
	Tries int
}

// Delay is the wait after the failures-th failure in a row: 0 for none,
// Base for the first, twice that for the second and so on, never more than
// Max. It does not overflow however many failures there were.
func (p Policy) Delay(failures int) time.Duration {
	if failures <= 0 || p.Base <= 0 {
		return 0
	}
	limit := p.Max
	if limit <= 0 {
		limit = time.Duration(1<<63 - 1)
	}
	d := limit
	if shift := failures - 1; shift < 63 && p.Base <= limit>>shift {
		d = p.Base << shift
	}
	if j := min(max(p.Jitter, 0), 1); j > 0 {
		d -= time.Duration(rand.Float64() * j * float64(d))
	}
	return d
}

// Wait waits for d, or until ctx ends: then it returns at once with ctx's
// cause.
func Wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return context.Cause(ctx)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// stop marks an error Retry must not try again after.
type stop struct{ err error }

func (s *stop) Error() string { return s.err.Error() }
func (s *stop) Unwrap() error { return s.err }

// Stop wraps err so that Retry returns it (unwrapped) without another try.
// Stop(nil) is nil.
func Stop(err error) error {
	if err == nil {
		return nil
	}
	return &stop{err}
}

// Retry calls fn until it returns nil or an error made with Stop, p.Tries
// calls were made, or ctx ends while waiting between calls; it waits
// p.Delay(failures) before each call after the first. fn is told how many
// calls failed before this one. Retry returns fn's last error (with the
// context's cause wrapped in as well when ctx ended the waiting).
func Retry(ctx context.Context, p Policy, fn func(failures int) error) error {
	var err error
	for failures := 0; ; failures++ {
		if failures > 0 {
			if cause := Wait(ctx, p.Delay(failures)); cause != nil {
				return fmt.Errorf("%w (stopped retrying: %w)", err, cause)
			}
		}
		err = fn(failures)
		var s *stop
		if errors.As(err, &s) {
			return s.err
		}
		if err == nil || (p.Tries > 0 && failures+1 >= p.Tries) {
			return err
		}
	}
}
