package webserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/api"
	"github.com/crawlctl/crawlctl/pkg/client"
	"github.com/crawlctl/crawlctl/pkg/internal/dispatch"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

// TestListsPage: every list endpoint caps its page, says where the next one
// starts, and the client follows the pages to the end, each row once.
func TestListsPage(t *testing.T) {
	srv, st, tokens := newServer(t)
	ctx := context.Background()
	// 1,003 users with the three of newServer: more than one page of the
	// largest size.
	for i := range 1000 {
		if _, err := st.AddUser(ctx, fmt.Sprintf("u%04d", i), "viewer", "x"); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("limit and cursor", func(t *testing.T) {
		seen := map[string]bool{}
		cursor := ""
		pages := 0
		for {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/users?limit=400&cursor="+cursor, nil)
			req.Header.Set("Authorization", "Bearer "+tokens["admin"])
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var page []api.User
			err = json.NewDecoder(resp.Body).Decode(&page)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("page %d: %d, %v", pages, resp.StatusCode, err)
			}
			pages++
			if len(page) > 400 {
				t.Fatalf("page %d has %d rows; limit 400", pages, len(page))
			}
			for _, u := range page {
				if seen[u.Name] {
					t.Fatalf("user %s listed twice", u.Name)
				}
				seen[u.Name] = true
			}
			cursor = resp.Header.Get(api.NextCursorHeader)
			if cursor == "" {
				break
			}
		}
		if len(seen) != 1003 || pages != 3 {
			t.Fatalf("saw %d users in %d pages; want 1003 in 3", len(seen), pages)
		}
	})

	t.Run("the client reads every page", func(t *testing.T) {
		c := client.New(srv.URL, client.Options{Token: tokens["admin"]})
		users, err := c.Users(ctx)
		if err != nil || len(users) != 1003 {
			t.Fatalf("client listed %d users, %v; want 1003", len(users), err)
		}
	})

	t.Run("bad pages are refused", func(t *testing.T) {
		for _, path := range []string{
			"/api/v1/users?limit=1001", "/api/v1/executions?limit=0", "/api/v1/executors?limit=x",
			"/api/v1/executions?cursor=abc", "/api/v1/tokens?cursor=-3", "/api/v1/schedules?cursor=x",
		} {
			code, body := call(t, srv, http.MethodGet, path, tokens["admin"], "")
			if code != http.StatusBadRequest || !strings.Contains(body, "bad") {
				t.Errorf("GET %s = %d %s; want 400 saying what is bad", path, code, body)
			}
		}
	})
}

// TestExecutionTimeBounds: a list's since/until takes a time or a duration
// back from now; anything else is a 400.
func TestExecutionTimeBounds(t *testing.T) {
	srv, _, tokens := newServer(t)
	for _, c := range []struct {
		query string
		code  int
	}{
		{"since=24h", http.StatusOK}, {"until=2026-11-30T08:00:00Z", http.StatusOK}, {"since=0s&until=1h", http.StatusOK},
		{"since=yesterday", http.StatusBadRequest}, {"until=-5m", http.StatusBadRequest},
	} {
		if code, body := call(t, srv, http.MethodGet, "/api/v1/executions?"+c.query, tokens["viewer"], ""); code != c.code {
			t.Errorf("GET /api/v1/executions?%s = %d %s; want %d", c.query, code, body, c.code)
		}
	}
}

// TestExecutionLongPoll: GET of an execution with wait and the status the
// client saw answers once the status changes, or with the same status when
// the wait is over; a bad wait is a 400.
func TestExecutionLongPoll(t *testing.T) {
	srv, st, tokens := newServer(t)
	ctx := context.Background()
	pv, err := st.AddProjectVersion(ctx, store.NewProjectVersion{Project: "p", SHA256: "x", Format: "flow20", Flows: `{"flows":[{"name":"f"}]}`, Archive: []byte("zip")})
	if err != nil {
		t.Fatal(err)
	}
	ex, _, err := dispatch.SubmitAndAssign(ctx, st, store.NewExecution{ProjectID: pv.ProjectID, Project: "p", Version: pv.Version, Flow: "f",
		Concurrent: "ignore", FailureAction: "finishCurrent", SubmitUser: "u"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("/api/v1/executions/%d", ex.ID)
	status := func(body string) string {
		var e api.Execution
		_ = json.Unmarshal([]byte(body), &e)
		return e.Status
	}
	// Unchanged: the answer comes when the wait is over, with the status.
	if code, body := call(t, srv, http.MethodGet, path+"?status=QUEUED&wait=200ms", tokens["viewer"], ""); code != 200 || status(body) != "QUEUED" {
		t.Fatalf("unchanged long poll = %d %s", code, body)
	}
	// Changed while waiting: the answer carries the new status.
	done := make(chan string, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path+"?status=QUEUED&wait=30s", nil)
		req.Header.Set("Authorization", "Bearer "+tokens["viewer"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		done <- string(b)
	}()
	if _, err := st.CancelExecution(ctx, ex.ID, "alice", ""); err != nil {
		t.Fatal(err)
	}
	select {
	case body := <-done:
		if status(body) != "KILLED" {
			t.Fatalf("long poll across a cancel = %s", body)
		}
	case <-time.After(25 * time.Second):
		t.Fatal("the long poll did not answer after the status changed")
	}
	for _, q := range []string{"?wait=2m&status=QUEUED", "?wait=soon&status=QUEUED"} {
		if code, body := call(t, srv, http.MethodGet, path+q, tokens["viewer"], ""); code != http.StatusBadRequest {
			t.Errorf("GET %s%s = %d %s; want 400", path, q, code, body)
		}
	}
}

// TestLongPollsOfSeveralExecutions: clients waiting on different
// executions share the web server's watch; each hears only of its own
// execution's change, and one whose execution does not change gets its
// unchanged status when its wait is over.
func TestLongPollsOfSeveralExecutions(t *testing.T) {
	srv, st, tokens := newServer(t)
	ctx := context.Background()
	pv, err := st.AddProjectVersion(ctx, store.NewProjectVersion{Project: "p", SHA256: "x", Format: "flow20", Flows: `{"flows":[{"name":"f"}]}`, Archive: []byte("zip")})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for range 3 {
		ex, _, err := dispatch.SubmitAndAssign(ctx, st, store.NewExecution{ProjectID: pv.ProjectID, Project: "p", Version: pv.Version, Flow: "f",
			Concurrent: "ignore", FailureAction: "finishCurrent", SubmitUser: "u"}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ex.ID)
	}
	type answer struct {
		id     int64
		status string
		after  time.Duration
	}
	answers := make(chan answer, len(ids))
	start := time.Now()
	for i, id := range ids {
		wait := "30s"
		if i == 2 {
			wait = "300ms"
		}
		go func() {
			req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/api/v1/executions/%d?status=QUEUED&wait=%s", srv.URL, id, wait), nil)
			req.Header.Set("Authorization", "Bearer "+tokens["viewer"])
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				answers <- answer{id, err.Error(), time.Since(start)}
				return
			}
			defer resp.Body.Close()
			var e api.Execution
			_ = json.NewDecoder(resp.Body).Decode(&e)
			answers <- answer{id, e.Status, time.Since(start)}
		}()
	}
	// The third one's wait ends first, unchanged.
	select {
	case a := <-answers:
		if a.id != ids[2] || a.status != "QUEUED" {
			t.Fatalf("first answer = %+v; want execution %d still QUEUED at the end of its wait", a, ids[2])
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no long poll answered")
	}
	for _, id := range ids[:2] {
		if _, err := st.CancelExecution(ctx, id, "alice", ""); err != nil {
			t.Fatal(err)
		}
		select {
		case a := <-answers:
			if a.id != id || a.status != "KILLED" {
				t.Fatalf("answer after cancelling %d = %+v", id, a)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("the wait on execution %d did not answer after its cancel", id)
		}
	}
}
