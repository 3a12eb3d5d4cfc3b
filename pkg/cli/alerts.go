package cli

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/crawlctl/crawlctl/pkg/api"
	"github.com/crawlctl/crawlctl/pkg/internal/alert"
	"github.com/crawlctl/crawlctl/pkg/internal/backoff"
	"github.com/crawlctl/crawlctl/pkg/internal/labels"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/webserver"
)

// alertSettings are the web server's alert channels. Their config file
// keys are the flag names (mail-host: ...); Azkaban's dotted names
// (mail.host, mail.sender, ...) are accepted for them too.
type alertSettings struct {
	externalURL                      string
	mailHost, mailSender, mailUser   string
	mailPassword, mailPasswordFile   string
	mailTLS, mailCA                  string
	mailPort                         int
	mailTo                           []string
	webhookURL, webhookFormat        string
	webhookSecret, webhookSecretFile string
	giveUp, poll, retry, lease       time.Duration
}

func (a *alertSettings) flags(f *pflag.FlagSet) {
	f.StringVar(&a.externalURL, "external-url", "", "this web server's address as users reach it (https://crawlctl.example.com); alerts link to its /ui/executions/ID")
	f.StringVar(&a.mailHost, "mail-host", "", "SMTP server for alert emails (Azkaban's mail.host); empty = no email")
	f.IntVar(&a.mailPort, "mail-port", 25, "SMTP port (Azkaban's mail.port): 25 or 587 with STARTTLS, 465 with --mail-tls tls")
	f.StringVar(&a.mailSender, "mail-sender", "", "From address of alert emails (Azkaban's mail.sender)")
	f.StringVar(&a.mailUser, "mail-user", "", "SMTP user (Azkaban's mail.user); empty = no authentication")
	f.StringVar(&a.mailPassword, "mail-password", "", "SMTP password (Azkaban's mail.password); prefer --mail-password-file or CRAWLCTL_MAIL_PASSWORD")
	f.StringVar(&a.mailPasswordFile, "mail-password-file", "", "read the SMTP password from this file")
	f.StringVar(&a.mailTLS, "mail-tls", "auto", "auto (STARTTLS when offered), starttls (required; Azkaban's mail.tls=true), tls (implicit, port 465) or none")
	f.StringVar(&a.mailCA, "mail-ca-cert", "", "CA certificate (PEM) to trust for the SMTP server")
	f.StringArrayVar(&a.mailTo, "mail-to", nil, "address that receives every alert, besides each flow's failure.emails/success.emails (repeatable)")
	f.StringVar(&a.webhookURL, "webhook-url", "", "URL to POST every alert to (JSON; see README, Alerts); empty = no webhook")
	f.StringVar(&a.webhookFormat, "webhook-format", "json", "webhook body: json (documented), slack or dingtalk")
	f.StringVar(&a.webhookSecret, "webhook-secret", "", "sign webhook bodies with HMAC-SHA256 (header X-Crawlctl-Signature); prefer --webhook-secret-file")
	f.StringVar(&a.webhookSecretFile, "webhook-secret-file", "", "read the webhook signing secret from this file")
	f.DurationVar(&a.giveUp, "alert-give-up", 24*time.Hour, "stop retrying an alert this long after it was written (it is then FAILED with the last error)")
	f.DurationVar(&a.poll, "alert-poll", time.Second, "how often to look for alerts to send")
	f.DurationVar(&a.retry, "alert-retry", 5*time.Second, "wait before the first retry of an alert (doubling, at most 10m)")
	f.DurationVar(&a.lease, "alert-lease", 2*time.Minute, "how long a web server holds an alert it is sending before another may take it")
}

func readSecret(value, file, flag string) (string, error) {
	if file == "" {
		return value, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", usageErr("--%s: %v", flag, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// build makes the deliverer.
func (a *alertSettings) build(st *store.Store, log zerolog.Logger) (*alert.Deliverer, error) {
	pass, err := readSecret(a.mailPassword, a.mailPasswordFile, "mail-password-file")
	if err != nil {
		return nil, err
	}
	secret, err := readSecret(a.webhookSecret, a.webhookSecretFile, "webhook-secret-file")
	if err != nil {
		return nil, err
	}
	for name, d := range map[string]time.Duration{"--alert-give-up": a.giveUp, "--alert-poll": a.poll, "--alert-retry": a.retry, "--alert-lease": a.lease} {
		if d <= 0 {
			return nil, usageErr("bad %s %s: must be positive", name, d)
		}
	}
	cfg := alert.Config{ExternalURL: a.externalURL, GiveUpAfter: a.giveUp, Poll: a.poll, Lease: a.lease,
		Retry:   backoff.Policy{Base: a.retry, Max: 10 * time.Minute},
		Mail:    alert.MailConfig{Host: a.mailHost, Port: a.mailPort, Sender: a.mailSender, User: a.mailUser, Password: pass, TLS: a.mailTLS, To: a.mailTo},
		Webhook: alert.WebhookConfig{URL: a.webhookURL, Format: a.webhookFormat, Secret: secret}}
	if a.mailCA != "" {
		t, err := caPool(a.mailCA)
		if err != nil {
			return nil, err
		}
		cfg.Mail.RootCAs = t.RootCAs
	}
	d, err := alert.New(cfg, st, log)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	return d, nil
}

// runAlerts delivers alerts until ctx ends; done is sent to when it stops.
func runAlerts(ctx context.Context, d *alert.Deliverer, done chan<- struct{}) {
	if d == nil {
		done <- struct{}{}
		return
	}
	d.Run(ctx)
	done <- struct{}{}
}

func newAlertCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "alert",
		Short: "See the alerts sent about failed flows and lost executors, and test the channels",
		Long: `Alerts are written to the database with the change that causes them (a flow
that FAILED or was KILLED, one that SUCCEEDED when it has success.emails, an
executor lost with running flows) and sent by the web servers to their
channels: email (--mail-host ...) and a webhook (--webhook-url ...). A failed
send is retried with backoff for --alert-give-up (24h); each alert is sent
once however many web servers run.

  crawlctl alert list --status FAILED
  crawlctl alert test --channel email --to me@example.com`,
	}
	var status string
	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "List alerts, newest first: PENDING (to send or retrying), SENT, FAILED (with the error)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := g.client().Alerts(cmd.Context(), status, limit)
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(g.stdout, out)
			}
			rows := [][]string{}
			for _, a := range out {
				about := ""
				switch {
				case a.ExecutionID != 0:
					about = "execution " + strconv.FormatInt(a.ExecutionID, 10)
				case a.ExecutorID != 0:
					about = "executor " + strconv.FormatInt(a.ExecutorID, 10)
				}
				note := a.LastError
				if a.Status == store.AlertPending && a.Attempts > 0 {
					note = "next try " + timeString(&a.NextTry) + ": " + note
				}
				rows = append(rows, []string{strconv.FormatInt(a.ID, 10), timeString(&a.CreatedAt), a.Kind, about, a.Status,
					strconv.Itoa(a.Attempts), strings.Join(a.Channels, ","), note})
			}
			return printTable(g.stdout, []string{"id", "created", "kind", "about", "status", "attempts", "sent to", "error"}, rows)
		},
	}
	list.Flags().StringVar(&status, "status", "", "only PENDING, SENT or FAILED")
	list.Flags().IntVar(&limit, "limit", 100, "at most this many")
	var channel string
	var to []string
	test := &cobra.Command{
		Use:   "test --channel NAME",
		Short: "Send a test message through a channel of the web server (email or webhook)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if channel == "" {
				return usageErr("give --channel email or --channel webhook")
			}
			res, err := g.client().TestAlert(cmd.Context(), api.AlertTestRequest{Channel: channel, To: to})
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(g.stdout, res)
			}
			if !g.quiet {
				fmt.Fprintf(g.stdout, "test alert sent through %s\n", res.Channel)
			}
			return nil
		},
	}
	test.Flags().StringVar(&channel, "channel", "", "email or webhook")
	test.Flags().StringArrayVar(&to, "to", nil, "email recipient of the test (default: the web server's --mail-to)")
	cmd.AddCommand(list, test)
	return cmd
}

// newExecutorLabelCmd is `crawlctl executor label REF k=v k-`.
func newExecutorLabelCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "label REF k=v... k-...",
		Short: "Set (k=v) or remove (k-) labels of an executor; flows with a selector follow at once",
		Long: `Change an executor's labels while it runs, as kubectl label does: k=v sets a
label, k- removes one. The change is recorded as an executor event. It lasts
until the executor restarts: registration writes its own --label flags again
(so keep the flags, or the config file, as the lasting truth).

  crawlctl executor label node-3 region=eu gpu=true
  crawlctl executor label node-3 gpu-`,
		Args: minArgs(2, "REF and a label change"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := api.ExecutorLabelsRequest{Set: map[string]string{}}
			for _, a := range args[1:] {
				if k, ok := strings.CutSuffix(a, "-"); ok && !strings.Contains(a, "=") {
					if err := labels.CheckKey(k); err != nil {
						return usageErr("%v", err)
					}
					req.Remove = append(req.Remove, k)
					continue
				}
				m, err := labels.Parse(a)
				if err != nil || len(m) != 1 {
					return usageErr("bad label change %q: use key=value to set or key- to remove", a)
				}
				for k, v := range m {
					req.Set[k] = v
				}
			}
			e, err := g.client().SetLabels(cmd.Context(), args[0], req)
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(g.stdout, e)
			}
			if !g.quiet {
				fmt.Fprintf(g.stdout, "executor %d (%s %s:%d) labels: %s\n", e.ID, e.Name, e.Host, e.Port, labelsString(e.Labels))
			}
			return nil
		},
	}
}

// selectorFlag adds --selector to a submitting command.
func selectorFlag(f *pflag.FlagSet, into *[]string) {
	f.StringArrayVar(into, "selector", nil, "run only on executors with these labels: k=v (repeatable, or a comma list); adds to the flow's executor.labels")
}

// parseSelector reads the --selector values.
func parseSelector(items []string) (map[string]string, error) {
	if len(items) == 0 {
		return nil, nil
	}
	m, err := labels.ParseList(items)
	if err != nil {
		return nil, usageErr("bad --selector: %v", err)
	}
	return m, nil
}

// alertTester is d for the web server's test endpoint (nil stays nil).
func alertTester(d *alert.Deliverer) webserver.AlertTester {
	if d == nil {
		return nil
	}
	return d
}
