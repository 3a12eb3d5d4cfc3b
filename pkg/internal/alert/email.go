package alert

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"os"
	"strconv"
	"strings"
	"time"
)

// MailConfig is the SMTP channel (Azkaban's mail.* settings).
type MailConfig struct {
	Host   string // mail.host; "" = no email channel
	Port   int    // mail.port (default 25)
	Sender string // mail.sender: the From address
	User   string // mail.user; "" = no authentication
	// Password is mail.password (PLAIN auth; sent only over TLS or to
	// localhost, as net/smtp insists).
	Password string
	// TLS is auto (STARTTLS when the server offers it; the default),
	// starttls (required; Azkaban's mail.tls=true), tls (implicit TLS, port
	// 465) or none (never; mail.tls=false).
	TLS string
	// RootCAs verifies the server (nil: the system's).
	RootCAs *x509.CertPool
	// To are the cluster's recipients of every alert, besides each flow's.
	To      []string
	Timeout time.Duration
}

// TLS modes.
const (
	TLSAuto     = "auto"
	TLSStartTLS = "starttls"
	TLSImplicit = "tls"
	TLSNone     = "none"
)

// NormalizeTLS maps the accepted spellings of a TLS mode (Azkaban's
// true/false too) to one of the modes.
func NormalizeTLS(s string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", TLSAuto:
		return TLSAuto, nil
	case TLSStartTLS, "true":
		return TLSStartTLS, nil
	case TLSImplicit, "ssl", "smtps":
		return TLSImplicit, nil
	case TLSNone, "false", "off":
		return TLSNone, nil
	}
	return "", fmt.Errorf("bad mail TLS mode %q: use auto, starttls (true), tls or none (false)", s)
}

type mailer struct {
	cfg  MailConfig
	from *mail.Address
}

func newMailer(cfg MailConfig) (*mailer, error) {
	mode, err := NormalizeTLS(cfg.TLS)
	if err != nil {
		return nil, err
	}
	cfg.TLS = mode
	if cfg.Sender == "" {
		return nil, errors.New("--mail-sender is required with --mail-host (the From address, Azkaban's mail.sender)")
	}
	from, err := mail.ParseAddress(cfg.Sender)
	if err != nil {
		return nil, fmt.Errorf("bad --mail-sender %q: %v", cfg.Sender, err)
	}
	for _, to := range cfg.To {
		if _, err := mail.ParseAddress(to); err != nil {
			return nil, fmt.Errorf("bad --mail-to %q: %v", to, err)
		}
	}
	return &mailer{cfg: cfg, from: from}, nil
}

func (m *mailer) name() string { return ChannelEmail }

func (m *mailer) send(ctx context.Context, msg *Message) (bool, error) {
	var rcpts []string
	seen := map[string]bool{}
	for _, to := range msg.To {
		a, err := mail.ParseAddress(to)
		if err != nil {
			return false, fmt.Errorf("bad recipient %q: %v", to, err)
		}
		if !seen[strings.ToLower(a.Address)] {
			seen[strings.ToLower(a.Address)] = true
			rcpts = append(rcpts, a.Address)
		}
	}
	if len(rcpts) == 0 {
		return true, nil
	}
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	return false, m.deliver(ctx, rcpts, m.compose(msg, rcpts))
}

// compose writes the message: headers (the subject MIME-encoded when not
// ASCII, CR and LF removed) and a quoted-printable UTF-8 text body.
func (m *mailer) compose(msg *Message, rcpts []string) []byte {
	var b bytes.Buffer
	clean := func(s string) string { return strings.NewReplacer("\r", " ", "\n", " ").Replace(s) }
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	host := m.from.Address[strings.LastIndex(m.from.Address, "@")+1:]
	fmt.Fprintf(&b, "From: %s\r\n", m.from.String())
	fmt.Fprintf(&b, "To: %s\r\n", strings.Join(rcpts, ", "))
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", clean(msg.Subject)))
	fmt.Fprintf(&b, "Date: %s\r\n", time.Now().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@%s>\r\n", hex.EncodeToString(id), host)
	if msg.AlertID != 0 {
		fmt.Fprintf(&b, "X-Crawlctl-Alert-Id: %d\r\n", msg.AlertID)
	}
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	qp := quotedprintable.NewWriter(&b)
	_, _ = qp.Write([]byte(strings.ReplaceAll(msg.Text, "\n", "\r\n")))
	_ = qp.Close()
	return b.Bytes()
}

// deliver runs one SMTP session.
func (m *mailer) deliver(ctx context.Context, rcpts []string, body []byte) error {
	addr := net.JoinHostPort(m.cfg.Host, strconv.Itoa(m.cfg.Port))
	tlsCfg := &tls.Config{ServerName: m.cfg.Host, RootCAs: m.cfg.RootCAs, MinVersion: tls.VersionTLS12}
	dialer := &net.Dialer{}
	var conn net.Conn
	var err error
	if m.cfg.TLS == TLSImplicit {
		conn, err = (&tls.Dialer{NetDialer: dialer, Config: tlsCfg}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = dialer.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return fmt.Errorf("connect to mail server %s: %w", addr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	c, err := smtp.NewClient(conn, m.cfg.Host)
	if err != nil {
		return fmt.Errorf("mail server %s: %w", addr, err)
	}
	defer c.Close()
	if err := c.Hello(localName()); err != nil {
		return fmt.Errorf("mail server %s: EHLO: %w", addr, err)
	}
	if m.cfg.TLS == TLSAuto || m.cfg.TLS == TLSStartTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(tlsCfg); err != nil {
				return fmt.Errorf("mail server %s: STARTTLS: %w", addr, err)
			}
		} else if m.cfg.TLS == TLSStartTLS {
			return fmt.Errorf("mail server %s does not offer STARTTLS, which --mail-tls starttls requires", addr)
		}
	}
	if m.cfg.User != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return fmt.Errorf("mail server %s offers no authentication, but --mail-user is set", addr)
		}
		if err := c.Auth(smtp.PlainAuth("", m.cfg.User, m.cfg.Password, m.cfg.Host)); err != nil {
			return fmt.Errorf("mail server %s: authentication as %s: %w", addr, m.cfg.User, err)
		}
	}
	if err := c.Mail(m.from.Address); err != nil {
		return fmt.Errorf("mail server %s: MAIL FROM %s: %w", addr, m.from.Address, err)
	}
	for _, r := range rcpts {
		if err := c.Rcpt(r); err != nil {
			return fmt.Errorf("mail server %s: RCPT TO %s: %w", addr, r, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("mail server %s: DATA: %w", addr, err)
	}
	if _, err := w.Write(body); err != nil {
		return fmt.Errorf("mail server %s: message: %w", addr, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("mail server %s: message not accepted: %w", addr, err)
	}
	_ = c.Quit()
	return nil
}

func localName() string {
	if h, err := os.Hostname(); err == nil && h != "" && !strings.ContainsAny(h, " \r\n") {
		return h
	}
	return "localhost"
}
