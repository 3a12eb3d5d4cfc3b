package executor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

// committer writes the reports of every execution running here together
// (group commit across executions): what the reporters hand over while a
// transaction is in flight goes into the next one, so under load several
// flows' states, logs and ends share a commit. A report that finds nothing
// in flight is written at once. Each execution's attempt is still checked
// on its own: one fenced is told so, the others are written.
type committer struct {
	e    *Executor
	once sync.Once
	kick chan struct{}

	mu      sync.Mutex
	pending []*commitReq
}

type commitReq struct {
	b    store.ReportBatch
	done chan error
}

func newCommitter(e *Executor) *committer {
	return &committer{e: e, kick: make(chan struct{}, 1)}
}

// report writes b with whatever else is pending and returns its outcome:
// nil, an error wrapping store.ErrFenced, or the database's error. When ctx
// ends first, b is written nonetheless if its transaction had begun (its
// outcome is then awaited), and not at all otherwise.
func (c *committer) report(ctx context.Context, b store.ReportBatch) error {
	c.once.Do(func() { go c.run() })
	req := &commitReq{b: b, done: make(chan error, 1)}
	c.mu.Lock()
	c.pending = append(c.pending, req)
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
	}
	c.mu.Lock()
	if i := slices.Index(c.pending, req); i >= 0 {
		c.pending = slices.Delete(c.pending, i, i+1)
		c.mu.Unlock()
		return ctx.Err()
	}
	c.mu.Unlock()
	return <-req.done
}

// run is the writer; it ends when the executor halts.
func (c *committer) run() {
	for {
		select {
		case <-c.kick:
		case <-c.e.halt.Done():
			c.mu.Lock()
			reqs := c.pending
			c.pending = nil
			c.mu.Unlock()
			for _, r := range reqs {
				r.done <- c.e.halt.Err()
			}
			return
		}
		c.mu.Lock()
		reqs := c.pending
		c.pending = nil
		c.mu.Unlock()
		if len(reqs) == 0 {
			continue
		}
		errs := c.write(reqs)
		if len(reqs) > 1 && errs[0] != nil && !isFenced(errs[0]) {
			// One batch the database refuses must not hold up the others:
			// each alone, so only its own execution waits.
			for i, r := range reqs {
				errs[i] = c.write([]*commitReq{r})[0]
			}
		}
		for i, r := range reqs {
			r.done <- errs[i]
		}
	}
}

// write writes reqs in one transaction and returns each one's outcome.
func (c *committer) write(reqs []*commitReq) []error {
	batches := make([]store.ReportBatch, len(reqs))
	for i, r := range reqs {
		batches[i] = r.b
	}
	ctx, cancel := context.WithTimeout(c.e.halt, 30*time.Second)
	defer cancel()
	fenced, err := c.e.store.ReportMany(ctx, c.e.ID(), batches)
	errs := make([]error, len(reqs))
	for i, b := range batches {
		switch {
		case err != nil:
			errs[i] = err
		case fenced[i]:
			errs[i] = fmt.Errorf("execution %d attempt %d: %w", b.ExecID, b.Attempt, store.ErrFenced)
		}
	}
	return errs
}

func isFenced(err error) bool { return errors.Is(err, store.ErrFenced) }
