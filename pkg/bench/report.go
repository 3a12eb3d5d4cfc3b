package bench

import (
	"fmt"
	"io"
	"math"
	"text/tabwriter"
)

// num formats a figure with about three significant digits.
func num(v float64) string {
	a := math.Abs(v)
	switch {
	case a == 0:
		return "0"
	case a < 1:
		return fmt.Sprintf("%.3f", v)
	case a < 10:
		return fmt.Sprintf("%.2f", v)
	case a < 100:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}

func msText(v float64) string   { return num(v) + " ms" }
func perSText(v float64) string { return num(v) + "/s" }
func ratioText(v float64) string {
	if v == 0 {
		return ""
	}
	return num(v) + "x"
}

// writeTable prints the report as a table: metric, value, limit, ratio.
func writeTable(w io.Writer, r *Report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(metric, value, limit, ratio string) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", metric, value, limit, ratio)
	}
	section := func(title string) { row("", "", "", ""); row(title, "", "", "") }
	m := r.Machine
	fmt.Fprintf(w, "crawlbench %s: %d cores (%s), %d MiB, %s, %s, %s, %s\n", m.Date, m.Cores, m.CPU, m.MemoryMiB, m.OS, m.Kernel, m.GoVersion, m.Database)
	row("METRIC", "VALUE", "LIMIT", "RATIO")

	l := r.Limits
	spawn := "spawn " + msText(l.SpawnMs)
	section("limits")
	row("  spawn of sh -c true, one at a time", msText(l.SpawnMs), "", "")
	row("  spawns, one at a time", perSText(l.SpawnsPerS), "", "")
	row("  spawns, 2 goroutines", perSText(l.SpawnsPerSParallel2), "", "")
	row("  MySQL autocommit INSERT, 1 connection", msText(l.CommitMs), "", "")
	row("  commits, 16 connections", perSText(l.CommitsPerSParallel16), "", "")
	row("  HTTP GET on loopback, keep-alive", msText(l.HTTPRTTMs), "", "")

	lat := r.Latency
	section(fmt.Sprintf("latency (%d sequential runs of one `true` job, %d failed)", lat.Runs, lat.Failed))
	dist := func(name string, d Dist) {
		row("  "+name+" p50", msText(d.P50), spawn, ratioText(d.P50RatioToSpawn))
		row("  "+name+" p90", msText(d.P90), spawn, ratioText(d.P90RatioToSpawn))
		row("  "+name+" p99", msText(d.P99), spawn, ratioText(d.P99RatioToSpawn))
		row("  "+name+" max", msText(d.Max), spawn, ratioText(d.MaxRatioToSpawn))
	}
	dist("submit -> first job started", lat.SubmitToStart)
	row("  submit -> first job started p50", msText(lat.SubmitToStart.P50), "spawn+3 commits+2 RTT "+msText(lat.StartLimitMs), ratioText(lat.StartRatioToLimit))
	dist("submit -> SUCCEEDED", lat.SubmitToDone)
	row("  submit API call p50 (client side)", msText(lat.SubmitCall.P50), "HTTP "+msText(l.HTTPRTTMs), ratioText(ratio(lat.SubmitCall.P50, l.HTTPRTTMs)))
	st := lat.StepsP50
	row("  p50 steps: submit -> dispatched", msText(st.SubmitToDispatched), "", "")
	row("             dispatched -> claimed", msText(st.DispatchedToClaimed), "", "")
	row("             claimed -> job started", msText(st.ClaimedToJobStart), "", "")
	row("             job ran", msText(st.JobRun), spawn, ratioText(ratio(st.JobRun, l.SpawnMs)))
	row("             job ended -> SUCCEEDED", msText(st.JobEndToDone), "", "")

	c := r.Chain40
	section(fmt.Sprintf("chain40 (40 sequential `true` jobs, median of %d)", c.Runs))
	row("  start -> end", msText(c.TotalMs), "40 x spawn "+msText(c.LimitMs), ratioText(c.RatioToSpawn))
	row("  per-job overhead", msText(c.PerJobOverheadMs), spawn, ratioText(ratio(c.PerJobOverheadMs, l.SpawnMs)))
	row("  job run p50", msText(c.JobRunP50Ms), spawn, ratioText(ratio(c.JobRunP50Ms, l.SpawnMs)))
	row("  gap between jobs p50", msText(c.JobGapP50Ms), "", "")

	cw := r.CLIWait
	section(fmt.Sprintf("CLI (medians: %d runs of flow one, %d of chain40)", cw.Runs, cw.ChainRuns))
	row("  crawlctl version (process start to exit)", msText(cw.ProcessMs), "", "")
	row("  flow run one --wait, wall", msText(cw.OneWallMs), "API submit -> end "+msText(cw.OneAPIMs), ratioText(ratio(cw.OneWallMs, cw.OneAPIMs)))
	row("    exit after the recorded end", msText(cw.OneLateMs), "", "")
	row("  flow run chain40 --wait, wall", msText(cw.ChainWallMs), "API submit -> end "+msText(cw.ChainAPIMs), ratioText(ratio(cw.ChainWallMs, cw.ChainAPIMs)))
	row("    exit after the recorded end", msText(cw.ChainLateMs), "", "")
	row("  exec wait on chain40: exit after the recorded end", msText(cw.ExecWaitLateMs), "", "")

	t := r.Throughput
	section(fmt.Sprintf("throughput (%d clients, %d submitted, %d failed, %d unfinished)", t.Clients, t.Submitted, t.Failed, t.Unfinished))
	row("  flows", perSText(t.FlowsPerS), "spawns "+perSText(l.SpawnsPerS), ratioText(t.RatioToSpawnLimit))
	row("  flows vs 2 spawning goroutines", perSText(t.FlowsPerS), "spawns "+perSText(l.SpawnsPerSParallel2), ratioText(t.RatioToParallelSpawnLimit))
	row("  submits accepted", perSText(t.SubmitPerS), "", "")
	row(fmt.Sprintf("  share of time the backlog (%d) was full", t.Backlog), num(t.BacklogFullS), "", "")
	if cpu := t.CPUMsPerFlow; cpu.Machine > 0 {
		row("  CPU per flow, whole machine", msText(cpu.Machine), spawn, ratioText(ratio(cpu.Machine, l.SpawnMs)))
		row("    web server", msText(cpu.Web), "", "")
		row("    executors", msText(cpu.Executors), "", "")
		row("    jobs (sh -c true)", msText(cpu.Jobs), "", "")
		row("    database server", msText(cpu.Database), "", "")
		row("    benchmark clients", msText(cpu.Benchmark), "", "")
		row("    rest (kernel, other processes)", msText(cpu.Other), "", "")
	}
	if db := t.DBPerFlow; len(db) > 0 {
		row("  database statements per flow", num(db["questions"]), "", "")
		row("    SELECT / INSERT / UPDATE", fmt.Sprintf("%s / %s / %s", num(db["com_select"]), num(db["com_insert"]), num(db["com_update"])), "", "")
		row("    server-side prepares", num(db["com_stmt_prepare"]), "", "")
		row("    rows read", num(db["rows_read"]), "", "")
		row("    of them by table scans", num(db["handler_read_rnd_next"]), "", "")
		row("    row lock waits", num(db["innodb_row_lock_waits"]), "", "")
	}

	if sk := r.Soak; sk.Executions > 0 {
		section(fmt.Sprintf("soak (%d executions that ended %d days ago, with jobs and %d-byte logs, pruned while flows run)", sk.Executions, sk.AgeDays, sk.LogBytes))
		row("  inserting them", fmt.Sprintf("%s s", num(sk.InsertS)), "", "")
		for _, t := range soakTables {
			b, a := sk.SizesBefore[t], sk.SizesAfter[t]
			row("  "+t+" before -> after pruning", fmt.Sprintf("%d rows %s MiB -> %d rows %s MiB (%s MiB free for reuse)", b.Rows, num(b.MiB), a.Rows, num(a.MiB), num(a.Freed)), "", "")
		}
		row("  pruning", fmt.Sprintf("%s s, %d rows (%s)", num(sk.PruneS), sk.Deleted, perSText(sk.DeletedPerS)), "", "")
		soakRow := func(name string, l SoakLatency, ref float64) {
			row(fmt.Sprintf("  submit -> first job started p50 / p99, %s (%d runs)", name, l.Runs), msText(l.StartP50Ms)+" / "+msText(l.StartP99Ms), "before "+msText(ref), ratioText(ratio(l.StartP50Ms, ref)))
		}
		soakRow("before", sk.Before, sk.Before.StartP50Ms)
		soakRow("during", sk.During, sk.Before.StartP50Ms)
		soakRow("after", sk.After, sk.Before.StartP50Ms)
	}

	s := r.Scale
	section(fmt.Sprintf("scale (in-process, %d executions per dispatch rate)", s.Executions))
	commit := "commit " + msText(l.CommitMs)
	row(fmt.Sprintf("  dispatch, %d executors", s.ExecutorsSmall), perSText(s.DispatchRate4), "", "")
	row(fmt.Sprintf("  dispatch, %d executors", s.ExecutorsLarge), perSText(s.DispatchRate1000), fmt.Sprintf("%d executors %s", s.ExecutorsSmall, perSText(s.DispatchRate4)), ratioText(s.DispatchRateRatio1000vs4))
	row(fmt.Sprintf("  heartbeat writes per round (every %s), %d executors", heartbeatEvery, s.ExecutorsLarge), msText(s.HeartbeatRoundMsLarge), "", "")
	row("  slowest single heartbeat", msText(s.HeartbeatMaxMsLarge), commit, ratioText(ratio(s.HeartbeatMaxMsLarge, l.CommitMs)))
	row(fmt.Sprintf("  bulk queue %d executions", s.BulkInserted), fmt.Sprintf("%s s", num(s.BulkInsertS)), "", "")
	row(fmt.Sprintf("  assign+claim p50, %d queued, %d executors", s.Queued, s.ClaimExecutors), msText(s.ClaimP50MsAt100kQueued), commit, ratioText(s.ClaimP50RatioToCommit))
	row(fmt.Sprintf("  assign+claim p99, %d queued (%d samples)", s.Queued, s.ClaimSamples), msText(s.ClaimP99MsAt100kQueued), commit, ratioText(s.ClaimP99RatioToCommit))
	row(fmt.Sprintf("  assign+claim p50, %d queued, %d executors", shortQueue, s.ExecutorsSmall), msText(s.ClaimP50MsShortQueue), commit, ratioText(ratio(s.ClaimP50MsShortQueue, l.CommitMs)))
	row(fmt.Sprintf("  assign+claim p50, %d queued, %d executors", shortQueue, s.ExecutorsLarge), msText(s.ClaimP50MsShortQueueLarge), commit, ratioText(ratio(s.ClaimP50MsShortQueueLarge, l.CommitMs)))
	row(fmt.Sprintf("  assign+claim p50, %d queued, %d executors (%d samples)", s.Queued, s.ExecutorsLarge, s.ClaimSamplesLarge), msText(s.ClaimP50MsAt100kQueuedLarge), commit, ratioText(ratio(s.ClaimP50MsAt100kQueuedLarge, l.CommitMs)))
	if s.DBErrors > 0 {
		row(fmt.Sprintf("  database errors retried: %d (last: %s)", s.DBErrors, s.LastDBError), "", "", "")
	}
	row("", "", "", "")
	row(fmt.Sprintf("total run time %s s", num(r.TotalS)), "", "", "")
	tw.Flush()
}
