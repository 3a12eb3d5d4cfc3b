// Package dispatch assigns queued executions to executors and recovers from
// everything that can go wrong on the way: it picks a uniformly random
// eligible executor in the same transaction that marks the execution
// DISPATCHING, nudges the executor over HTTP, re-queues on refusal, and its
// reaper re-queues or fails the work of executors that went offline. The web
// server runs one Dispatcher; several web servers may run against one
// database, because every step is a transaction or a conditional update.
package dispatch

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/crawlctl/crawlctl/pkg/internal/labels"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

// Config tunes the dispatcher.
type Config struct {
	// OfflineAfter is how old a heartbeat may be before an executor is
	// offline (database clock).
	OfflineAfter time.Duration
	// Poll is how often the queue is checked for rows submitted through
	// another web server (a local submit wakes the dispatcher at once).
	Poll time.Duration
	// ClaimTimeout re-queues a DISPATCHING execution its executor did not claim.
	ClaimTimeout time.Duration
	// MaxDispatchFailures bounds refusals before an execution fails.
	MaxDispatchFailures int
	// Batch is how many queued rows one transaction takes.
	Batch int
	// NudgeTimeout bounds the HTTP "execute" call.
	NudgeTimeout time.Duration
	// ClusterSecret is presented to executors with every nudge.
	ClusterSecret string
	// TLS is the client configuration for executors serving HTTPS.
	TLS *tls.Config
	// ViewMaxAge is how long the executors read from the database are used
	// before they are read again (see Pool).
	ViewMaxAge time.Duration
	// MaxNudges bounds the HTTP calls to executors under way at once; the
	// dispatch loop never waits for them.
	MaxNudges int
}

func (c *Config) defaults() {
	if c.OfflineAfter <= 0 {
		c.OfflineAfter = 30 * time.Second
	}
	if c.Poll <= 0 {
		c.Poll = 500 * time.Millisecond
	}
	if c.ClaimTimeout <= 0 {
		c.ClaimTimeout = 15 * time.Second
	}
	if c.MaxDispatchFailures <= 0 {
		c.MaxDispatchFailures = DefaultMaxFailures
	}
	if c.Batch <= 0 {
		c.Batch = 64
	}
	if c.NudgeTimeout <= 0 {
		c.NudgeTimeout = 5 * time.Second
	}
	if c.ViewMaxAge <= 0 {
		c.ViewMaxAge = time.Second
	}
	if c.MaxNudges <= 0 {
		c.MaxNudges = 64
	}
}

// policy is the bound and backoff of dispatch failures.
func (c *Config) policy() store.DispatchPolicy { return Policy(c.MaxDispatchFailures) }

// Dispatcher is the web server's dispatch loop and reaper.
type Dispatcher struct {
	cfg    Config
	store  *store.Store
	log    zerolog.Logger
	client *ExecutorClient
	wake   chan struct{}
	pool   *Pool
	ctx    context.Context // Run's, for nudges of assignments made elsewhere
	ready  chan struct{}   // closed once ctx is set
	// nudges bounds the nudges under way; inflight lets Run wait for them.
	nudges   chan struct{}
	inflight sync.WaitGroup
	db       dbHealth
	// probed is when each executor that refused the cluster secret was
	// last called to see whether it accepts it now.
	probeMu sync.Mutex
	probed  map[int64]time.Time
	offline offlineAlerts

	// OnAssign, if set, is told how long each assigned execution waited
	// since its submit; OnNudge the outcome of each nudge (for metrics).
	OnAssign func(waited time.Duration)
	OnNudge  func(outcome string)
}

// New makes a dispatcher; call Run to start it.
func New(cfg Config, st *store.Store, log zerolog.Logger) *Dispatcher {
	cfg.defaults()
	return &Dispatcher{
		cfg: cfg, store: st, log: log,
		client:  NewExecutorClient(cfg.NudgeTimeout, cfg.TLS, cfg.ClusterSecret),
		wake:    make(chan struct{}, 1),
		pool:    NewPool(st, cfg.OfflineAfter, cfg.ViewMaxAge),
		ready:   make(chan struct{}),
		nudges:  make(chan struct{}, cfg.MaxNudges),
		db:      dbHealth{since: time.Now()},
		probed:  map[int64]time.Time{},
		offline: offlineAlerts{done: map[int64]time.Time{}},
	}
}

// Choose picks an executor for ex from the dispatcher's view of the
// executors and counts ex against it (a ChooseFunc that never reads the
// database: call Refresh first, outside the transaction).
func (d *Dispatcher) Choose(ctx context.Context, ex *store.Execution) (*store.Executor, string, error) {
	return d.pool.Choose(ctx, ex)
}

// Refresh brings the view of the executors up to date when it is due.
func (d *Dispatcher) Refresh(ctx context.Context) error { return d.pool.Refresh(ctx) }

// ExecutorsChanged makes the next choice read the executors again (after an
// activation, say).
func (d *Dispatcher) ExecutorsChanged() { d.pool.Invalidate() }

// Assigned nudges the executor of an assignment made outside the dispatch
// loop (a submission assigned in its own transaction).
func (d *Dispatcher) Assigned(a Assignment) {
	select {
	case <-d.ready:
	default:
		return // not running: the executor's poll claims it
	}
	if d.OnAssign != nil {
		d.OnAssign(time.Since(a.Execution.SubmitTime))
	}
	d.startNudge(d.ctx, a)
}

// startNudge sends the nudge of a in the background, at most MaxNudges at
// once; past that it waits for a place, so nothing is dropped. An executor
// that hangs delays only its own nudges.
func (d *Dispatcher) startNudge(ctx context.Context, a Assignment) {
	d.inflight.Add(1)
	go func() {
		defer d.inflight.Done()
		select {
		case d.nudges <- struct{}{}:
		case <-ctx.Done():
			return // the executor's poll claims it
		}
		defer func() { <-d.nudges }()
		d.nudge(ctx, a)
	}()
}

// Wake makes the dispatcher look at the queue now.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run dispatches and reaps until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) {
	d.ctx = ctx
	close(d.ready)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); d.reapLoop(ctx) }()
	t := time.NewTicker(d.cfg.Poll)
	defer t.Stop()
	for {
		for d.dispatchOnce(ctx) {
		}
		select {
		case <-ctx.Done():
			wg.Wait()
			d.inflight.Wait()
			return
		case <-t.C:
		case <-d.wake:
		}
	}
}

// dispatchOnce assigns one batch and nudges the chosen executors; it reports
// whether a full batch was taken (more may be waiting).
func (d *Dispatcher) dispatchOnce(ctx context.Context) bool {
	err := d.pool.Refresh(ctx)
	var as []Assignment
	if err == nil {
		as, err = AssignDue(ctx, d.store, d.cfg.Batch, d.pool.Choose)
	}
	if err != nil {
		if ctx.Err() == nil {
			d.db.failed()
			d.log.Error().Err(err).Msg("dispatch failed")
		}
		return false
	}
	for _, a := range as {
		if d.OnAssign != nil {
			d.OnAssign(time.Since(a.Execution.SubmitTime))
		}
		d.startNudge(ctx, a)
	}
	return len(as) == d.cfg.Batch
}

// Choose returns a uniformly random executor among those eligible for ex —
// active, online, below max_flows and carrying every label of ex's
// selector; the pinned one only, active or not, when ex is pinned (it must
// still match the selector) — preferring executors not excluded by earlier
// dispatch failures. With none it returns nil and why the execution waits.
func Choose(ex *store.Execution, executors []*store.Executor, offlineAfter time.Duration, rnd *rand.Rand) (*store.Executor, string) {
	hasRoom := func(e *store.Executor) bool { return e.MaxFlows <= 0 || e.RunningFlows < e.MaxFlows }
	if ex.PinnedExecutorID != nil {
		for _, e := range executors {
			if e.ID != *ex.PinnedExecutorID {
				continue
			}
			switch {
			case !labels.Matches(e.Labels, ex.Selector):
				return nil, fmt.Sprintf("waiting: pinned executor %s lacks %s (selector %s)", e.Name, strings.Join(labels.Missing(e.Labels, ex.Selector), ","), labels.String(ex.Selector))
			case e.Status(offlineAfter) != store.StatusOnline:
				return nil, fmt.Sprintf("waiting: pinned executor %s (%s) is %s", e.Name, e.Addr(), e.Status(offlineAfter))
			case !hasRoom(e):
				return nil, fmt.Sprintf("waiting: pinned executor %s is full (%d of %d flows)", e.Name, e.RunningFlows, e.MaxFlows)
			case e.SecretRefused != "":
				return nil, fmt.Sprintf("waiting: pinned executor %s refused the cluster secret (%s)", e.Name, e.SecretRefused)
			}
			return e, ""
		}
		return nil, fmt.Sprintf("waiting: pinned executor %d no longer exists", *ex.PinnedExecutorID)
	}
	var fresh, excluded []*store.Executor
	activeOnline, refused, unmatched := 0, 0, 0
	for _, e := range executors {
		if !e.Active || e.Status(offlineAfter) != store.StatusOnline {
			continue
		}
		if !labels.Matches(e.Labels, ex.Selector) {
			unmatched++
			continue
		}
		activeOnline++
		if e.SecretRefused != "" {
			refused++ // offered nothing until it accepts a call again
			continue
		}
		if !hasRoom(e) {
			continue
		}
		if slices.Contains(ex.Excluded, e.ID) {
			excluded = append(excluded, e)
		} else {
			fresh = append(fresh, e)
		}
	}
	pool := fresh
	if len(pool) == 0 {
		pool = excluded // every eligible one refused before: try again (bounded by MaxDispatchFailures)
	}
	if len(pool) == 0 {
		if activeOnline == 0 && len(ex.Selector) > 0 {
			return nil, fmt.Sprintf("waiting: no active online executor with %s (%d active ones lack it; label one with `crawlctl executor label REF %s`)",
				labels.String(ex.Selector), unmatched, labels.String(ex.Selector))
		}
		if activeOnline == 0 {
			return nil, "waiting: no active online executor (activate one with `crawlctl executor activate REF`)"
		}
		if refused == activeOnline {
			return nil, fmt.Sprintf("waiting: all %d active online executors refused the cluster secret (secret mismatch: give web servers and executors the same --cluster-secret-file)", activeOnline)
		}
		return nil, fmt.Sprintf("waiting: all %d active online executors are full (--max-flows)", activeOnline)
	}
	return pool[rnd.IntN(len(pool))], ""
}

// nudge tells the chosen executor to claim now. A refusal re-queues the
// execution without that executor. Any failure to reach it (refused
// connection, timeout) leaves the execution DISPATCHING: the executor's
// heartbeat is fresh (it was chosen as online), so it may just be
// unreachable from here (NAT, firewall, a bind address the web server cannot
// reach) and claims through its own poll; one that is really gone is
// re-queued by the claim timeout or the reaper, which count it as a dispatch
// failure.
func (d *Dispatcher) nudge(ctx context.Context, a Assignment) {
	outcome := d.sendNudge(ctx, a)
	if d.OnNudge != nil {
		d.OnNudge(outcome)
	}
}

// sendNudge does the HTTP call and reacts to its answer; it returns the
// outcome: delivered, requeued or undelivered.
func (d *Dispatcher) sendNudge(ctx context.Context, a Assignment) string {
	log := d.log.With().Int64("execution", a.ExecutionID).Int64("executor_id", a.Executor.ID).Str("executor", a.Executor.Addr()).Logger()
	resp, err := d.post(ctx, a.Executor, url.Values{"action": {"execute"}, "execid": {strconv.FormatInt(a.ExecutionID, 10)}, "attempt": {strconv.Itoa(a.Attempt)}})
	if err != nil {
		if ctx.Err() == nil {
			log.Warn().Err(err).Msg("nudge did not arrive; the executor's own poll will pick the execution up")
		}
		return "undelivered"
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		d.secretAccepted(ctx, a.Executor)
		return "delivered"
	}
	var body struct {
		Error string `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode == http.StatusConflict {
		// Already claimed by the executor's poll, or cancelled meanwhile.
		log.Debug().Str("reply", body.Error).Msg("nudge not needed")
		return "delivered"
	}
	if resp.StatusCode == http.StatusUnauthorized {
		reason := d.secretRefused(ctx, a.Executor, body.Error)
		d.requeue(ctx, a, fmt.Sprintf("executor %s (%s) refused the cluster secret: %s", a.Executor.Name, a.Executor.Addr(), reason))
		return "requeued"
	}
	d.secretAccepted(ctx, a.Executor)
	if resp.StatusCode != http.StatusServiceUnavailable {
		// Not a refusal (a database error on its side, a misconfigured
		// secret): the execution stays DISPATCHING for its poll.
		log.Warn().Int("status", resp.StatusCode).Str("reply", body.Error).Msg("nudge not taken; the executor's own poll will pick the execution up")
		return "undelivered"
	}
	d.requeue(ctx, a, fmt.Sprintf("executor %s (%s) said no: %s", a.Executor.Name, a.Executor.Addr(), body.Error))
	return "requeued"
}

// post calls the executor's servlet with the cluster secret.
func (d *Dispatcher) post(ctx context.Context, e *store.Executor, q url.Values) (*http.Response, error) {
	return d.client.Post(ctx, net.JoinHostPort(e.Host, strconv.Itoa(e.Port)), e.TLS, q)
}

func (d *Dispatcher) requeue(ctx context.Context, a Assignment, reason string) {
	p := d.cfg.policy()
	n := a.Execution.DispatchFailures + 1
	changed, failed, err := d.store.Requeue(ctx, store.DispatchFailure{ID: a.ExecutionID, Attempt: a.Attempt, ExecutorID: a.Executor.ID,
		Failures: a.Execution.DispatchFailures, Excluded: a.Execution.Excluded, Reason: reason}, p)
	if err != nil {
		d.log.Error().Err(err).Int64("execution", a.ExecutionID).Msg("re-queue failed; the claim timeout will retry")
		return
	}
	if !changed {
		return // claimed, cancelled or re-queued meanwhile
	}
	ev := d.log.Warn().Int64("execution", a.ExecutionID).Str("reason", reason)
	if failed {
		ev.Msg("execution failed: too many dispatch failures")
		return
	}
	wait := p.Backoff(n)
	ev.Dur("backoff", wait).Msg("dispatch refused; re-queued without that executor")
	time.AfterFunc(wait, d.Wake)
}

// reapLoop re-queues or fails the executions of lost executors and the
// dispatches nobody claimed.
func (d *Dispatcher) reapLoop(ctx context.Context) {
	every := min(d.cfg.OfflineAfter/3, time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// A database that stalls is as good as down: a reap that cannot
		// finish in a third of the threshold gives up and counts as a
		// failure (see dbHealth).
		rctx, cancel := context.WithTimeout(ctx, d.stallLimit())
		n, err := d.Reap(rctx)
		if err == nil {
			d.alertOffline(rctx)
		}
		cancel()
		d.probeRefused(ctx)
		if err != nil && ctx.Err() == nil {
			d.log.Error().Err(err).Msg("reaper failed")
		} else if n > 0 {
			d.Wake()
		}
	}
}

// dbHealth remembers since when this web server has reached the database
// without a failure. A web server that lost the database itself cannot tell
// a lost executor from an outage that every executor saw too, so it reaps
// nobody until the executors have had a full offline threshold of reachable
// database to heartbeat again. A stall counts as an outage: a query that
// took longer than the stall limit, or a gap that long between two
// successes, starts the count again.
type dbHealth struct {
	mu      sync.Mutex
	since   time.Time // start of the current run of successes
	last    time.Time // the last success
	failing bool
}

func (h *dbHealth) failed() {
	h.mu.Lock()
	h.failing = true
	h.mu.Unlock()
}

// ok records a success of a query that started at start.
func (h *dbHealth) ok(start time.Time, stall time.Duration) {
	now := time.Now()
	h.mu.Lock()
	if h.failing || now.Sub(start) > stall || (!h.last.IsZero() && now.Sub(h.last) > stall) {
		h.failing, h.since = false, now
	}
	h.last = now
	h.mu.Unlock()
}

// reachableFor is how long the database has been reachable without a
// failure (0 while failing).
func (h *dbHealth) reachableFor() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failing {
		return 0
	}
	return time.Since(h.since)
}

// stallLimit is how long a database round trip or a gap between two may
// take before it counts as an outage.
func (d *Dispatcher) stallLimit() time.Duration { return max(d.cfg.OfflineAfter/3, 3*time.Second) }

// Reap handles every execution whose executor is gone or that was not
// claimed in time; it returns how many it changed. The offline threshold it
// judges by is the larger of its own and the one recorded in the database
// (the one executors size their lease from), so no executor is declared
// lost while its lease may still hold.
func (d *Dispatcher) Reap(ctx context.Context) (int, error) {
	start := time.Now()
	owners, err := d.store.ActiveExecutions(ctx)
	if err != nil {
		d.db.failed()
		return 0, err
	}
	d.db.ok(start, d.stallLimit())
	if len(owners) == 0 {
		return 0, nil
	}
	shared, err := d.store.OfflineAfter(ctx)
	if err != nil {
		d.db.failed()
		return 0, err
	}
	if shared == 0 {
		shared = store.DefaultOfflineAfter // what executors assume meanwhile
	}
	offline := max(d.cfg.OfflineAfter, shared)
	if up := d.db.reachableFor(); up < offline {
		// Right after this web server's own outage (or its start): the
		// executors may not have had the time to heartbeat again.
		return 0, nil
	}
	executors, err := d.store.ListExecutors(ctx)
	if err != nil {
		d.db.failed()
		return 0, err
	}
	byID := map[int64]*store.Executor{}
	for _, e := range executors {
		byID[e.ID] = e
	}
	changed := 0
	lost := map[int64]string{}
	for _, o := range owners {
		e := byID[o.ExecutorID]
		var reason string
		lostAfter := offline
		if e != nil {
			// Never before the lease it granted itself could have run out,
			// whatever threshold was recorded since.
			lostAfter = max(offline, e.Lease*3/2)
		}
		switch {
		case e == nil:
			reason = fmt.Sprintf("executor lost: executor %d was removed", o.ExecutorID)
		case e.Status(lostAfter) != store.StatusOnline:
			reason = fmt.Sprintf("executor lost: %s (%s) is %s", e.Name, e.Addr(), e.Status(lostAfter))
			o.ExecutorLost = true
		case o.Status == store.ExecDispatching && o.Dispatched > d.cfg.ClaimTimeout:
			reason = fmt.Sprintf("not claimed by executor %s (%s) within %s", e.Name, e.Addr(), d.cfg.ClaimTimeout)
		default:
			continue
		}
		ok, err := d.store.ReapExecution(ctx, o, reason, d.cfg.policy())
		if err != nil {
			return changed, err
		}
		if ok {
			changed++
			d.log.Warn().Int64("execution", o.ID).Str("was", o.Status).Str("reason", reason).Msg("reaped execution")
			if e != nil && o.Status != store.ExecDispatching {
				lost[e.ID] = reason
			}
		}
	}
	for id, reason := range lost {
		if err := d.store.RecordLost(ctx, id, reason); err != nil {
			d.log.Warn().Err(err).Msg("could not record LOST event")
		}
	}
	return changed, nil
}

// Tell lets an executor know at once that its row changed (activation), so
// that it reads it and looks for work now rather than at its next heartbeat
// and poll. Best effort: the database already holds the change, and the
// executor's claims check it there.
func (d *Dispatcher) Tell(e *store.Executor) {
	d.tell(e, url.Values{"action": {"refresh"}}, "could not tell the executor of its activation; it follows the database at its next heartbeat")
}

// TellCancel lets the executor of ex know at once that ex is being
// cancelled. Best effort, in the background: the database says KILLING
// already, and the executor finds KILLING rows of its own at its next poll.
func (d *Dispatcher) TellCancel(ex *store.Execution, user string) {
	host, port, err := net.SplitHostPort(ex.ExecutorAddr)
	p, perr := strconv.Atoi(port)
	if err != nil || perr != nil {
		return
	}
	e := &store.Executor{Host: host, Port: p, TLS: ex.ExecutorTLS}
	d.tell(e, url.Values{"action": {"cancel"}, "execid": {strconv.FormatInt(ex.ID, 10)}, "user": {user}},
		"cancel nudge failed; the executor's poll will see KILLING")
}

// tell sends an order the database already holds to an executor, in the
// background, sharing the bound on calls under way with the nudges (Run
// waits for it at shutdown); failing is logged at debug level with msg.
func (d *Dispatcher) tell(e *store.Executor, q url.Values, msg string) {
	select {
	case <-d.ready:
	default:
		return // not running: the executor follows the database at its next poll
	}
	if d.ctx.Err() != nil {
		return
	}
	d.inflight.Add(1)
	go func() {
		defer d.inflight.Done()
		select {
		case d.nudges <- struct{}{}:
		case <-d.ctx.Done():
			return
		}
		defer func() { <-d.nudges }()
		ctx, cancel := context.WithTimeout(d.ctx, min(d.cfg.NudgeTimeout, 3*time.Second))
		defer cancel()
		if err := d.call(ctx, e, q); err != nil {
			d.log.Debug().Err(err).Str("executor", e.Addr()).Str("action", q.Get("action")).Msg(msg)
		}
	}()
}

// refresh calls the executor's refresh action and records whether it
// accepted the cluster secret; an error means no answer came.
func (d *Dispatcher) refresh(ctx context.Context, e *store.Executor) error {
	return d.call(ctx, e, url.Values{"action": {"refresh"}})
}

// call sends q to the executor e and, when e is a known row, records
// whether it accepted the cluster secret; an error means no answer came.
func (d *Dispatcher) call(ctx context.Context, e *store.Executor, q url.Values) error {
	resp, err := d.post(ctx, e, q)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if e.ID == 0 {
		return nil
	}
	if resp.StatusCode == http.StatusUnauthorized {
		var body struct {
			Error string `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		d.secretRefused(ctx, e, body.Error)
		return nil
	}
	d.secretAccepted(ctx, e)
	return nil
}

// secretRefused records in the database that e refused this web server's
// cluster secret, so that no web server offers it work, and returns why in
// words: no secret sent, or a wrong one.
func (d *Dispatcher) secretRefused(ctx context.Context, e *store.Executor, reply string) string {
	reason := "secret mismatch: this web server sent a cluster secret the executor does not have (their --cluster-secret-file differ)"
	if d.cfg.ClusterSecret == "" {
		reason = "no cluster secret sent: this web server has none (--insecure) and the executor requires one (give both the same --cluster-secret-file)"
	}
	changed, err := d.store.SetSecretRefused(ctx, e.ID, reason, "web server")
	if err != nil {
		d.log.Error().Err(err).Msg("could not record the refused cluster secret")
	}
	if changed || e.SecretRefused == "" {
		d.pool.Invalidate()
		d.log.Error().Int64("executor_id", e.ID).Str("executor", e.Addr()).Str("reply", reply).Str("reason", reason).
			Msg("executor refused the cluster secret; it is offered no work until it accepts a call")
	}
	return reason
}

// secretAccepted clears a refusal the database recorded for e, now that it
// accepted a call (only a call can show that; a heartbeat cannot).
func (d *Dispatcher) secretAccepted(ctx context.Context, e *store.Executor) {
	if e.SecretRefused == "" && e.SecretRefusedAt == nil {
		return
	}
	changed, err := d.store.ClearSecretRefused(ctx, e.ID, "web server")
	if err != nil {
		d.log.Error().Err(err).Msg("could not record the accepted cluster secret")
		return
	}
	if changed {
		d.pool.Invalidate()
		d.Wake()
		d.log.Info().Int64("executor_id", e.ID).Str("executor", e.Addr()).Msg("executor accepts the cluster secret again; it is offered work")
	}
}

// probeRefused calls, every few seconds, each online executor that the
// database says refused the cluster secret: the first call it accepts (its
// secret was fixed and it restarted, or this web server's) clears the mark.
func (d *Dispatcher) probeRefused(ctx context.Context) {
	for _, e := range d.pool.refused() {
		d.probeMu.Lock()
		last := d.probed[e.ID]
		due := time.Since(last) >= probeEvery
		if due {
			d.probed[e.ID] = time.Now()
		}
		d.probeMu.Unlock()
		if !due {
			continue
		}
		d.inflight.Add(1)
		go func() {
			defer d.inflight.Done()
			pctx, cancel := context.WithTimeout(ctx, min(d.cfg.NudgeTimeout, 3*time.Second))
			defer cancel()
			_ = d.refresh(pctx, e)
		}()
	}
}

// probeEvery is how often an executor that refused the cluster secret is
// called to see whether it accepts it now.
const probeEvery = 2 * time.Second
