package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	apiv1 "github.com/crawlctl/crawlctl/pkg/api"
)

// api is a keep-alive client of the web server's REST API.
type api struct {
	base  string
	token string // bearer token; "" when the server runs without authentication
	hc    *http.Client
}

func newAPI(base, token string) *api {
	tr := &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute, DisableCompression: true}
	return &api{base: base, token: token, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

var errNotEnded = errors.New("execution did not end in time")

// execView and executorView are the API's wire types.
type (
	execView     = apiv1.Execution
	executorView = apiv1.Executor
)

// do sends one request and decodes a JSON reply with status want into out.
func (a *api) do(ctx context.Context, method, path, contentType string, body []byte, want int, out any) error {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, r)
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	} else {
		req.Header.Set("X-Crawlctl-User", "crawlbench")
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: bad JSON reply: %v", method, path, err)
		}
	}
	return nil
}

func (a *api) activate(ctx context.Context, name string) error {
	return a.do(ctx, http.MethodPost, "/api/v1/executors/"+url.PathEscape(name)+"/activate", "", nil, http.StatusOK, nil)
}

func (a *api) executors(ctx context.Context) ([]executorView, error) {
	var out []executorView
	return out, a.do(ctx, http.MethodGet, "/api/v1/executors", "", nil, http.StatusOK, &out)
}

func (a *api) upload(ctx context.Context, project string, zipBody []byte) error {
	return a.do(ctx, http.MethodPost, "/api/v1/projects/"+url.PathEscape(project), "application/zip", zipBody, http.StatusCreated, nil)
}

// submit queues one execution of the benchmark project's flow.
func (a *api) submit(ctx context.Context, flow string) (int64, error) {
	body, _ := json.Marshal(map[string]string{"project": "bench", "flow": flow})
	var out struct {
		Executions []struct {
			ID int64 `json:"id"`
		} `json:"executions"`
	}
	if err := a.do(ctx, http.MethodPost, "/api/v1/executions", "application/json", body, http.StatusCreated, &out); err != nil {
		return 0, err
	}
	if len(out.Executions) != 1 {
		return 0, fmt.Errorf("submit %s: %d executions in the reply, want 1", flow, len(out.Executions))
	}
	return out.Executions[0].ID, nil
}

func (a *api) execution(ctx context.Context, id int64) (*execView, error) {
	var e execView
	return &e, a.do(ctx, http.MethodGet, "/api/v1/executions/"+strconv.FormatInt(id, 10), "", nil, http.StatusOK, &e)
}

// waitEnd polls an execution every `every` until it ends or timeout passes.
func (a *api) waitEnd(ctx context.Context, id int64, every, timeout time.Duration) (*execView, error) {
	deadline := time.Now().Add(timeout)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		e, err := a.execution(ctx, id)
		if err != nil {
			return nil, err
		}
		if e.Ended() {
			return e, nil
		}
		if time.Now().After(deadline) {
			return e, fmt.Errorf("execution %d still %s after %s: %w", id, e.Status, timeout, errNotEnded)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}
