// Package client is the Go client of crawlctl's REST API. The CLI uses it for
// every command that talks to a running cluster, so anything the CLI does a
// script can do with curl against the same endpoints.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/crawlctl/crawlctl/pkg/api"
)

// Client calls one web server.
type Client struct {
	base        string
	http        *http.Client
	user        string
	token       string
	tokenSource string
}

// Options configure a client.
type Options struct {
	ConnectTimeout time.Duration // bounds connection set-up only
	User           string        // sent as X-Crawlctl-User (used only by --insecure servers)
	Token          string        // API token, sent as a bearer token
	TokenSource    string        // where the token came from, named when the server refuses it
	TLS            *tls.Config   // for https servers with a private CA
}

// New returns a client of the web server at base (e.g. http://127.0.0.1:8081).
func New(base string, o Options) *Client {
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&netDialer{timeout: o.ConnectTimeout}).DialContext
	tr.ResponseHeaderTimeout = 2 * time.Minute
	tr.TLSClientConfig = o.TLS
	return &Client{base: strings.TrimRight(base, "/"), http: &http.Client{Transport: tr}, user: o.User, token: o.Token, tokenSource: o.TokenSource}
}

// Base is the server URL.
func (c *Client) Base() string { return c.base }

// APIError is an error reply of the server.
type APIError struct {
	Status     int
	Message    string
	Candidates []string
	Body       []byte // the raw reply, for structured details
}

func (e *APIError) Error() string { return e.Message }

// UnreachableError means no answer came from the server.
type UnreachableError struct {
	Server string
	Err    error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach the crawlctl web server at %s: %v (is it running? set --server or CRAWLCTL_SERVER)", e.Server, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

func (c *Client) do(ctx context.Context, method, path string, body io.Reader, contentType string, out any) error {
	_, err := c.send(ctx, method, path, body, contentType, out)
	return err
}

// send is do that also returns the reply's headers.
func (c *Client) send(ctx context.Context, method, path string, body io.Reader, contentType string, out any) (http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.user != "" {
		req.Header.Set("X-Crawlctl-User", c.user)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &UnreachableError{Server: c.base, Err: errors.Unwrap(err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, &UnreachableError{Server: c.base, Err: err}
	}
	if resp.StatusCode >= 300 {
		var e api.Error
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = fmt.Sprintf("server answered %s", resp.Status)
			if resp.StatusCode == http.StatusNotFound && strings.HasPrefix(path, "/api/v1/") && c.looksLikeExecutor(ctx) {
				e.Error = fmt.Sprintf("%s looks like an executor's port, not a web server's: point --server (CRAWLCTL_SERVER) at the web server (default port 8081)", c.base)
			}
		}
		if resp.StatusCode == http.StatusUnauthorized {
			from := "no token was sent"
			if c.tokenSource != "" {
				from = "the token came from " + c.tokenSource
			}
			e.Error += fmt.Sprintf(" (server %s; %s)", c.base, from)
		}
		return nil, &APIError{Status: resp.StatusCode, Message: e.Error, Candidates: e.Candidates, Body: data}
	}
	if out == nil {
		return resp.Header, nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return nil, fmt.Errorf("bad reply from %s%s: %w", c.base, path, err)
	}
	return resp.Header, nil
}

// list reads a list endpoint page by page, following X-Next-Cursor, until
// it has max rows (0: all of them) or the list ends.
func list[T any](ctx context.Context, c *Client, path string, q url.Values, max int) ([]T, error) {
	if q == nil {
		q = url.Values{}
	}
	out := []T{}
	for {
		n := api.MaxLimit
		if max > 0 {
			n = min(n, max-len(out))
		}
		q.Set("limit", strconv.Itoa(n))
		var page []T
		h, err := c.send(ctx, http.MethodGet, path+"?"+q.Encode(), nil, "", &page)
		if err != nil {
			return out, err
		}
		out = append(out, page...)
		next := h.Get(api.NextCursorHeader)
		if next == "" || len(page) == 0 || (max > 0 && len(out) >= max) {
			return out, nil
		}
		q.Set("cursor", next)
	}
}

// looksLikeExecutor asks the server whether it is an executor (Azkaban's
// servlet answers action=ping with {"status":"alive"}).
func (c *Client) looksLikeExecutor(ctx context.Context) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/executor?action=ping", nil)
	if err != nil {
		return false
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&r) == nil && r.Status == "alive"
}

func (c *Client) getJSON(ctx context.Context, path string, out any) error {
	return c.do(ctx, http.MethodGet, path, nil, "", out)
}

func (c *Client) postJSON(ctx context.Context, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	return c.do(ctx, http.MethodPost, path, body, "application/json", out)
}

// Executors lists every executor.
func (c *Client) Executors(ctx context.Context) ([]api.Executor, error) {
	return list[api.Executor](ctx, c, "/api/v1/executors", nil, 0)
}

// Executor shows one executor by REF.
func (c *Client) Executor(ctx context.Context, ref string) (*api.Executor, error) {
	var out api.Executor
	return &out, c.getJSON(ctx, "/api/v1/executors/"+url.PathEscape(ref), &out)
}

// SetActive activates or deactivates the executor REF.
func (c *Client) SetActive(ctx context.Context, ref string, active bool) (*api.Executor, error) {
	verb := "deactivate"
	if active {
		verb = "activate"
	}
	var out api.Executor
	return &out, c.postJSON(ctx, "/api/v1/executors/"+url.PathEscape(ref)+"/"+verb, nil, &out)
}

// RemoveExecutor deletes a stopped or offline executor's row.
func (c *Client) RemoveExecutor(ctx context.Context, ref string) (*api.Executor, error) {
	var out api.Executor
	return &out, c.do(ctx, http.MethodDelete, "/api/v1/executors/"+url.PathEscape(ref), nil, "", &out)
}

// UploadProject uploads a zip archive as the next version of project name.
func (c *Client) UploadProject(ctx context.Context, name string, zip []byte) (*api.UploadResult, error) {
	var out api.UploadResult
	return &out, c.do(ctx, http.MethodPost, "/api/v1/projects/"+url.PathEscape(name), bytes.NewReader(zip), "application/zip", &out)
}

// Projects lists projects.
func (c *Client) Projects(ctx context.Context) ([]api.Project, error) {
	return list[api.Project](ctx, c, "/api/v1/projects", nil, 0)
}

// Project shows a project with its versions.
func (c *Client) Project(ctx context.Context, name string) (*api.Project, error) {
	var out api.Project
	return &out, c.getJSON(ctx, "/api/v1/projects/"+url.PathEscape(name), &out)
}

// Flows lists a project's flows.
func (c *Client) Flows(ctx context.Context, project string) ([]api.FlowSummary, error) {
	var out []api.FlowSummary
	return out, c.getJSON(ctx, "/api/v1/projects/"+url.PathEscape(project)+"/flows", &out)
}

// Flow returns a flow's DAG as JSON.
func (c *Client) Flow(ctx context.Context, project, flow string) (json.RawMessage, error) {
	var out json.RawMessage
	return out, c.getJSON(ctx, "/api/v1/projects/"+url.PathEscape(project)+"/flows/"+url.PathEscape(flow), &out)
}

// SkippedError is returned by Submit when concurrent=skip found the flow
// already queued or running.
type SkippedError struct {
	Message string
	Running int64
}

func (e *SkippedError) Error() string { return e.Message }

// Submit starts a flow; it returns the new executions.
func (c *Client) Submit(ctx context.Context, req api.SubmitRequest) ([]*api.Execution, error) {
	var out api.SubmitResult
	err := c.postJSON(ctx, "/api/v1/executions", req, &out)
	if sk := skipped(err); sk != nil {
		return nil, sk
	}
	return out.Executions, err
}

// skipped is the *SkippedError of a 409 that says a --concurrent skip
// submission was not made, or nil.
func skipped(err error) error {
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusConflict {
		var sk api.SkippedResult
		if json.Unmarshal(ae.Body, &sk) == nil && sk.Skipped {
			return &SkippedError{Message: sk.Error, Running: sk.RunningExecution}
		}
	}
	return nil
}

// Executions lists the newest executions, at most limit of them (0: the
// server's default page, api.DefaultLimit).
func (c *Client) Executions(ctx context.Context, status, project, flow string, limit int) ([]*api.Execution, error) {
	q := url.Values{}
	for k, v := range map[string]string{"status": status, "project": project, "flow": flow} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if limit <= 0 {
		limit = api.DefaultLimit
	}
	return list[*api.Execution](ctx, c, "/api/v1/executions", q, limit)
}

// Execution shows one execution with its jobs.
func (c *Client) Execution(ctx context.Context, id int64) (*api.Execution, error) {
	var out api.Execution
	return &out, c.getJSON(ctx, "/api/v1/executions/"+strconv.FormatInt(id, 10), &out)
}

// WaitExecution is Execution as a long poll: the server answers as soon
// as the execution's status is no longer seen, or after wait (at most
// api.MaxWait).
func (c *Client) WaitExecution(ctx context.Context, id int64, seen string, wait time.Duration) (*api.Execution, error) {
	var out api.Execution
	q := url.Values{"status": {seen}, "wait": {wait.String()}}
	return &out, c.getJSON(ctx, "/api/v1/executions/"+strconv.FormatInt(id, 10)+"?"+q.Encode(), &out)
}

// Cancel cancels an execution.
func (c *Client) Cancel(ctx context.Context, id int64) (*api.Execution, error) {
	var out api.Execution
	return &out, c.postJSON(ctx, "/api/v1/executions/"+strconv.FormatInt(id, 10)+"/cancel", nil, &out)
}

// SetPaused pauses (true) or resumes (false) a running execution.
func (c *Client) SetPaused(ctx context.Context, id int64, paused bool) (*api.Execution, error) {
	verb := "/resume"
	if paused {
		verb = "/pause"
	}
	var out api.Execution
	return &out, c.postJSON(ctx, "/api/v1/executions/"+strconv.FormatInt(id, 10)+verb, nil, &out)
}

// Retry runs a FAILED or KILLED execution again as a new execution, which
// it returns; failedOnly reuses the jobs that succeeded. A --concurrent
// skip execution whose flow is running again is a *SkippedError.
func (c *Client) Retry(ctx context.Context, id int64, failedOnly bool) (*api.Execution, error) {
	var out api.Execution
	err := c.postJSON(ctx, "/api/v1/executions/"+strconv.FormatInt(id, 10)+"/retry", api.RetryRequest{FailedOnly: failedOnly}, &out)
	if sk := skipped(err); sk != nil {
		return nil, sk
	}
	return &out, err
}

// Logs reads a job's log (job "" = the flow log) from offset.
func (c *Client) Logs(ctx context.Context, id int64, job string, offset int64) (*api.LogChunk, error) {
	q := url.Values{"offset": {strconv.FormatInt(offset, 10)}}
	if job != "" {
		q.Set("job", job)
	}
	var out api.LogChunk
	return &out, c.getJSON(ctx, "/api/v1/executions/"+strconv.FormatInt(id, 10)+"/logs?"+q.Encode(), &out)
}

// AddSchedule creates a schedule.
func (c *Client) AddSchedule(ctx context.Context, req api.ScheduleRequest) (*api.Schedule, error) {
	var out api.Schedule
	return &out, c.postJSON(ctx, "/api/v1/schedules", req, &out)
}

// Schedules lists schedules.
func (c *Client) Schedules(ctx context.Context) ([]api.Schedule, error) {
	return list[api.Schedule](ctx, c, "/api/v1/schedules", nil, 0)
}

// Schedule shows one schedule.
func (c *Client) Schedule(ctx context.Context, id int64) (*api.Schedule, error) {
	var out api.Schedule
	return &out, c.getJSON(ctx, "/api/v1/schedules/"+strconv.FormatInt(id, 10), &out)
}

// SetSchedulePaused pauses or resumes a schedule.
func (c *Client) SetSchedulePaused(ctx context.Context, id int64, paused bool) (*api.Schedule, error) {
	verb := "resume"
	if paused {
		verb = "pause"
	}
	var out api.Schedule
	return &out, c.postJSON(ctx, "/api/v1/schedules/"+strconv.FormatInt(id, 10)+"/"+verb, nil, &out)
}

// RemoveSchedule deletes a schedule.
func (c *Client) RemoveSchedule(ctx context.Context, id int64) (*api.Schedule, error) {
	var out api.Schedule
	return &out, c.do(ctx, http.MethodDelete, "/api/v1/schedules/"+strconv.FormatInt(id, 10), nil, "", &out)
}

// Login exchanges a user name and password for a token.
func (c *Client) Login(ctx context.Context, user, password, expiresIn string) (*api.TokenResult, error) {
	var out api.TokenResult
	return &out, c.postJSON(ctx, "/api/v1/login", api.LoginRequest{User: user, Password: password, ExpiresIn: expiresIn}, &out)
}

// WhoAmI returns the caller's user name and role.
func (c *Client) WhoAmI(ctx context.Context) (map[string]string, error) {
	var out map[string]string
	return out, c.getJSON(ctx, "/api/v1/whoami", &out)
}

// AddUser creates a user.
func (c *Client) AddUser(ctx context.Context, req api.UserRequest) (*api.User, error) {
	var out api.User
	return &out, c.postJSON(ctx, "/api/v1/users", req, &out)
}

// Users lists users.
func (c *Client) Users(ctx context.Context) ([]api.User, error) {
	return list[api.User](ctx, c, "/api/v1/users", nil, 0)
}

// RemoveUser deletes a user.
func (c *Client) RemoveUser(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/users/"+url.PathEscape(name), nil, "", nil)
}

// SetPassword changes a user's password.
func (c *Client) SetPassword(ctx context.Context, name, password string) error {
	b, _ := json.Marshal(map[string]string{"password": password})
	return c.do(ctx, http.MethodPut, "/api/v1/users/"+url.PathEscape(name)+"/password", bytes.NewReader(b), "application/json", nil)
}

// CreateToken creates an API token.
func (c *Client) CreateToken(ctx context.Context, req api.TokenRequest) (*api.TokenResult, error) {
	var out api.TokenResult
	return &out, c.postJSON(ctx, "/api/v1/tokens", req, &out)
}

// Tokens lists tokens (the caller's; an admin's lists everyone's).
func (c *Client) Tokens(ctx context.Context) ([]api.Token, error) {
	return list[api.Token](ctx, c, "/api/v1/tokens", nil, 0)
}

// RevokeToken revokes a token by id.
func (c *Client) RevokeToken(ctx context.Context, id int64) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/tokens/"+strconv.FormatInt(id, 10), nil, "", nil)
}
