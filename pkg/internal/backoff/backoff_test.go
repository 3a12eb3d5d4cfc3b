package backoff

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"
)

func TestDelayDoublesUpToTheCap(t *testing.T) {
	p := Policy{Base: 100 * time.Millisecond, Max: time.Second}
	want := []time.Duration{0, 100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, time.Second, time.Second}
	for n, w := range want {
		if got := p.Delay(n); got != w {
			t.Errorf("Delay(%d) = %s, want %s", n, got, w)
		}
	}
	if got := p.Delay(-3); got != 0 {
		t.Errorf("Delay(-3) = %s", got)
	}
	if got := (Policy{Max: time.Second}).Delay(3); got != 0 {
		t.Errorf("no base: Delay(3) = %s", got)
	}
}

func TestDelayDoesNotOverflow(t *testing.T) {
	capped := Policy{Base: 3 * time.Second, Max: time.Hour}
	uncapped := Policy{Base: 3 * time.Second}
	for _, n := range []int{40, 62, 63, 64, 65, 1000, math.MaxInt} {
		if got := capped.Delay(n); got != time.Hour {
			t.Errorf("capped Delay(%d) = %s", n, got)
		}
		if got := uncapped.Delay(n); got != time.Duration(math.MaxInt64) {
			t.Errorf("uncapped Delay(%d) = %s", n, got)
		}
	}
	if got := (Policy{Base: 1, Max: time.Duration(math.MaxInt64)}).Delay(63); got != 1<<62 {
		t.Errorf("Delay(63) of 1ns = %d", got)
	}
}

func TestJitterStaysWithinBounds(t *testing.T) {
	p := Policy{Base: time.Second, Max: 4 * time.Second, Jitter: 0.5}
	for n := 1; n <= 5; n++ {
		full := Policy{Base: p.Base, Max: p.Max}.Delay(n)
		lo, hi, varied := full, time.Duration(0), false
		for range 500 {
			d := p.Delay(n)
			if d < full/2 || d > full {
				t.Fatalf("Delay(%d) = %s, outside [%s, %s]", n, d, full/2, full)
			}
			lo, hi = min(lo, d), max(hi, d)
			varied = varied || d != full
		}
		if !varied || hi-lo < full/10 {
			t.Errorf("Delay(%d): jitter spread only [%s, %s]", n, lo, hi)
		}
	}
	// Out-of-range jitter is clamped: never negative, never past the cap.
	for _, j := range []float64{-1, 2} {
		q := Policy{Base: time.Second, Max: time.Second, Jitter: j}
		for range 100 {
			if d := q.Delay(3); d < 0 || d > time.Second {
				t.Fatalf("jitter %v: Delay = %s", j, d)
			}
		}
	}
}

func TestWaitEndsAtOnceWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	why := errors.New("lease lost")
	go func() { time.Sleep(20 * time.Millisecond); cancel(why) }()
	start := time.Now()
	if err := Wait(ctx, time.Hour); !errors.Is(err, why) {
		t.Errorf("Wait = %v, want the cause", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("Wait took %s after cancel", el)
	}
	if err := Wait(ctx, 0); !errors.Is(err, why) {
		t.Errorf("Wait(done, 0) = %v", err)
	}
	if err := Wait(context.Background(), 0); err != nil {
		t.Errorf("Wait(0) = %v", err)
	}
	if err := Wait(context.Background(), time.Millisecond); err != nil {
		t.Errorf("Wait(1ms) = %v", err)
	}
}

func TestRetryUntilSuccess(t *testing.T) {
	var seen []int
	err := Retry(context.Background(), Policy{Base: time.Millisecond}, func(failures int) error {
		seen = append(seen, failures)
		if failures < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if err != nil || len(seen) != 4 || seen[3] != 3 {
		t.Errorf("err %v, calls %v", err, seen)
	}
}

func TestRetryBoundedTries(t *testing.T) {
	calls := 0
	boom := errors.New("boom")
	err := Retry(context.Background(), Policy{Base: time.Millisecond, Tries: 3}, func(int) error { calls++; return boom })
	if err != boom || calls != 3 {
		t.Errorf("err %v after %d calls", err, calls)
	}
}

func TestRetryStop(t *testing.T) {
	calls := 0
	fatal := errors.New("fatal")
	err := Retry(context.Background(), Policy{Base: time.Millisecond}, func(int) error { calls++; return Stop(fatal) })
	if err != fatal || calls != 1 {
		t.Errorf("err %v after %d calls", err, calls)
	}
	if Stop(nil) != nil {
		t.Error("Stop(nil) is not nil")
	}
}

func TestRetryStopsWaitingWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	down := errors.New("database down")
	calls := 0
	start := time.Now()
	err := Retry(ctx, Policy{Base: time.Hour}, func(int) error { calls++; cancel(); return down })
	if !errors.Is(err, down) || !errors.Is(err, context.Canceled) || calls != 1 {
		t.Errorf("err %v after %d calls", err, calls)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("Retry took %s", el)
	}
}
