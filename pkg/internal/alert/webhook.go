package alert

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// WebhookConfig is the webhook channel.
type WebhookConfig struct {
	URL string // "" = no webhook
	// Format is json (the Message, documented), slack ({"text": ...}) or
	// dingtalk ({"msgtype":"text","text":{"content": ...}}).
	Format string
	// Secret, when set, signs each body: header X-Crawlctl-Signature is
	// "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)), with
	// the timestamp (Unix seconds) in X-Crawlctl-Timestamp.
	Secret  string
	Timeout time.Duration
	Client  *http.Client
}

// Webhook formats.
const (
	FormatJSON     = "json"
	FormatSlack    = "slack"
	FormatDingTalk = "dingtalk"
)

// Signature headers.
const (
	SignatureHeader = "X-Crawlctl-Signature"
	TimestampHeader = "X-Crawlctl-Timestamp"
	AlertIDHeader   = "X-Crawlctl-Alert-Id"
)

// Sign returns the signature of body sent at ts with secret.
func Sign(secret string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(ts, 10) + "."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

type webhook struct{ cfg WebhookConfig }

func newWebhook(cfg WebhookConfig) (*webhook, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("bad --webhook-url %q: give an http:// or https:// URL", cfg.URL)
	}
	switch cfg.Format {
	case "":
		cfg.Format = FormatJSON
	case FormatJSON, FormatSlack, FormatDingTalk:
	default:
		return nil, fmt.Errorf("bad --webhook-format %q: use json, slack or dingtalk", cfg.Format)
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: cfg.Timeout}
	}
	return &webhook{cfg: cfg}, nil
}

func (w *webhook) name() string { return ChannelWebhook }

func (w *webhook) body(m *Message) ([]byte, error) {
	switch w.cfg.Format {
	case FormatSlack:
		return json.Marshal(map[string]string{"text": "*" + m.Subject + "*\n```\n" + m.Text + "```"})
	case FormatDingTalk:
		return json.Marshal(map[string]any{"msgtype": "text", "text": map[string]string{"content": m.Subject + "\n\n" + m.Text}})
	}
	return json.Marshal(m)
}

func (w *webhook) send(ctx context.Context, m *Message) (bool, error) {
	body, err := w.body(m)
	if err != nil {
		return false, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "crawlctl-alert")
	if m.AlertID != 0 {
		req.Header.Set(AlertIDHeader, strconv.FormatInt(m.AlertID, 10))
	}
	if w.cfg.Secret != "" {
		ts := time.Now().Unix()
		req.Header.Set(TimestampHeader, strconv.FormatInt(ts, 10))
		req.Header.Set(SignatureHeader, Sign(w.cfg.Secret, ts, body))
	}
	resp, err := w.cfg.Client.Do(req)
	if err != nil {
		return false, fmt.Errorf("webhook %s: %w", redact(w.cfg.URL), err)
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return false, fmt.Errorf("webhook %s answered %s: %s", redact(w.cfg.URL), resp.Status, bytes.TrimSpace(reply))
	}
	return false, nil
}

// redact hides a URL's query and user info (Slack and DingTalk put their
// tokens there).
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(webhook)"
	}
	u.User, u.RawQuery = nil, ""
	if u.Path != "" && len(u.Path) > 12 {
		u.Path = u.Path[:12] + "..."
	}
	return u.String()
}
