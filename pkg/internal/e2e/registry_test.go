package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/api"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/testcluster"
)

// executorJSON is an executor as the API shows it.
type executorJSON = api.Executor

func listExecutors(c *testcluster.Cluster) map[string]executorJSON {
	var list []executorJSON
	c.Read(&list, executors)
	out := map[string]executorJSON{}
	for _, e := range list {
		out[e.Name] = e
	}
	return out
}

func waitExecutor(t *testing.T, c *testcluster.Cluster, name, what string, cond func(e executorJSON) bool) executorJSON {
	t.Helper()
	var got executorJSON
	c.WaitFor(15*time.Second, name+" "+what, func() (bool, string) {
		e, ok := listExecutors(c)[name]
		got = e
		return ok && cond(e), strings.TrimSpace(toJSON(e))
	})
	return got
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestExecutorRegistryEndToEnd(t *testing.T) {
	c := testcluster.New(t, func(o *testcluster.Options) { o.Timers.OfflineAfter = 4 * time.Second })
	c.StartWeb()
	n1 := c.StartExecutor("node-1", "--heartbeat", "1s", "--label", "zone=a")
	n2 := c.StartExecutor("node-2", "--heartbeat", "1s")
	n3 := c.StartExecutor("node-3", "--heartbeat", "1s")

	// All three register inactive and online.
	for _, n := range []string{"node-1", "node-2", "node-3"} {
		e := waitExecutor(t, c, n, "inactive and online", func(e executorJSON) bool { return !e.Active && e.Status == "online" })
		if e.LastHeartbeat == nil || e.Host != "127.0.0.1" {
			t.Fatalf("%s: %+v", n, e)
		}
	}
	if l := listExecutors(c)["node-1"].Labels; l["zone"] != "a" {
		t.Fatalf("labels of node-1 = %v", l)
	}
	table := c.MustCLI("executor", "list")
	for _, want := range []string{"NAME", "STATUS", "SKEW", "node-1", "online", "false"} {
		if !strings.Contains(table, want) {
			t.Fatalf("executor list table lacks %q:\n%s", want, table)
		}
	}

	// Activate node-1 Azkaban-style: a GET on the port from its port file.
	port, err := os.ReadFile(filepath.Join(n1.Dir, "executor.port"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := strconv.Atoi(string(port)); err != nil {
		t.Fatalf("port file holds %q, want digits only", port)
	}
	url := "http://127.0.0.1:" + string(port) + "/executor?action=activate"
	if code, body := testcluster.Get(t, url); code != 401 || strings.TrimSpace(body) != `{"error":"unauthorized: send the cluster secret as \"Authorization: Bearer <secret>\" (--cluster-secret-file)"}` {
		t.Fatalf("activate without the cluster secret: %d %s", code, body)
	}
	if listExecutors(c)["node-1"].Active {
		t.Fatal("an unauthorized activate changed the row")
	}
	code, body := testcluster.Do(t, http.MethodGet, url, c.Secret, nil)
	if code != 200 || strings.TrimSpace(body) != `{"status":"success"}` {
		t.Fatalf("activate via servlet: %d %s", code, body)
	}
	// And node-2 with the CLI, by name.
	if out := c.MustCLI("executor", "activate", "node-2"); !strings.Contains(out, "activated") {
		t.Fatalf("activate output: %s", out)
	}
	list := listExecutors(c)
	if !list["node-1"].Active || !list["node-2"].Active || list["node-3"].Active {
		t.Fatalf("active flags: %+v", list)
	}
	// getStatus agrees with the list.
	for _, p := range []*testcluster.Proc{n1, n2, n3} {
		_, body := testcluster.Get(t, "http://"+p.Addr+"/executor?action=getStatus")
		var st map[string]string
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatal(err)
		}
		e := list[p.Name]
		if st["executor_id"] != strconv.FormatInt(e.ID, 10) || st["isActive"] != strconv.FormatBool(e.Active) || st["status"] != "success" {
			t.Fatalf("%s getStatus %v disagrees with list %+v", p.Name, st, e)
		}
	}
	// Deactivate through the servlet, POST with a form body, is idempotent.
	for i := 0; i < 2; i++ {
		_, body := postForm(t, "http://"+n2.Addr+"/executor", "action=deactivate", c.Secret)
		if strings.TrimSpace(body) != `{"status":"success"}` {
			t.Fatalf("deactivate: %s", body)
		}
	}
	if listExecutors(c)["node-2"].Active {
		t.Fatal("node-2 still active after deactivate")
	}

	// SIGTERM node-1: stopped, port file gone, exit 0.
	id1 := list["node-1"].ID
	n1.Signal(syscall.SIGTERM)
	if code := n1.ExitCode(); code != 0 {
		t.Fatalf("node-1 exit code after SIGTERM = %d", code)
	}
	if _, err := os.Stat(filepath.Join(n1.Dir, "executor.port")); !os.IsNotExist(err) {
		t.Fatalf("port file still there after SIGTERM: %v", err)
	}
	waitExecutor(t, c, "node-1", "stopped", func(e executorJSON) bool { return e.Status == "stopped" && !e.Active })

	// Restart it on its port: same id, inactive even though it was active before.
	c.Restart(n1, "--port", string(port))
	c.WaitExecutorPort(n1)
	e := waitExecutor(t, c, "node-1", "back online", func(e executorJSON) bool { return e.Status == "online" })
	if e.ID != id1 || e.Active {
		t.Fatalf("after restart: id %d active %v; want id %d inactive", e.ID, e.Active, id1)
	}

	// kill -9 node-3: offline after the threshold, its row stays.
	n3.Signal(syscall.SIGKILL)
	<-n3.Done()
	waitExecutor(t, c, "node-3", "offline", func(e executorJSON) bool { return e.Status == "offline" })

	// A deleted row is re-created, inactive, with its id.
	id2 := list["node-2"].ID
	db := openDB(t, c.DSN)
	if _, err := db.Exec("DELETE FROM executors WHERE id = ?", id2); err != nil {
		t.Fatal(err)
	}
	e = waitExecutor(t, c, "node-2", "re-created", func(e executorJSON) bool { return e.Status == "online" })
	if e.ID != id2 || e.Active {
		t.Fatalf("re-created row: %+v, want id %d inactive", e, id2)
	}
	// remove refuses an online executor, accepts the offline one.
	if r := c.CLI("executor", "remove", "node-2"); r.Code != 2 || !strings.Contains(r.Stderr, "online") {
		t.Fatalf("remove online: %+v", r)
	}
	c.MustCLI("executor", "remove", "node-3")
	if _, ok := listExecutors(c)["node-3"]; ok {
		t.Fatal("node-3 still listed after remove")
	}
}

func TestClockSkewIsShownButHarmless(t *testing.T) {
	c := testcluster.New(t, func(o *testcluster.Options) { o.Timers.OfflineAfter = 4 * time.Second })
	c.StartWeb()
	c.StartExecutor("skewed", "--clock-offset", "-7m")
	e := waitExecutor(t, c, "skewed", "online with skew", func(e executorJSON) bool { return e.Status == "online" && e.ClockSkewMs < -6*60*1000 })
	if e.ClockSkewMs > -6*60*1000 || e.ClockSkewMs < -8*60*1000 {
		t.Fatalf("clock skew %d ms, want about -7m", e.ClockSkewMs)
	}
	if out := c.MustCLI("executor", "list"); !strings.Contains(out, "-7m0s") {
		t.Fatalf("list does not show the skew:\n%s", out)
	}
	// Still online well past the threshold: liveness uses the database clock.
	deadline := time.Now().Add(2 * c.Offline)
	for time.Now().Before(deadline) {
		if s := listExecutors(c)["skewed"].Status; s != "online" {
			t.Fatalf("skewed executor became %s", s)
		}
		<-time.After(200 * time.Millisecond)
	}
}

func TestBadInput(t *testing.T) {
	c := testcluster.New(t)
	c.StartWeb()
	a := c.StartExecutor("dup", "--host", "127.0.0.1")
	c.StartExecutor("dup2", "--name", "dup")

	cases := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"unknown ref", []string{"executor", "activate", "nope"}, 2, `no executor matches "nope"`},
		{"ambiguous ref", []string{"executor", "show", "dup"}, 2, "ambiguous"},
		{"unknown command", []string{"executor", "frobnicate"}, 2, "unknown command"},
		{"bad output", []string{"executor", "list", "-o", "yaml"}, 2, "bad --output"},
		{"unreachable server", []string{"executor", "list", "--server", "http://127.0.0.1:1"}, 3, "cannot reach"},
		{"unreachable database", []string{"executor", "serve", "--insecure", "--db", "mysql://root@127.0.0.1:1/x", "--port", "0"}, 3, "unreachable"},
		{"bad dsn", []string{"web", "serve", "--insecure", "--db", "postgres://x"}, 2, "use mysql://user:pass@host:3306/dbname, user:pass@tcp(host:3306)/dbname or sqlite://"},
		{"port in use", []string{"executor", "serve", "--insecure", "--db", c.DSN, "--port", strings.Split(a.Addr, ":")[1], "--port-file", ""}, 2, "already in use"},
		{"bad label", []string{"executor", "serve", "--insecure", "--db", c.DSN, "--label", "novalue"}, 2, "bad --label"},
		{"no auth configured", []string{"executor", "serve", "--db", c.DSN, "--port", "0"}, 2, "--cluster-secret-file"},
		{"world-readable secret", []string{"web", "serve", "--db", c.DSN, "--cluster-secret-file", worldReadable(t)}, 2, "chmod 600"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.CLI(tc.args...)
			if r.Code != tc.code || !strings.Contains(r.Stderr, tc.stderr) {
				t.Fatalf("exit %d stderr %q; want exit %d and %q", r.Code, r.Stderr, tc.code, tc.stderr)
			}
			if lines := strings.Count(strings.TrimSpace(r.Stderr), "\n"); tc.code != 3 && lines > 0 && !strings.Contains(tc.name, "database") {
				t.Fatalf("error is not one line:\n%s", r.Stderr)
			}
		})
	}
	if r := c.CLI("executor", "show", "dup"); !strings.Contains(r.Stderr, a.Addr) {
		t.Fatalf("ambiguous error does not list candidates: %s", r.Stderr)
	}

	// The servlet's own errors, Azkaban's wording.
	_, body := testcluster.Get(t, "http://"+a.Addr+"/executor")
	if strings.TrimSpace(body) != `{"error":"Parameter action not set"}` {
		t.Fatalf("no action: %s", body)
	}
	_, body = testcluster.Get(t, "http://"+a.Addr+"/executor?action=x")
	if strings.TrimSpace(body) != `{"error":"action: 'x' not supported."}` {
		t.Fatalf("unknown action: %s", body)
	}
	_, body = testcluster.Get(t, "http://"+a.Addr+"/executor?action=ping")
	if strings.TrimSpace(body) != `{"status":"alive"}` {
		t.Fatalf("ping: %s", body)
	}
}

func TestDaemonsRefuseUnmigratedDatabase(t *testing.T) {
	bin := testcluster.Binary(t)
	c := testcluster.New(t, func(o *testcluster.Options) { o.Dialect = "sqlite" })
	c.StartWeb()
	empty := "sqlite://" + filepath.Join(t.TempDir(), "empty.db")
	for _, args := range [][]string{{"web", "serve", "--insecure", "--db", empty, "--listen", "127.0.0.1:0"}, {"executor", "serve", "--insecure", "--db", empty, "--port", "0"}} {
		r := c.CLI(args...)
		if r.Code != 3 || !strings.Contains(r.Stderr, "crawlctl migrate up") {
			t.Fatalf("%s %v: exit %d %q; want 3 and a hint to migrate", bin, args, r.Code, r.Stderr)
		}
	}
	if out := c.MustCLI("migrate", "status", "--db", empty); !strings.Contains(out, "pending") {
		t.Fatalf("migrate status: %s", out)
	}
	if out := c.MustCLI("migrate", "up", "--db", empty); !strings.Contains(out, "latest") {
		t.Fatalf("migrate up: %s", out)
	}
}

func openDB(t *testing.T, dsn string) *sqlDB {
	t.Helper()
	s, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &sqlDB{s: s}
}

// sqlDB lets a test play an operator running SQL against the database.
type sqlDB struct{ s *store.Store }

func (d *sqlDB) Exec(q string, args ...any) (sql.Result, error) {
	return d.s.ExecRaw(context.Background(), q, args...)
}

func postForm(t *testing.T, url, form, secret string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func storeFilter() store.ExecutionFilter { return store.ExecutionFilter{Limit: 10000} }

// worldReadable writes a cluster secret file that others may read.
func worldReadable(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte("a-long-enough-cluster-secret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
