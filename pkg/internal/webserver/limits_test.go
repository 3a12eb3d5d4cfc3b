package webserver_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/store/storetest"
	"github.com/crawlctl/crawlctl/pkg/internal/webserver"
)

// projectZip is a Flow 2.0 project with one flow "f" whose one job is
// named job.
func projectZip(t *testing.T, job string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range map[string]string{
		"p.project": "azkaban-flow-version: 2.0\n",
		"f.flow":    "nodes:\n  - name: " + job + "\n    type: command\n    config:\n      command: echo hi\n",
	} {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Input larger than its column is refused with a 400 that names the limit,
// on MySQL (which would otherwise refuse it with a raw error).
func TestSizeLimits(t *testing.T) {
	srv, st, tokens := newServer(t)
	op := tokens["operator"]
	upload := func(name string, zipData []byte) (int, string) {
		t.Helper()
		return call(t, srv, "POST", "/api/v1/projects/"+name, op, string(zipData))
	}
	if code, body := upload("p", projectZip(t, "a")); code != 201 {
		t.Fatalf("upload: %d %s", code, body)
	}
	js := func(v any) string {
		b, _ := json.Marshal(v)
		return string(b)
	}
	big := map[string]string{"k": strings.Repeat("x", 70<<10)}
	cases := []struct {
		what, method, path, body, want string
	}{
		{"params over 64 KiB", "POST", "/api/v1/executions", js(map[string]any{"project": "p", "flow": "f", "params": big}), "limit is 65535"},
		{"priority out of range", "POST", "/api/v1/executions", js(map[string]any{"project": "p", "flow": "f", "priority": int64(1) << 40}), "bad priority"},
		{"schedule params over 64 KiB", "POST", "/api/v1/schedules", js(map[string]any{"project": "p", "flow": "f", "cron": "@daily", "params": big}), "limit is 65535"},
		{"cron expression over 255", "POST", "/api/v1/schedules", js(map[string]any{"project": "p", "flow": "f", "cron": "0 0 * * *" + strings.Repeat(" ", 300)}), "limit is 255"},
		{"time zone over 64", "POST", "/api/v1/schedules", js(map[string]any{"project": "p", "flow": "f", "cron": "@daily", "time_zone": strings.Repeat("Z", 100)}), "limit is 64"},
		{"token name over 255", "POST", "/api/v1/tokens", js(map[string]any{"name": strings.Repeat("n", 300)}), "limit is 255"},
	}
	for _, c := range cases {
		code, body := call(t, srv, c.method, c.path, op, c.body)
		if code != 400 || !strings.Contains(body, c.want) || strings.Count(strings.TrimSpace(body), "\n") > 2 {
			t.Errorf("%s: %d %s, want 400 naming the limit (%q)", c.what, code, body, c.want)
		}
	}
	if code, body := upload("q", projectZip(t, strings.Repeat("j", 300))); code != 400 || !strings.Contains(body, "longer than 255 bytes") {
		t.Errorf("job name over 255: %d %s, want 400", code, body)
	}
	// Nothing of it was stored.
	if list, err := st.ListExecutions(context.Background(), store.ExecutionFilter{}); err != nil || len(list) != 0 {
		t.Fatalf("executions stored: %d, %v", len(list), err)
	}

	// Without authentication the client names itself; a long name is cut
	// to fit, never a server error.
	open := httptest.NewServer(webserver.New(webserver.Config{Insecure: true, OfflineAfter: time.Minute}, st, nil, nil, zerolog.Nop()).Handler())
	defer open.Close()
	req, _ := http.NewRequest("POST", open.URL+"/api/v1/executions", strings.NewReader(`{"project":"p","flow":"f"}`))
	req.Header.Set("X-Crawlctl-User", strings.Repeat("ü", 400))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("submit with a long X-Crawlctl-User: %d, want 201", resp.StatusCode)
	}
}

// A server error never shows the database's own message to the client.
func TestServerErrorsHideTheDetail(t *testing.T) {
	st, err := store.Open(context.Background(), storetest.NewMigratedDSN(t, "mysql"))
	if err != nil {
		t.Fatal(err)
	}
	st.Close() // every query now fails with the driver's "sql: database is closed"
	srv := httptest.NewServer(webserver.New(webserver.Config{Insecure: true, OfflineAfter: time.Minute}, st, nil, nil, zerolog.Nop()).Handler())
	defer srv.Close()
	code, body := call(t, srv, "GET", "/api/v1/executions", "", "")
	if code != 500 || !strings.Contains(body, "internal error") || strings.Contains(body, "sql") {
		t.Fatalf("server error: %d %s, want 500 saying internal error and nothing of the driver", code, body)
	}
}
