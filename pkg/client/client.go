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

	"github.com/crawlctl/crawlctl/pkg/store"
	"github.com/crawlctl/crawlctl/pkg/webserver"
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
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
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
			return ctx.Err()
		}
		return &UnreachableError{Server: c.base, Err: errors.Unwrap(err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return &UnreachableError{Server: c.base, Err: err}
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error      string   `json:"error"`
			Candidates []string `json:"candidates"`
		}
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
		return &APIError{Status: resp.StatusCode, Message: e.Error, Candidates: e.Candidates, Body: data}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("bad reply from %s%s: %w", c.base, path, err)
	}
	return nil
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
func (c *Client) Executors(ctx context.Context) ([]webserver.ExecutorView, error) {
	var out []webserver.ExecutorView
	return out, c.getJSON(ctx, "/api/v1/executors", &out)
}

// Executor shows one executor by REF.
func (c *Client) Executor(ctx context.Context, ref string) (*webserver.ExecutorView, error) {
	var out webserver.ExecutorView
	return &out, c.getJSON(ctx, "/api/v1/executors/"+url.PathEscape(ref), &out)
}

// SetActive activates or deactivates the executor REF.
func (c *Client) SetActive(ctx context.Context, ref string, active bool) (*webserver.ExecutorView, error) {
	verb := "deactivate"
	if active {
		verb = "activate"
	}
	var out webserver.ExecutorView
	return &out, c.postJSON(ctx, "/api/v1/executors/"+url.PathEscape(ref)+"/"+verb, nil, &out)
}

// RemoveExecutor deletes a stopped or offline executor's row.
func (c *Client) RemoveExecutor(ctx context.Context, ref string) (*webserver.ExecutorView, error) {
	var out webserver.ExecutorView
	return &out, c.do(ctx, http.MethodDelete, "/api/v1/executors/"+url.PathEscape(ref), nil, "", &out)
}

// UploadProject uploads a zip archive as the next version of project name.
func (c *Client) UploadProject(ctx context.Context, name string, zip []byte) (*webserver.UploadResult, error) {
	var out webserver.UploadResult
	return &out, c.do(ctx, http.MethodPost, "/api/v1/projects/"+url.PathEscape(name), bytes.NewReader(zip), "application/zip", &out)
}

// Projects lists projects.
func (c *Client) Projects(ctx context.Context) ([]webserver.ProjectView, error) {
	var out []webserver.ProjectView
	return out, c.getJSON(ctx, "/api/v1/projects", &out)
}

// Project shows a project with its versions.
func (c *Client) Project(ctx context.Context, name string) (*webserver.ProjectView, error) {
	var out webserver.ProjectView
	return &out, c.getJSON(ctx, "/api/v1/projects/"+url.PathEscape(name), &out)
}

// Flows lists a project's flows.
func (c *Client) Flows(ctx context.Context, project string) ([]webserver.FlowSummary, error) {
	var out []webserver.FlowSummary
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
func (c *Client) Submit(ctx context.Context, req webserver.SubmitRequest) ([]*store.Execution, error) {
	var out webserver.SubmitResult
	err := c.postJSON(ctx, "/api/v1/executions", req, &out)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusConflict {
		var sk webserver.SkippedResult
		if json.Unmarshal(ae.Body, &sk) == nil && sk.Skipped {
			return nil, &SkippedError{Message: sk.Error, Running: sk.RunningExecution}
		}
	}
	return out.Executions, err
}

// Executions lists executions.
func (c *Client) Executions(ctx context.Context, status, project, flow string, limit int) ([]*store.Execution, error) {
	q := url.Values{}
	for k, v := range map[string]string{"status": status, "project": project, "flow": flow} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out []*store.Execution
	return out, c.getJSON(ctx, "/api/v1/executions?"+q.Encode(), &out)
}

// Execution shows one execution with its jobs.
func (c *Client) Execution(ctx context.Context, id int64) (*store.Execution, error) {
	var out store.Execution
	return &out, c.getJSON(ctx, "/api/v1/executions/"+strconv.FormatInt(id, 10), &out)
}

// Cancel cancels an execution.
func (c *Client) Cancel(ctx context.Context, id int64) (*store.Execution, error) {
	var out store.Execution
	return &out, c.postJSON(ctx, "/api/v1/executions/"+strconv.FormatInt(id, 10)+"/cancel", nil, &out)
}

// Logs reads a job's log (job "" = the flow log) from offset.
func (c *Client) Logs(ctx context.Context, id int64, job string, offset int64) (*webserver.LogChunk, error) {
	q := url.Values{"offset": {strconv.FormatInt(offset, 10)}}
	if job != "" {
		q.Set("job", job)
	}
	var out webserver.LogChunk
	return &out, c.getJSON(ctx, "/api/v1/executions/"+strconv.FormatInt(id, 10)+"/logs?"+q.Encode(), &out)
}

// AddSchedule creates a schedule.
func (c *Client) AddSchedule(ctx context.Context, req webserver.ScheduleRequest) (*webserver.ScheduleView, error) {
	var out webserver.ScheduleView
	return &out, c.postJSON(ctx, "/api/v1/schedules", req, &out)
}

// Schedules lists schedules.
func (c *Client) Schedules(ctx context.Context) ([]webserver.ScheduleView, error) {
	var out []webserver.ScheduleView
	return out, c.getJSON(ctx, "/api/v1/schedules", &out)
}

// Schedule shows one schedule.
func (c *Client) Schedule(ctx context.Context, id int64) (*webserver.ScheduleView, error) {
	var out webserver.ScheduleView
	return &out, c.getJSON(ctx, "/api/v1/schedules/"+strconv.FormatInt(id, 10), &out)
}

// SetSchedulePaused pauses or resumes a schedule.
func (c *Client) SetSchedulePaused(ctx context.Context, id int64, paused bool) (*webserver.ScheduleView, error) {
	verb := "resume"
	if paused {
		verb = "pause"
	}
	var out webserver.ScheduleView
	return &out, c.postJSON(ctx, "/api/v1/schedules/"+strconv.FormatInt(id, 10)+"/"+verb, nil, &out)
}

// RemoveSchedule deletes a schedule.
func (c *Client) RemoveSchedule(ctx context.Context, id int64) (*webserver.ScheduleView, error) {
	var out webserver.ScheduleView
	return &out, c.do(ctx, http.MethodDelete, "/api/v1/schedules/"+strconv.FormatInt(id, 10), nil, "", &out)
}

// Login exchanges a user name and password for a token.
func (c *Client) Login(ctx context.Context, user, password, expiresIn string) (*webserver.TokenResult, error) {
	var out webserver.TokenResult
	return &out, c.postJSON(ctx, "/api/v1/login", webserver.LoginRequest{User: user, Password: password, ExpiresIn: expiresIn}, &out)
}

// WhoAmI returns the caller's user name and role.
func (c *Client) WhoAmI(ctx context.Context) (map[string]string, error) {
	var out map[string]string
	return out, c.getJSON(ctx, "/api/v1/whoami", &out)
}

// AddUser creates a user.
func (c *Client) AddUser(ctx context.Context, req webserver.UserRequest) (*store.User, error) {
	var out store.User
	return &out, c.postJSON(ctx, "/api/v1/users", req, &out)
}

// Users lists users.
func (c *Client) Users(ctx context.Context) ([]store.User, error) {
	var out []store.User
	return out, c.getJSON(ctx, "/api/v1/users", &out)
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
func (c *Client) CreateToken(ctx context.Context, req webserver.TokenRequest) (*webserver.TokenResult, error) {
	var out webserver.TokenResult
	return &out, c.postJSON(ctx, "/api/v1/tokens", req, &out)
}

// Tokens lists tokens (the caller's; an admin's lists everyone's).
func (c *Client) Tokens(ctx context.Context) ([]store.Token, error) {
	var out []store.Token
	return out, c.getJSON(ctx, "/api/v1/tokens", &out)
}

// RevokeToken revokes a token by id.
func (c *Client) RevokeToken(ctx context.Context, id int64) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/tokens/"+strconv.FormatInt(id, 10), nil, "", nil)
}
