package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/testcluster"
)

// outageCluster is a cluster on a private MariaDB with two active
// executors and a project whose flows ("plain", and "retry" with
// flow.retries: 1) tick markers under dir until the release file exists.
func outageCluster(t *testing.T, configure func(*testcluster.Options)) (*testcluster.MariaDB, *testcluster.Cluster, []*testcluster.Proc, *liveWatch, string, string) {
	db := testcluster.StartMariaDB(t)
	t.Setenv("CRAWLCTL_TEST_MYSQL_DSN", db.ServerDSN())
	c := testcluster.New(t, func(o *testcluster.Options) {
		o.ExecutorNames = []string{"a", "b"}
		o.Activate = true
	}, configure)
	execs := c.Executors()
	dir := filepath.Join(t.TempDir(), "runs")
	release := filepath.Join(t.TempDir(), "release")
	w := watchRuns(t, c, dir)
	c.MustCLI("project", "upload", writeProject(t, map[string]string{
		"plain": markedJob(dir, "", untilFile(release)),
		"retry": "config:\n  flow.retries: 1\n" + markedJob(dir, "", untilFile(release)),
	}), "--name", "p")
	return db, c, execs, w, dir, release
}

// liveRuns is how many distinct executions have a live run.
func liveRuns(w *liveWatch) (int, []string) {
	alive := w.alive()
	execs := map[string]bool{}
	for _, a := range alive {
		execs[strings.Fields(a)[1]] = true
	}
	return len(execs), alive
}

// TestLongDatabaseOutageIsNobodysFault stops the database for longer than
// the offline threshold while flows run and others wait. Every executor
// lost the database together: its lease ran out, so it killed its jobs
// (none is left running); once the database is back the interrupted flows
// start again from the beginning, the queued ones resume within seconds,
// and every execution ends SUCCEEDED — none FAILED by the outage, none run
// twice at once, with or without flow.retries.
func TestLongDatabaseOutageIsNobodysFault(t *testing.T) {
	db, c, _, w, dir, release := outageCluster(t, func(o *testcluster.Options) { o.ExecutorFlags = []string{"--max-flows", "2"} })
	var running, queued []int64
	for i := 0; i < 3; i++ {
		running = append(running, submit(t, c, "p", "plain"), submit(t, c, "p", "retry"))
	}
	// 2 executors x --max-flows 2: four run, two wait.
	c.WaitFor(30*time.Second, "four flows running and two queued", func() (bool, string) {
		n, alive := liveRuns(w)
		list := listExecs(c)
		q := 0
		for _, id := range running {
			if list[id].Status == "QUEUED" {
				q++
			}
		}
		return n == 4 && q == 2, fmt.Sprintf("%d queued; alive: %v", q, alive)
	})
	list := listExecs(c)
	all := running
	running, queued = nil, nil
	for _, id := range all {
		if list[id].Status == "QUEUED" {
			queued = append(queued, id)
		} else {
			running = append(running, id)
		}
	}

	db.Stop()
	down := time.Now()
	// Past the lease, every job is killed: none is left running.
	c.WaitFor(3*c.Offline, "every running job to be killed by its executor's lease", func() (bool, string) {
		n, alive := liveRuns(w)
		return n == 0, fmt.Sprint(alive)
	})
	t.Logf("jobs killed %s into the outage", time.Since(down).Round(time.Millisecond))
	// And past the offline threshold.
	c.WaitFor(3*c.Offline, "the outage to outlast --offline-after", func() (bool, string) {
		return time.Since(down) > c.Offline+time.Second, time.Since(down).String()
	})
	db.Start()
	up := time.Now()
	t.Logf("database down for %s", up.Sub(down).Round(time.Millisecond))
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	got := waitAllEnded(t, c, all, 45*time.Second, "SUCCEEDED")
	t.Logf("every execution SUCCEEDED %s after the database came back", time.Since(up).Round(time.Millisecond))

	runs := readRuns(t, dir)
	checkNoOverlap(t, runs)
	w.check(t)
	for _, id := range running {
		rs := runs[strconv.FormatInt(id, 10)]
		if len(rs) != 2 || rs[0].Ended || !rs[1].Ended || rs[1].Start < up.UnixNano() {
			t.Errorf("execution %d, running when the database went away: want a killed run, then a complete one after the outage; got %v (%s)", id, rs, toJSON(got[id]))
		}
		// Started twice; the outage did not use up a flow retry.
		if e := got[id]; e.Attempt != 2 || (e.Flow == "retry" && e.FlowRetries != 1) {
			t.Errorf("execution %d, interrupted by the outage: want attempt 2 and, for the retry flow, its flow retry left: %s", id, toJSON(e))
		}
	}
	for _, id := range queued {
		rs := runs[strconv.FormatInt(id, 10)]
		if len(rs) != 1 || !rs[0].Ended || got[id].Attempt != 1 {
			t.Errorf("execution %d, queued during the outage: want one complete run; got %v (%s)", id, rs, toJSON(got[id]))
		}
	}
	for _, id := range all {
		if e := got[id]; e.Error != "" || strings.Contains(toJSON(e), "executor lost") {
			t.Errorf("execution %d carries an error from the outage: %s", id, toJSON(e))
		}
	}
}

// TestShortDatabaseOutageChangesNothing restarts the database while flows
// run, well within the executors' lease: nothing is interrupted, each flow
// starts exactly once and succeeds.
func TestShortDatabaseOutageChangesNothing(t *testing.T) {
	// A lease of 10s: a restart of the server fits well within it.
	db, c, execs, w, dir, release := outageCluster(t, func(o *testcluster.Options) { o.Timers.OfflineAfter = 15 * time.Second })
	var ids []int64
	for i := 0; i < 2; i++ {
		ids = append(ids, submit(t, c, "p", "plain"), submit(t, c, "p", "retry"))
	}
	c.WaitFor(30*time.Second, "four flows running", func() (bool, string) {
		n, alive := liveRuns(w)
		return n == 4, fmt.Sprint(alive)
	})
	alive := w.alive()

	failures := func(p *testcluster.Proc) int { return strings.Count(p.Log.String(), "heartbeat failed") }
	before := map[string]int{}
	for _, p := range execs {
		before[p.Name] = failures(p)
	}
	down := time.Now()
	db.Stop()
	// Down until every executor has seen it (a failed heartbeat), no longer.
	c.WaitFor(c.Offline/3, "every executor to see the outage", func() (bool, string) {
		for _, p := range execs {
			if failures(p) == before[p.Name] {
				return false, p.Name + " has not failed a heartbeat yet"
			}
		}
		return true, ""
	})
	db.Start()
	took := time.Since(down)
	t.Logf("database down for %s (lease %s)", took.Round(time.Millisecond), c.Offline*2/3)
	if took > c.Offline/3 {
		t.Fatalf("restarting the private MariaDB took %s, too long to stay well within the %s lease", took, c.Offline*2/3)
	}
	for _, n := range []string{"a", "b"} {
		waitHeartbeats(t, c, n, 2, 30*time.Second)
	}
	if after := w.alive(); fmt.Sprint(after) != fmt.Sprint(alive) {
		t.Fatalf("the jobs running before the outage changed:\nbefore %v\nafter  %v", alive, after)
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	got := waitAllEnded(t, c, ids, 45*time.Second, "SUCCEEDED")
	runs := readRuns(t, dir)
	checkNoOverlap(t, runs)
	w.check(t)
	for _, id := range ids {
		rs := runs[strconv.FormatInt(id, 10)]
		if len(rs) != 1 || !rs[0].Ended || got[id].Attempt != 1 || got[id].Error != "" {
			t.Errorf("execution %d: want one run, uninterrupted; got %v (%s)", id, rs, toJSON(got[id]))
		}
	}
}
