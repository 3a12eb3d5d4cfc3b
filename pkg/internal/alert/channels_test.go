package alert

import (
	"context"
	"encoding/json"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/alert/alerttest"
)

func sample() *Message {
	code := 3
	return &Message{AlertID: 7, Kind: "FAILED", Subject: "Flow 'crawl' of project news FAILED on node-2 (execution 1234) – é",
		Project: "news", Flow: "crawl", ExecutionID: 1234, Status: "FAILED",
		FailedJobs: []FailedJob{{Name: "fetch", ExitCode: &code, LogTail: "line 1\n.\n..leading dots\nlast"}},
		Text:       "Failed job: fetch (exit code 3)\n.\n..leading dots\nnon-ASCII: Grüße\n" + strings.Repeat("long line ", 30) + "\n",
		To:         []string{"Ops <ops@example.com>", "dev@example.com", "OPS@example.com"}}
}

func mailerFor(t *testing.T, s *alerttest.SMTPServer, cfg MailConfig) *mailer {
	t.Helper()
	cfg.Host, cfg.Port = s.Host, s.Port
	if cfg.Sender == "" {
		cfg.Sender = "crawlctl <crawlctl@example.com>"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	m, err := newMailer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestMailSTARTTLSAndAuth: the usual submission setup (port 587).
func TestMailSTARTTLSAndAuth(t *testing.T) {
	s := alerttest.StartSMTP(t, alerttest.SMTPOptions{Host: "localhost", TLS: true, User: "bot", Password: "s3cret"})
	m := mailerFor(t, s, MailConfig{User: "bot", Password: "s3cret", TLS: "true", RootCAs: s.Pool})
	if skip, err := m.send(context.Background(), sample()); skip || err != nil {
		t.Fatalf("send: %v %v", skip, err)
	}
	mails := s.Mails()
	if len(mails) != 1 {
		t.Fatalf("%d mails", len(mails))
	}
	got := mails[0]
	if !got.TLS || got.User != "bot" || got.From != "crawlctl@example.com" {
		t.Fatalf("session: tls=%v user=%q from=%q", got.TLS, got.User, got.From)
	}
	// One RCPT per address, the duplicate (case aside) dropped.
	if strings.Join(got.To, ",") != "ops@example.com,dev@example.com" {
		t.Fatalf("recipients %v", got.To)
	}
	h, body := alerttest.Body(got)
	var subject string
	for _, l := range strings.Split(h, "\r\n") {
		if v, ok := strings.CutPrefix(l, "Subject: "); ok {
			subject, _ = new(mime.WordDecoder).DecodeHeader(v)
		}
	}
	if subject != sample().Subject {
		t.Fatalf("subject %q", subject)
	}
	// Lines that start with dots survive the SMTP dot-stuffing, and UTF-8
	// survives quoted-printable.
	if !strings.Contains(body, "\r\n.\r\n..leading dots\r\nnon-ASCII: Grüße\r\n") {
		t.Fatalf("body:\n%q", body)
	}
	if !strings.Contains(h, "X-Crawlctl-Alert-Id: 7") || !strings.Contains(h, "Content-Type: text/plain; charset=utf-8") {
		t.Fatalf("headers:\n%s", h)
	}
}

func TestMailImplicitTLS(t *testing.T) {
	s := alerttest.StartSMTP(t, alerttest.SMTPOptions{TLS: true, Implicit: true})
	m := mailerFor(t, s, MailConfig{TLS: "tls", RootCAs: s.Pool})
	if _, err := m.send(context.Background(), sample()); err != nil {
		t.Fatal(err)
	}
	if mails := s.Mails(); len(mails) != 1 || !mails[0].TLS {
		t.Fatalf("mails %+v", mails)
	}
}

// TestMailEdgeCases pins what net/smtp and the servers do at the edges.
func TestMailEdgeCases(t *testing.T) {
	ctx := context.Background()
	// STARTTLS required but not offered: refused before any credential.
	plain := alerttest.StartSMTP(t, alerttest.SMTPOptions{})
	if _, err := mailerFor(t, plain, MailConfig{TLS: "starttls"}).send(ctx, sample()); err == nil || !strings.Contains(err.Error(), "does not offer STARTTLS") {
		t.Fatalf("starttls required: %v", err)
	}
	// auto without STARTTLS on offer: plain, and it works.
	if _, err := mailerFor(t, plain, MailConfig{}).send(ctx, sample()); err != nil || len(plain.Mails()) != 1 {
		t.Fatalf("auto on a plain server: %v", err)
	}
	// A certificate nobody trusts: the send fails (no silent downgrade).
	tlsSrv := alerttest.StartSMTP(t, alerttest.SMTPOptions{TLS: true})
	if _, err := mailerFor(t, tlsSrv, MailConfig{}).send(ctx, sample()); err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("untrusted certificate: %v", err)
	}
	// Credentials over plain text to a host that is not localhost: net/smtp
	// refuses to send them (127.0.0.2 is loopback, but not by name).
	remote := alerttest.StartSMTP(t, alerttest.SMTPOptions{Host: "127.0.0.2", User: "bot", Password: "pw", AllowInsecureAuth: true})
	if _, err := mailerFor(t, remote, MailConfig{User: "bot", Password: "pw", TLS: "none"}).send(ctx, sample()); err == nil || !strings.Contains(err.Error(), "unencrypted connection") {
		t.Fatalf("plain-text auth to a remote name: %v", err)
	}
	// ...while to localhost it goes.
	local := alerttest.StartSMTP(t, alerttest.SMTPOptions{User: "bot", Password: "pw", AllowInsecureAuth: true})
	if _, err := mailerFor(t, local, MailConfig{User: "bot", Password: "pw", TLS: "none"}).send(ctx, sample()); err != nil {
		t.Fatalf("auth to localhost: %v", err)
	}
	// Wrong password: the server's answer is in the error.
	if _, err := mailerFor(t, local, MailConfig{User: "bot", Password: "nope", TLS: "none"}).send(ctx, sample()); err == nil || !strings.Contains(err.Error(), "authentication as bot") {
		t.Fatalf("bad password: %v", err)
	}
	// A temporary refusal of recipients is an error (retried by the deliverer).
	plain.Reject(true)
	if _, err := mailerFor(t, plain, MailConfig{}).send(ctx, sample()); err == nil || !strings.Contains(err.Error(), "451") {
		t.Fatalf("rcpt refused: %v", err)
	}
	plain.Reject(false)
	// No recipients: nothing to send, not an error.
	msg := sample()
	msg.To = nil
	if skip, err := mailerFor(t, plain, MailConfig{}).send(ctx, msg); !skip || err != nil {
		t.Fatalf("no recipients: %v %v", skip, err)
	}
	// Nobody listening.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	m, _ := newMailer(MailConfig{Host: "127.0.0.1", Port: port, Sender: "a@b.c", Timeout: 5 * time.Second})
	if _, err := m.send(ctx, sample()); err == nil || !strings.Contains(err.Error(), "connect to mail server 127.0.0.1:"+strconv.Itoa(port)) {
		t.Fatalf("no server: %v", err)
	}
	// Settings refused at start.
	for _, cfg := range []MailConfig{{Host: "h"}, {Host: "h", Sender: "not an address"}, {Host: "h", Sender: "a@b.c", TLS: "maybe"}, {Host: "h", Sender: "a@b.c", To: []string{"x"}}} {
		if _, err := newMailer(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

func TestWebhookSignedAndShapes(t *testing.T) {
	r := alerttest.StartReceiver(t)
	w, err := newWebhook(WebhookConfig{URL: r.URL, Secret: "k3y", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.send(context.Background(), sample()); err != nil {
		t.Fatal(err)
	}
	h := r.Hooks()[0]
	ts, _ := strconv.ParseInt(h.Header.Get(TimestampHeader), 10, 64)
	if h.Header.Get(SignatureHeader) != Sign("k3y", ts, h.Body) || time.Since(time.Unix(ts, 0)) > time.Minute {
		t.Fatalf("signature %q over ts %d", h.Header.Get(SignatureHeader), ts)
	}
	if Sign("other", ts, h.Body) == h.Header.Get(SignatureHeader) {
		t.Fatal("signature does not depend on the secret")
	}
	var m map[string]any
	if err := json.Unmarshal(h.Body, &m); err != nil || m["execution_id"] != float64(1234) || m["project"] != "news" || m["to"] != nil {
		t.Fatalf("body %s: %v", h.Body, err)
	}
	r.Fail(http.StatusServiceUnavailable)
	if _, err := w.send(context.Background(), sample()); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("receiver down: %v", err)
	}
	r.Fail(0)
	for format, key := range map[string]string{FormatSlack: `"text":"*Flow 'crawl'`, FormatDingTalk: `"msgtype":"text"`} {
		w, _ := newWebhook(WebhookConfig{URL: r.URL, Format: format, Timeout: 5 * time.Second})
		if _, err := w.send(context.Background(), sample()); err != nil {
			t.Fatal(err)
		}
		hooks := r.Hooks()
		if last := string(hooks[len(hooks)-1].Body); !strings.Contains(last, key) {
			t.Fatalf("%s body %s", format, last)
		}
	}
	for _, bad := range []WebhookConfig{{URL: "ftp://x"}, {URL: "http://"}, {URL: "http://x", Format: "xml"}} {
		if _, err := newWebhook(bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if s := redact("https://hooks.slack.com/services/T000/B000/XXXXSECRET?token=abc"); strings.Contains(s, "SECRET") || strings.Contains(s, "abc") {
		t.Fatalf("redact leaks: %s", s)
	}
}
