// Package alert delivers the alerts of the database's outbox: an
// execution that FAILED, was KILLED or (with success recipients) SUCCEEDED,
// and an executor lost with flows. The store writes each alert in the
// transaction of the change that causes it; a Deliverer (one per web
// server) claims due alerts with a conditional update, renders them from
// the database (the execution, its failed jobs and the tail of their
// logs) and sends them to each configured channel: email (SMTP) to the
// flow's recipients and the cluster's, and a webhook. A channel that took
// an alert is recorded at once, so a retry after another channel failed
// never sends to it twice; a channel that fails is retried with backoff
// until the alert is older than GiveUpAfter, then the alert is FAILED with
// the last error.
package alert

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/crawlctl/crawlctl/pkg/internal/backoff"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

// Config is the alert channels of a web server and how it delivers.
type Config struct {
	// ExternalURL is the web server's address as users reach it; links
	// point to ExternalURL + "/ui/executions/ID".
	ExternalURL string
	Mail        MailConfig
	Webhook     WebhookConfig
	// Server names this web server in the attempts it records.
	Server string
	// Poll is how often the outbox is checked (default 1 s).
	Poll time.Duration
	// Lease is how long a claim holds before another web server may take
	// the alert (default 2 min; longer than any send may take).
	Lease time.Duration
	// GiveUpAfter ends the retries of an alert this old (default 24 h).
	GiveUpAfter time.Duration
	// Retry spaces the retries (default 5 s doubling to 10 min).
	Retry backoff.Policy
	// LogLines is how many last lines of each failed job's log an alert
	// carries (default 20).
	LogLines int
}

func (c *Config) defaults() {
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	if c.Lease <= 0 {
		c.Lease = 2 * time.Minute
	}
	if c.GiveUpAfter <= 0 {
		c.GiveUpAfter = 24 * time.Hour
	}
	if c.Retry.Base <= 0 {
		c.Retry = backoff.Policy{Base: 5 * time.Second, Max: 10 * time.Minute}
	}
	if c.LogLines <= 0 {
		c.LogLines = 20
	}
	if c.Server == "" {
		c.Server, _ = os.Hostname()
	}
	if c.Mail.Port == 0 {
		c.Mail.Port = 25
	}
	if c.Mail.Timeout <= 0 {
		c.Mail.Timeout = 30 * time.Second
	}
	if c.Webhook.Timeout <= 0 {
		c.Webhook.Timeout = 15 * time.Second
	}
	c.ExternalURL = strings.TrimRight(c.ExternalURL, "/")
}

// Channel names.
const (
	ChannelEmail   = "email"
	ChannelWebhook = "webhook"
)

// channel sends one rendered alert.
type channel interface {
	name() string
	// send delivers m; skip reports that m has nothing for this channel
	// (an email with no recipients).
	send(ctx context.Context, m *Message) (skip bool, err error)
}

// Deliverer sends the outbox's alerts.
type Deliverer struct {
	cfg      Config
	st       *store.Store
	log      zerolog.Logger
	channels []channel
	wake     chan struct{}
	mu       sync.Mutex
}

// New makes a deliverer for the channels cfg configures.
func New(cfg Config, st *store.Store, log zerolog.Logger) (*Deliverer, error) {
	cfg.defaults()
	d := &Deliverer{cfg: cfg, st: st, log: log, wake: make(chan struct{}, 1)}
	if cfg.Mail.Host != "" {
		m, err := newMailer(cfg.Mail)
		if err != nil {
			return nil, err
		}
		d.channels = append(d.channels, m)
	}
	if cfg.Webhook.URL != "" {
		w, err := newWebhook(cfg.Webhook)
		if err != nil {
			return nil, err
		}
		d.channels = append(d.channels, w)
	}
	return d, nil
}

// Channels names the configured channels.
func (d *Deliverer) Channels() []string {
	out := []string{}
	for _, c := range d.channels {
		out = append(out, c.name())
	}
	return out
}

// Wake makes Run look at the outbox now.
func (d *Deliverer) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends. With no channel configured it does nothing:
// alerts wait PENDING for a web server that has one (or until they are too
// old).
func (d *Deliverer) Run(ctx context.Context) {
	if len(d.channels) == 0 {
		d.log.Info().Msg("no alert channel configured (--mail-host, --webhook-url): alerts stay pending in the database")
		return
	}
	t := time.NewTicker(d.cfg.Poll)
	defer t.Stop()
	for {
		if _, err := d.DeliverDue(ctx); err != nil && ctx.Err() == nil {
			d.log.Error().Err(err).Msg("alert delivery failed")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.wake:
		}
	}
}

// DeliverDue claims the due alerts and sends each; it returns how many it
// finished (sent or given up).
func (d *Deliverer) DeliverDue(ctx context.Context) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	claimed, err := d.st.ClaimAlerts(ctx, d.cfg.Server, d.cfg.Lease, 32)
	finished := 0
	for _, a := range claimed {
		ok, ferr := d.deliver(ctx, a)
		if ferr != nil {
			err = errors.Join(err, ferr)
		}
		if ok {
			finished++
		}
	}
	return finished, err
}

// deliver sends a to every channel that has not taken it, then finishes
// its claim; it reports whether a is done (sent or given up).
func (d *Deliverer) deliver(ctx context.Context, a *store.Alert) (bool, error) {
	log := d.log.With().Int64("alert", a.ID).Str("kind", a.Kind).Int64("execution", a.ExecutionID).Logger()
	m, err := d.render(ctx, a)
	var failures []string
	if err != nil {
		failures = append(failures, "render: "+err.Error())
	} else {
		for _, c := range d.channels {
			if contains(a.Done, c.name()) {
				continue
			}
			// Every send ends well within the lease, so no other web server
			// takes the alert while this one may still deliver it.
			sctx, cancel := context.WithTimeout(ctx, d.cfg.Lease/time.Duration(len(d.channels)+1))
			skip, serr := c.send(sctx, m)
			cancel()
			if skip {
				continue
			}
			msg := ""
			if serr != nil {
				msg = serr.Error()
				failures = append(failures, c.name()+": "+msg)
				log.Warn().Str("channel", c.name()).Err(serr).Msg("alert not delivered; it will be retried")
			} else {
				log.Info().Str("channel", c.name()).Msg("alert delivered")
			}
			if rerr := d.st.AlertDelivered(ctx, a, c.name(), serr == nil, msg); rerr != nil {
				return false, rerr
			}
		}
	}
	if len(failures) == 0 {
		return true, d.st.FinishAlert(ctx, a, "", 0, false)
	}
	wait := d.cfg.Retry.Delay(a.Attempts)
	giveUp := a.Age+wait > d.cfg.GiveUpAfter
	errText := strings.Join(failures, "; ")
	if giveUp {
		errText = fmt.Sprintf("gave up after %d attempts over %s: %s", a.Attempts, a.Age.Round(time.Second), errText)
		log.Error().Str("error", errText).Msg("alert given up")
	}
	return giveUp, d.st.FinishAlert(ctx, a, errText, wait, giveUp)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Test sends a test message through the named channel at once (not
// through the outbox); to overrides an email channel's recipients.
func (d *Deliverer) Test(ctx context.Context, name string, to []string) error {
	for _, c := range d.channels {
		if c.name() != name {
			continue
		}
		if len(to) == 0 {
			to = d.cfg.Mail.To
		}
		m := testMessage(d.cfg.ExternalURL, to)
		skip, err := c.send(ctx, m)
		if skip {
			return errors.New("no recipient: give --to or set --mail-to on the web server")
		}
		return err
	}
	configured := strings.Join(d.Channels(), ", ")
	if configured == "" {
		configured = "none; set --mail-host or --webhook-url"
	}
	return fmt.Errorf("no alert channel %q on this web server (configured: %s)", name, configured)
}
