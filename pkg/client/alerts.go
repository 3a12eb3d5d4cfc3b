package client

import (
	"context"
	"net/url"

	"github.com/crawlctl/crawlctl/pkg/api"
)

// SetLabels sets and removes labels of the executor REF.
func (c *Client) SetLabels(ctx context.Context, ref string, req api.ExecutorLabelsRequest) (*api.Executor, error) {
	var out api.Executor
	return &out, c.postJSON(ctx, "/api/v1/executors/"+url.PathEscape(ref)+"/labels", req, &out)
}

// Alerts lists the alerts, newest first; status narrows them (PENDING,
// SENT, FAILED).
func (c *Client) Alerts(ctx context.Context, status string, limit int) ([]api.Alert, error) {
	q := url.Values{}
	if status != "" {
		q.Set("status", status)
	}
	return list[api.Alert](ctx, c, "/api/v1/alerts", q, limit)
}

// TestAlert sends a test message through a channel of the web server.
func (c *Client) TestAlert(ctx context.Context, req api.AlertTestRequest) (*api.AlertTestResult, error) {
	var out api.AlertTestResult
	return &out, c.postJSON(ctx, "/api/v1/alerts/test", req, &out)
}
