package store_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/store/storetest"
)

const day = 24 * time.Hour

// ago is the time d ago as a database parameter (UTC).
func ago(d time.Duration) string {
	return time.Now().UTC().Add(-d).Format("2006-01-02 15:04:05.000000")
}

func execRaw(t *testing.T, s *store.Store, q string, args ...any) {
	t.Helper()
	if _, err := s.ExecRaw(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func countRows(t *testing.T, s *store.Store, table string) int64 {
	t.Helper()
	rows, err := s.QueryRaw(context.Background(), "SELECT COUNT(*) FROM "+table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var n int64
	for rows.Next() {
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// tableCounts counts the rows of every table Prune deletes from.
func tableCounts(t *testing.T, s *store.Store) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, table := range store.PruneTables {
		out[table] = countRows(t, s, table)
	}
	return out
}

// pastExecution submits an execution of version pv, then makes it status,
// started start ago and (for a final status) ended end ago, with jobs jobs
// and logs log chunks written at its start.
func pastExecution(t *testing.T, s *store.Store, pv *store.ProjectVersion, status string, start, end time.Duration, jobs, logs int) int64 {
	t.Helper()
	ex := submitOne(t, s, pv, "ignore")
	var endTime any
	if end > 0 {
		endTime = ago(end)
	}
	execRaw(t, s, "UPDATE executions SET status = ?, start_time = ?, end_time = ?, submit_time = ? WHERE id = ?", status, ago(start), endTime, ago(start), ex.ID)
	for j := range jobs {
		execRaw(t, s, "INSERT INTO execution_jobs (execution_id, job, exec_attempt, type, status, error) VALUES (?, ?, 0, 'command', 'SUCCEEDED', '')", ex.ID, fmt.Sprintf("job%d", j))
	}
	insertLogs(t, s, ex.ID, logs, ago(start))
	return ex.ID
}

// insertLogs writes n one-byte log chunks of execution id's flow log.
func insertLogs(t *testing.T, s *store.Store, id int64, n int, created string) {
	t.Helper()
	for done := 0; done < n; {
		k := min(200, n-done)
		q := "INSERT INTO execution_logs (execution_id, job, exec_attempt, attempt, start_offset, data, created_at) VALUES " +
			strings.TrimSuffix(strings.Repeat("(?, '', 0, 0, ?, 'x', ?), ", k), ", ")
		var args []any
		for i := range k {
			args = append(args, id, done+i, created)
		}
		execRaw(t, s, q, args...)
		done += k
	}
}

func addVersions(t *testing.T, s *store.Store, project string, n int, archive []byte) []*store.ProjectVersion {
	t.Helper()
	var out []*store.ProjectVersion
	for range n {
		pv, err := s.AddProjectVersion(context.Background(), store.NewProjectVersion{Project: project, SHA256: "x", Format: "flow2.0", Flows: "{}", Archive: archive})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, pv)
	}
	return out
}

func versionsOf(t *testing.T, s *store.Store, projectID int64) []int {
	t.Helper()
	list, err := s.ProjectVersions(context.Background(), projectID)
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, v := range list {
		out = append(out, v.Version)
	}
	return out
}

func wantReport(t *testing.T, what string, got store.PruneReport, want map[string]int64) {
	t.Helper()
	for _, table := range store.PruneTables {
		if got.Rows[table] != want[table] {
			t.Errorf("%s: %s: %d rows, want %d (report %v)", what, table, got.Rows[table], want[table], got.Rows)
		}
	}
}

// TestPruneKeepsWhatIsLiveOrRecent: old ended executions go with their
// jobs and logs, old logs of kept executions go, old versions, events,
// sessions, failed logins and finished alerts go; what runs, waits, is
// recent, or is among a project's newest versions stays. A dry run deletes
// nothing and counts the same.
func TestPruneKeepsWhatIsLiveOrRecent(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		exe, _ := fixture(t, s) // project p version 1
		p := append([]*store.ProjectVersion{nil}, addVersions(t, s, "p", 4, []byte("zip"))...)
		pv1, err := s.GetProjectVersion(ctx, "p", 1)
		if err != nil {
			t.Fatal(err)
		}
		p[0] = pv1 // p[i] is version i+1
		q := addVersions(t, s, "q", 3, []byte("zip"))
		if _, err := s.AddSchedule(ctx, store.NewSchedule{Project: "q", Flow: "f", Cron: "0 * * * * ?", TimeZone: "UTC", Concurrent: "ignore",
			Misfire: "fire-once", NextFire: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}

		running := pastExecution(t, s, p[0], store.ExecRunning, 200*day, 0, 2, 3)       // holds p v1
		queued := pastExecution(t, s, p[1], store.ExecQueued, 200*day, 0, 0, 0)         // holds p v2
		gone1 := pastExecution(t, s, p[2], store.ExecSucceeded, 101*day, 100*day, 2, 3) // p v3 goes
		gone2 := pastExecution(t, s, p[2], store.ExecFailed, 101*day, 95*day, 1, 2)
		logsGone := pastExecution(t, s, p[3], store.ExecKilled, 41*day, 40*day, 1, 2)
		recent := pastExecution(t, s, p[4], store.ExecSucceeded, 2*day, day, 1, 1)

		execRaw(t, s, "INSERT INTO executor_events (executor_id, type, actor, message, created_at) VALUES (?, 'ACTIVATED', 't', '', ?), (?, 'ACTIVATED', 't', '', ?)",
			exe.ID, ago(100*day), exe.ID, ago(100*day))
		execRaw(t, s, "INSERT INTO web_sessions (session_hash, user_id, remote, created_at, last_used) VALUES ('old', 1, '', ?, ?), ('new', 1, '', ?, ?)",
			ago(3*day), ago(2*day), ago(time.Hour), ago(time.Minute))
		execRaw(t, s, "INSERT INTO login_failures (remote, user_name, failed_at) VALUES ('r', 'u', ?), ('r', 'u', ?)", ago(2*day), ago(time.Minute))
		execRaw(t, s, "INSERT INTO alerts (dedupe_key, kind, status, message, next_try, created_at, finished_at) VALUES"+
			" ('sent', 'FAILED', 'SENT', '', ?, ?, ?), ('pending', 'FAILED', 'PENDING', '', ?, ?, NULL), ('given-up', 'FAILED', 'FAILED', '', ?, ?, ?)",
			ago(100*day), ago(100*day), ago(100*day), ago(100*day), ago(100*day), ago(2*day), ago(2*day), ago(day))
		execRaw(t, s, "INSERT INTO alert_attempts (alert_id, channel, ok, at) SELECT id, 'email', 1, created_at FROM alerts WHERE dedupe_key = 'sent'")
		execRaw(t, s, "INSERT INTO alert_attempts (alert_id, channel, ok, at) SELECT id, 'webhook', 0, created_at FROM alerts WHERE dedupe_key = 'sent'")

		r := store.Retention{Executions: 90 * day, Logs: 30 * day, Events: 90 * day, Versions: 2, Sessions: 10 * time.Hour, LoginFailures: day}
		want := map[string]int64{
			"executions": 2, "execution_jobs": 3, "execution_logs": 3 + 2 + 2,
			"project_versions": 2, "project_files": 2, // p v3, q v1
			"executor_events": 2, "web_sessions": 1, "login_failures": 1, "alerts": 1, "alert_attempts": 2,
		}

		before := tableCounts(t, s)
		dry, err := s.Prune(ctx, r, true)
		if err != nil {
			t.Fatal(err)
		}
		wantReport(t, "dry run", dry, want)
		if after := tableCounts(t, s); !maps.Equal(before, after) {
			t.Fatalf("the dry run changed the tables: %v, then %v", before, after)
		}

		rep, err := s.Prune(ctx, r, false)
		if err != nil {
			t.Fatal(err)
		}
		wantReport(t, "prune", rep, want)
		after := tableCounts(t, s)
		for table, n := range want {
			if after[table] != before[table]-n {
				t.Errorf("%s: %d rows left, want %d", table, after[table], before[table]-n)
			}
		}

		for _, id := range []int64{gone1, gone2} {
			if _, err := s.GetExecution(ctx, id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("execution %d ended 95+ days ago: %v, want not found", id, err)
			}
		}
		for id, jobs := range map[int64]int{running: 2, queued: 0, logsGone: 1, recent: 1} {
			ex, err := s.GetExecution(ctx, id)
			if err != nil {
				t.Fatalf("execution %d must stay: %v", id, err)
			}
			if len(ex.Jobs) != jobs {
				t.Errorf("execution %d has %d jobs, want %d", id, len(ex.Jobs), jobs)
			}
		}
		for id, want := range map[int64]string{running: "xxx", logsGone: "", recent: "x"} {
			if log, _, err := s.ReadLog(ctx, id, "", 0, 0); err != nil || string(log) != want {
				t.Errorf("log of execution %d = %q, %v; want %q", id, log, err, want)
			}
		}
		if got := fmt.Sprint(versionsOf(t, s, p[0].ProjectID)); got != "[5 4 2 1]" {
			t.Errorf("versions of p = %s, want [5 4 2 1] (newest two, and those a running and a queued execution use)", got)
		}
		if got := fmt.Sprint(versionsOf(t, s, q[0].ProjectID)); got != "[3 2]" {
			t.Errorf("versions of q = %s, want [3 2]", got)
		}
		if _, err := s.ProjectArchive(ctx, p[0].ProjectID, 1); err != nil {
			t.Errorf("archive of the version a running execution uses: %v", err)
		}

		// Nothing is left to delete.
		again, err := s.Prune(ctx, r, false)
		if err != nil || again.Total() != 0 {
			t.Fatalf("second prune = %v, %v; want nothing", again.Rows, err)
		}
		// Zero keeps everything.
		if none, err := s.Prune(ctx, store.Retention{}, false); err != nil || none.Total() != 0 {
			t.Fatalf("prune with zero retention = %v, %v", none.Rows, err)
		}
	})
}

// TestPruneFinishesAnInterruptedVersion: a prune stopped after a version's
// chunks went, before its row, leaves that version without an archive;
// the next prune deletes the row.
func TestPruneFinishesAnInterruptedVersion(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		archive := []byte(strings.Repeat("z", 2<<20+100)) // three chunks
		vs := addVersions(t, s, "p", 3, archive)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		s.OnPruneBatch(func(table string, rows int64) {
			if table == "project_files" && rows > 0 {
				cancel() // the process dies right after a batch of chunks
			}
		})
		r := store.Retention{Versions: 1}
		if _, err := s.Prune(ctx, r, false); !errors.Is(err, context.Canceled) {
			t.Fatalf("interrupted prune: %v, want context canceled", err)
		}
		s.OnPruneBatch(nil)
		if got := fmt.Sprint(versionsOf(t, s, vs[0].ProjectID)); got != "[3 2 1]" {
			t.Fatalf("after the interruption versions = %s, want [3 2 1]", got)
		}
		if _, err := s.ProjectArchive(context.Background(), vs[0].ProjectID, 1); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("archive of version 1 after its chunks went: %v, want not found", err)
		}

		rep, err := s.Prune(context.Background(), r, false)
		if err != nil {
			t.Fatal(err)
		}
		wantReport(t, "prune after the interruption", rep, map[string]int64{"project_versions": 2, "project_files": 3})
		if got := fmt.Sprint(versionsOf(t, s, vs[0].ProjectID)); got != "[3]" {
			t.Fatalf("versions = %s, want [3]", got)
		}
		if b, err := s.ProjectArchive(context.Background(), vs[0].ProjectID, 3); err != nil || len(b) != len(archive) {
			t.Fatalf("latest archive: %d bytes, %v", len(b), err)
		}
	})
}

// TestPruneBatches: no DELETE touches more than 500 rows; more than that
// goes in several statements, a parent's children included.
func TestPruneBatches(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		exe, pv := fixture(t, s)
		pastExecution(t, s, pv, store.ExecSucceeded, 11*day, 10*day, 0, 1234)
		for done := 0; done < 1100; done += 100 {
			execRaw(t, s, "INSERT INTO executor_events (executor_id, type, actor, message, created_at) VALUES "+
				strings.TrimSuffix(strings.Repeat(fmt.Sprintf("(%d, 'ACTIVATED', 't', '', '%s'), ", exe.ID, ago(10*day)), 100), ", "))
		}
		var mu sync.Mutex
		statements := map[string]int{}
		s.OnPruneBatch(func(table string, rows int64) {
			mu.Lock()
			defer mu.Unlock()
			if rows > 500 {
				t.Errorf("one DELETE of %s took %d rows", table, rows)
			}
			if rows > 0 {
				statements[table]++
			}
		})
		rep, err := s.Prune(context.Background(), store.Retention{Executions: day, Events: day}, false)
		if err != nil {
			t.Fatal(err)
		}
		wantReport(t, "prune", rep, map[string]int64{"executions": 1, "execution_logs": 1234, "executor_events": 1100})
		if statements["execution_logs"] != 3 || statements["executor_events"] != 3 {
			t.Errorf("statements that deleted rows: %v, want 3 each for execution_logs and executor_events", statements)
		}
	})
}
