package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/testcluster"
)

// Run markers: a job made by markedJob leaves one file per run under
// DIR/<execution id>/, named run.<shell pid>.<start ns>, holding
//
//	start <unix ns>
//	cwd <dir>          its working directory (under its executor's directory)
//	tick <unix ns>     every 100ms while it runs
//	end <unix ns>      only when it ended by itself
//
// so a test can tell, from the files alone, when each run of each execution
// started and when it was last seen alive, and from the pid whether it still
// is. A run killed by SIGKILL stops ticking within 100ms of its death.

// markedJob is a one-job flow whose job is markedScript.
func markedJob(dir, first, cond string) string { return oneJob(markedScript(dir, first, cond)) }

// markedScript is a job command that writes run markers under dir and
// ticks while cond (a shell test) holds, at most 300s. first, when not
// empty, is the cond of the first run of each execution only (later runs use
// cond), which lets the first run hang and a retry end.
func markedScript(dir, first, cond string) string {
	if first == "" {
		first = cond
	}
	return fmt.Sprintf(`d=%s/${azkaban.flow.execid}; mkdir -p $d; m=$d/run.$$.$(date +%%s%%N); echo "start $(date +%%s%%N)" > $m; echo "cwd $(pwd)" >> $m; `+
		`if [ -e $d/first ]; then c='%s'; else touch $d/first; c='%s'; fi; `+
		`n=3000; while [ $n -gt 0 ] && eval "$c"; do echo "tick $(date +%%s%%N)" >> $m; sleep 0.1; n=$((n-1)); done; `+
		`echo "end $(date +%%s%%N)" >> $m`, dir, cond, first)
}

// markedPair is a two-job flow: "job" runs markedScript, "after" depends
// on it (READY while job runs).
func markedPair(dir, first, cond string) string {
	return fmt.Sprintf("nodes:\n  - name: job\n    type: command\n    config:\n      command: %q\n"+
		"  - name: after\n    type: command\n    dependsOn: [job]\n    config:\n      command: \"true\"\n", markedScript(dir, first, cond))
}

// forTicks is a markedJob cond that holds for about n ticks of the run.
func forTicks(n int) string {
	return fmt.Sprintf("[ $(grep -c tick $m) -lt %d ]", n)
}

// untilFile is a markedJob cond that holds until path exists.
func untilFile(path string) string { return fmt.Sprintf("[ ! -e %s ]", path) }

// forever is a markedJob cond that holds until the run is killed (or 300s).
const forever = "true"

type runMarker struct {
	Exec        string // execution id
	File        string
	Cwd         string // the run's working directory
	PID         int
	Start, Last int64 // unix ns: start, and the last sign of life (tick or end)
	Ended       bool  // wrote its end line
}

func (r runMarker) String() string {
	end := "last seen"
	if r.Ended {
		end = "ended"
	}
	return fmt.Sprintf("execution %s pid %d: started %s, %s %s", r.Exec, r.PID,
		time.Unix(0, r.Start).Format("15:04:05.000"), end, time.Unix(0, r.Last).Format("15:04:05.000"))
}

// readRuns reads every run marker under dir, by execution id, each
// execution's runs in start order.
func readRuns(t *testing.T, dir string) map[string][]runMarker {
	t.Helper()
	out := map[string][]runMarker{}
	files, _ := filepath.Glob(filepath.Join(dir, "*", "run.*"))
	for _, f := range files {
		parts := strings.Split(filepath.Base(f), ".")
		if len(parts) != 3 {
			continue
		}
		r := runMarker{Exec: filepath.Base(filepath.Dir(f)), File: f}
		r.PID, _ = strconv.Atoi(parts[1])
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			kind, v, ok := strings.Cut(line, " ")
			if kind == "cwd" {
				r.Cwd = v
				continue
			}
			ns, err := strconv.ParseInt(v, 10, 64)
			if !ok || err != nil {
				continue // a line being written
			}
			switch kind {
			case "start":
				r.Start, r.Last = ns, max(r.Last, ns)
			case "tick":
				r.Last = max(r.Last, ns)
			case "end":
				r.Last, r.Ended = max(r.Last, ns), true
			}
		}
		if r.Start == 0 {
			continue // just created
		}
		out[r.Exec] = append(out[r.Exec], r)
	}
	for _, runs := range out {
		sort.Slice(runs, func(i, j int) bool { return runs[i].Start < runs[j].Start })
	}
	return out
}

// checkNoOverlap fails the test if a run of an execution started before the
// previous run of the same execution had stopped ticking.
func checkNoOverlap(t *testing.T, runs map[string][]runMarker) {
	t.Helper()
	for id, rs := range runs {
		for i := 1; i < len(rs); i++ {
			if rs[i].Start <= rs[i-1].Last {
				t.Errorf("execution %s ran twice at the same time:\n  %s\n  %s", id, rs[i-1], rs[i])
			}
		}
	}
}

// liveWatch samples the run markers under a directory every 20ms and
// remembers the most runs of one execution it saw alive at once. When the
// test ends it kills (SIGKILL, with their process groups) every run still
// alive, so that no job outlives the test even when the product left it
// running.
type liveWatch struct {
	dir     string
	mu      sync.Mutex
	maxLive map[string]int // execution id -> most runs alive at once
	seen    map[string]string
	pgids   map[int]int // pid -> its process group, learnt while alive
	stop    chan struct{}
	done    chan struct{}
}

func watchRuns(t *testing.T, c *testcluster.Cluster, dir string) *liveWatch {
	w := &liveWatch{dir: dir, maxLive: map[string]int{}, seen: map[string]string{}, pgids: map[int]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	go w.loop(t)
	t.Cleanup(func() {
		close(w.stop)
		<-w.done
		// A job never outlives its executor: once every daemon has
		// stopped, no run may be left alive.
		c.StopAll()
		var left []string
		deadline := time.Now().Add(5 * time.Second)
		for {
			if left = w.alive(); len(left) == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if len(left) > 0 {
			t.Errorf("jobs outlived every daemon of the cluster: %v", left)
		}
		w.killAll()
	})
	return w
}

func (w *liveWatch) loop(t *testing.T) {
	defer close(w.done)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		w.sample(t)
		select {
		case <-w.stop:
			return
		case <-tick.C:
		}
	}
}

func (w *liveWatch) sample(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(w.dir, "*", "run.*"))
	live := map[string][]string{}
	for _, f := range files {
		parts := strings.Split(filepath.Base(f), ".")
		if len(parts) != 3 {
			continue
		}
		pid, _ := strconv.Atoi(parts[1])
		if !testcluster.ProcAlive(pid) {
			continue
		}
		id := filepath.Base(filepath.Dir(f))
		live[id] = append(live[id], fmt.Sprintf("pid %d", pid))
		if g, ok := testcluster.ProcGroup(pid); ok {
			w.mu.Lock()
			if _, known := w.pgids[pid]; !known {
				w.pgids[pid] = g
			}
			w.mu.Unlock()
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, pids := range live {
		if len(pids) > w.maxLive[id] {
			w.maxLive[id] = len(pids)
			w.seen[id] = fmt.Sprintf("%s at %s", strings.Join(pids, ", "), time.Now().Format("15:04:05.000"))
		}
	}
}

// check fails the test if two runs of one execution were ever alive at once.
func (w *liveWatch) check(t *testing.T) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, n := range w.maxLive {
		if n > 1 {
			t.Errorf("execution %s had %d runs alive at once (%s)", id, n, w.seen[id])
		}
	}
}

// group is the process group pid was seen in (0 if never seen alive).
func (w *liveWatch) group(pid int) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pgids[pid]
}

// alive lists the runs under the directory whose shell, or any process of
// its group, is alive.
func (w *liveWatch) alive() []string {
	files, _ := filepath.Glob(filepath.Join(w.dir, "*", "run.*"))
	var out []string
	for _, f := range files {
		parts := strings.Split(filepath.Base(f), ".")
		if len(parts) != 3 {
			continue
		}
		pid, _ := strconv.Atoi(parts[1])
		g := w.group(pid)
		if testcluster.ProcAlive(pid) || (g > 0 && testcluster.GroupAlive(g)) {
			// Not the group: the watcher may not have seen it yet.
			out = append(out, fmt.Sprintf("execution %s pid %d", filepath.Base(filepath.Dir(f)), pid))
		}
	}
	return out
}

func (w *liveWatch) killAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for pid, g := range w.pgids {
		if testcluster.ProcAlive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		if g > 1 && testcluster.GroupAlive(g) {
			_ = syscall.Kill(-g, syscall.SIGKILL)
		}
	}
}

// waitRuns waits until execution id has at least n run markers.
func waitRuns(t *testing.T, c *testcluster.Cluster, dir string, id int64, n int, timeout time.Duration) []runMarker {
	t.Helper()
	var runs []runMarker
	c.WaitFor(timeout, fmt.Sprintf("%d run(s) of execution %d", n, id), func() (bool, string) {
		runs = readRuns(t, dir)[strconv.FormatInt(id, 10)]
		return len(runs) >= n, fmt.Sprint(runs)
	})
	return runs
}

// ranOn reports whether the run's working directory is under executor p's
// directory.
func (r runMarker) ranOn(p *testcluster.Proc) bool {
	dir := p.Dir
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	cwd := r.Cwd
	if real, err := filepath.EvalSymlinks(cwd); err == nil {
		cwd = real
	}
	return cwd != "" && strings.HasPrefix(cwd, dir+string(filepath.Separator))
}

// waitJobRunning waits until execution id shows a RUNNING job: a job's
// process starts before its executor records it, so a test that disrupts a
// run and then checks its job rows must wait for them first.
func waitJobRunning(t *testing.T, c *testcluster.Cluster, id int64, timeout time.Duration) {
	t.Helper()
	c.WaitFor(timeout, fmt.Sprintf("execution %d to show a running job", id), func() (bool, string) {
		e := showExec(c, id)
		for _, j := range e.Jobs {
			if j.Status == "RUNNING" {
				return true, ""
			}
		}
		return false, toJSON(e)
	})
}

// checkJobsEnded fails the test unless every job row of e has a final
// status (none left READY or RUNNING).
func checkJobsEnded(t *testing.T, e execJSON) {
	t.Helper()
	if len(e.Jobs) == 0 {
		t.Errorf("execution %d (%s) shows no job rows", e.ID, e.Status)
	}
	for _, j := range e.Jobs {
		switch j.Status {
		case "READY", "RUNNING", "":
			t.Errorf("execution %d ended %s but its job %s is still %q", e.ID, e.Status, j.Name, j.Status)
		}
	}
}
