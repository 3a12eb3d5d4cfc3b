package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/testcluster"
)

// execDetail is an execution as exec show/list -o json print it, with the
// dispatch bookkeeping execJSON leaves out.
type execDetail struct {
	execJSON
	DispatchFailures int    `json:"dispatch_failures"`
	FlowRetries      int    `json:"flow_retries"`
	KillReason       string `json:"kill_reason"`
}

func (e execDetail) ended() bool {
	return e.Status == "SUCCEEDED" || e.Status == "FAILED" || e.Status == "KILLED"
}

// listExecs returns the cluster's executions by id (exec list).
func listExecs(c *testcluster.Cluster) map[int64]execDetail {
	var list []execDetail
	c.Read(&list, executions("", 1000))
	out := map[int64]execDetail{}
	for _, e := range list {
		out[e.ID] = e
	}
	return out
}

// waitAllEnded waits until every execution of ids has ended and returns
// them; any that ends otherwise than want fails the test at once.
func waitAllEnded(t *testing.T, c *testcluster.Cluster, ids []int64, timeout time.Duration, want string) map[int64]execDetail {
	t.Helper()
	var got map[int64]execDetail
	c.WaitFor(timeout, fmt.Sprintf("%d executions %s", len(ids), want), func() (bool, string) {
		got = listExecs(c)
		var waiting []string
		for _, id := range ids {
			e, ok := got[id]
			switch {
			case !ok:
				waiting = append(waiting, fmt.Sprintf("%d: not listed", id))
			case e.ended() && e.Status != want:
				t.Fatalf("execution %d ended %s on %q: %s", id, e.Status, e.ExecutorName, toJSON(e))
			case !e.ended():
				waiting = append(waiting, fmt.Sprintf("%d: %s on %q %s", id, e.Status, e.ExecutorName, e.WaitReason))
			}
		}
		return len(waiting) == 0, strings.Join(waiting, "; ")
	})
	return got
}

// submitMany submits n executions of project/flow through the REST API,
// eight at a time, and returns their ids in submit order.
func submitMany(t *testing.T, c *testcluster.Cluster, project, flow string, n int) []int64 {
	t.Helper()
	return submitManyTo(t, c, []string{c.Server()}, project, flow, n)
}

// submitManyTo is submitMany through the web servers at servers (base
// URLs), taken in turn.
func submitManyTo(t *testing.T, c *testcluster.Cluster, servers []string, project, flow string, n int) []int64 {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"project": project, "flow": flow})
	ids := make([]int64, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			req, _ := http.NewRequest(http.MethodPost, servers[i%len(servers)]+"/api/v1/executions", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+c.Token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			var res struct {
				Executions []execJSON `json:"executions"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || resp.StatusCode != http.StatusCreated || len(res.Executions) != 1 {
				errs <- fmt.Errorf("submit %s/%s: HTTP %d %v", project, flow, resp.StatusCode, err)
				return
			}
			ids[i] = res.Executions[0].ID
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return ids
}

// byExecutor counts executions by the executor they ran on.
func byExecutor(execs map[int64]execDetail, ids []int64) map[string]int {
	out := map[string]int{}
	for _, id := range ids {
		out[execs[id].ExecutorName]++
	}
	return out
}

// heartbeatOf is the executor's last heartbeat (zero time if none).
func heartbeatOf(c *testcluster.Cluster, name string) time.Time {
	e := listExecutors(c)[name]
	if e.LastHeartbeat == nil {
		return time.Time{}
	}
	return *e.LastHeartbeat
}

// waitHeartbeats waits until executor name has written n more heartbeats
// (its last_heartbeat advanced n times) and is online.
func waitHeartbeats(t *testing.T, c *testcluster.Cluster, name string, n int, timeout time.Duration) {
	t.Helper()
	last := heartbeatOf(c, name)
	seen := 0
	c.WaitFor(timeout, fmt.Sprintf("%d more heartbeat(s) of %s", n, name), func() (bool, string) {
		e := listExecutors(c)[name]
		if e.LastHeartbeat != nil && e.LastHeartbeat.After(last) {
			last = *e.LastHeartbeat
			seen++
		}
		return seen >= n && e.Status == "online", fmt.Sprintf("%d heartbeat(s); %s", seen, toJSON(e))
	})
}

func idList(ids []int64) string {
	s := make([]string, len(ids))
	sorted := append([]int64(nil), ids...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	for i, id := range sorted {
		s[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(s, ",")
}
