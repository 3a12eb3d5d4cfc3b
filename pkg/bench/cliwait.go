package bench

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/testcluster/harness"
)

// CLIWait is what a user waiting in a shell sees: the wall time of the
// crawlctl CLI itself, a process started per command, against the times the
// system recorded. "Late" is how long after the execution's recorded end
// (database clock; one machine) the CLI process had exited.
type CLIWait struct {
	Runs      int `json:"runs"`
	ChainRuns int `json:"chain_runs"`
	// ProcessMs is `crawlctl version`: starting and ending the CLI process,
	// the floor of every command below.
	ProcessMs float64 `json:"process_ms"`
	// OneWallMs is `crawlctl flow run bench one --wait`, start to exit;
	// OneAPIMs the same execution's submit_time to end_time.
	OneWallMs float64 `json:"one_wall_ms"`
	OneAPIMs  float64 `json:"one_api_ms"`
	OneLateMs float64 `json:"one_late_ms"`
	// Chain*: the same for flow chain40.
	ChainWallMs float64 `json:"chain_wall_ms"`
	ChainAPIMs  float64 `json:"chain_api_ms"`
	ChainLateMs float64 `json:"chain_late_ms"`
	// ExecWaitLateMs is `crawlctl exec wait ID` started right after a submit
	// of chain40 through the API (which outlasts the CLI's own start): from
	// the execution's end to the command's exit.
	ExecWaitLateMs float64 `json:"exec_wait_late_ms"`
}

// measureCLIWait runs the CLI as a user would, sequentially on an idle
// cluster. All figures are medians.
func measureCLIWait(ctx context.Context, cl *cluster, bin string, runs, chainRuns int) (CLIWait, error) {
	c := CLIWait{Runs: runs, ChainRuns: chainRuns}
	env := append(harness.CleanEnv(filepath.Join(cl.Dir, "config")), cl.Env()...)
	env = append(env, "CRAWLCTL_SERVER="+cl.URL(cl.web))
	run := func(args ...string) (time.Duration, time.Time, []byte, error) {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(cctx, bin, args...)
		cmd.Env = env
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		t0 := time.Now()
		err := cmd.Run()
		end := time.Now()
		if err != nil {
			return 0, end, nil, fmt.Errorf("crawlctl %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(errb.Bytes()))
		}
		return end.Sub(t0), end, out.Bytes(), nil
	}
	var proc []float64
	for range max(runs, 5) {
		d, _, _, err := run("version")
		if err != nil {
			return c, err
		}
		proc = append(proc, ms(d))
	}
	c.ProcessMs = median(proc)

	flowRun := func(flow string, n int) (wall, api, late float64, err error) {
		var walls, apis, lates []float64
		for range n {
			d, exited, out, err := run("flow", "run", "bench", flow, "--wait")
			if err != nil {
				return 0, 0, 0, err
			}
			id, err := firstID(out)
			if err != nil {
				return 0, 0, 0, err
			}
			e, err := cl.api.execution(ctx, id)
			if err != nil {
				return 0, 0, 0, err
			}
			if e.Status != store.ExecSucceeded || e.EndTime == nil {
				return 0, 0, 0, fmt.Errorf("execution %d ended %s: %s", id, e.Status, e.Error)
			}
			walls = append(walls, ms(d))
			apis = append(apis, ms(e.EndTime.Sub(e.SubmitTime)))
			lates = append(lates, ms(exited.Sub(*e.EndTime)))
		}
		return median(walls), median(apis), median(lates), nil
	}
	var err error
	if c.OneWallMs, c.OneAPIMs, c.OneLateMs, err = flowRun("one", runs); err != nil {
		return c, err
	}
	if c.ChainWallMs, c.ChainAPIMs, c.ChainLateMs, err = flowRun("chain40", chainRuns); err != nil {
		return c, err
	}
	var lates []float64
	for range chainRuns {
		id, err := cl.api.submit(ctx, "chain40")
		if err != nil {
			return c, err
		}
		_, exited, _, err := run("exec", "wait", strconv.FormatInt(id, 10))
		if err != nil {
			return c, err
		}
		e, err := cl.api.execution(ctx, id)
		if err != nil {
			return c, err
		}
		if e.EndTime == nil {
			return c, fmt.Errorf("exec wait %d returned before the end (%s)", id, e.Status)
		}
		lates = append(lates, ms(exited.Sub(*e.EndTime)))
	}
	c.ExecWaitLateMs = median(lates)
	return c, nil
}

// firstID is the first whole number in out: the execution id that
// `flow run --wait` prints first.
func firstID(out []byte) (int64, error) {
	for _, f := range strings.Fields(string(out)) {
		if id, err := strconv.ParseInt(f, 10, 64); err == nil {
			return id, nil
		}
	}
	return 0, fmt.Errorf("no execution id in %q", out)
}
