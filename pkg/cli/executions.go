package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/crawlctl/crawlctl/pkg/api"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/crawlctl/crawlctl/pkg/client"
	"github.com/crawlctl/crawlctl/pkg/internal/backoff"
)

func newExecCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "exec", Short: "List, inspect, follow, pause, cancel and retry executions"}
	var (
		status, project, flowName string
		limit                     int
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List executions, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			list, err := g.client().Executions(cmd.Context(), status, project, flowName, limit)
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(g.stdout, list)
			}
			rows := [][]string{}
			for _, e := range list {
				rows = append(rows, []string{strconv.FormatInt(e.ID, 10), e.Project, e.Flow, execStatus(e), executorCell(e), strconv.Itoa(e.Attempt),
					timeString(&e.SubmitTime), durationString(e.StartTime, e.EndTime), firstNonEmpty(e.Error, e.WaitReason)})
			}
			return printTable(g.stdout, []string{"id", "project", "flow", "status", "executor", "attempt", "submitted", "duration", "note"}, rows)
		},
	}
	list.Flags().StringVar(&status, "status", "", "only this status (QUEUED, RUNNING, SUCCEEDED, FAILED, KILLED, ...)")
	list.Flags().StringVar(&project, "project", "", "only this project")
	list.Flags().StringVar(&flowName, "flow", "", "only this flow")
	list.Flags().IntVar(&limit, "limit", 50, "at most this many")

	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show an execution: status, executor, times, why it waits, and its jobs",
		Args:  exactArgs(1, "ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID(args[0])
			if err != nil {
				return err
			}
			ex, err := g.client().Execution(cmd.Context(), id)
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(g.stdout, ex)
			}
			return printExecution(g.stdout, ex)
		},
	}
	var job string
	var follow bool
	logs := &cobra.Command{
		Use:   "logs ID",
		Short: "Print an execution's log (the flow log, or one job's with --job)",
		Long: `Print the log of an execution: the flow log (job starts and ends) by default,
or one job's output with --job (embedded jobs as outer:inner). Logs are read
from the database, so they work from any web server, while the job runs and
after its executor is gone. --follow keeps printing until the execution ends.`,
		Args: exactArgs(1, "ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID(args[0])
			if err != nil {
				return err
			}
			return streamLogs(cmd.Context(), g, id, job, follow)
		},
	}
	logs.Flags().StringVar(&job, "job", "", "the job whose output to print (default: the flow log)")
	logs.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new output until the execution ends")

	cancel := &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel an execution (queued: at once; running: its jobs are killed)",
		Args:  exactArgs(1, "ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID(args[0])
			if err != nil {
				return err
			}
			ex, err := g.client().Cancel(cmd.Context(), id)
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(g.stdout, ex)
			}
			if !g.quiet {
				fmt.Fprintf(g.stdout, "execution %d is %s\n", ex.ID, ex.Status)
			}
			return nil
		},
	}
	var (
		timeout        time.Duration
		unreachableFor time.Duration
		wait           bool
	)
	waitCmd := &cobra.Command{
		Use:   "wait ID...",
		Short: "Wait for executions to end; exit 0 if all SUCCEEDED, 1 otherwise, 4 on --timeout",
		Args:  minArgs(1, "ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var list []*api.Execution
			for _, a := range args {
				id, err := parseID(a)
				if err != nil {
					return err
				}
				list = append(list, &api.Execution{ID: id})
			}
			return waitExecutions(cmd, g, list, timeout, unreachableFor)
		},
	}
	waitCmd.Flags().DurationVar(&timeout, "timeout", 0, "give up waiting after this long (exit 4)")
	unreachableFlag(waitCmd.Flags(), &unreachableFor)
	pauseCmd := func(use string, paused bool, short, long string) *cobra.Command {
		return &cobra.Command{
			Use: use + " ID", Short: short, Long: long,
			Args: exactArgs(1, "ID"),
			RunE: func(cmd *cobra.Command, args []string) error {
				id, err := parseID(args[0])
				if err != nil {
					return err
				}
				ex, err := g.client().SetPaused(cmd.Context(), id, paused)
				if err != nil {
					return err
				}
				if g.output == "json" {
					return printJSON(g.stdout, ex)
				}
				if !g.quiet {
					fmt.Fprintf(g.stdout, "execution %d is %s\n", ex.ID, execStatus(ex))
				}
				return nil
			},
		}
	}
	pause := pauseCmd("pause", true, "Pause a running execution: its running jobs finish, no job starts until resumed",
		`Pause a RUNNING execution (Azkaban's pauseFlow). The jobs running now go on
to their end; no job starts until "crawlctl exec resume ID". The execution
stays RUNNING (exec show says "RUNNING (paused)") and keeps its executor slot.
A paused execution can still be cancelled. The executor follows the pause
at its next poll of the database (a second or so), so a job about to start
at that very moment may still start. Pausing a paused execution does nothing;
pausing one that is not RUNNING is refused.

  crawlctl exec pause 42 && crawlctl exec resume 42`)
	resume := pauseCmd("resume", false, "Resume a paused execution: its jobs start again",
		`Resume an execution paused by "crawlctl exec pause" (or Azkaban's pauseFlow):
jobs whose turn has come start at the executor's next poll. Resuming an
execution that is not paused does nothing.`)

	var failedOnly bool
	retry := &cobra.Command{
		Use:   "retry ID",
		Short: "Run a FAILED or KILLED execution again as a new execution (--failed-only: from its failed jobs)",
		Long: `Run an ended FAILED or KILLED execution again, as a new execution of the same
project version, flow, parameters and options (disabled jobs, failure action,
e-mails). The original execution is not changed; the new one names it
("retry of" in exec show, retry_of in JSON). Prints the new execution's id.

With --failed-only, the jobs that SUCCEEDED in the original are not run
again: they end SKIPPED ("succeeded in execution N: not run again"), count
as successes for their dependants, and their output properties (what they
wrote to $JOB_OUTPUT_PROP_FILE) are handed to the jobs that run, as
${job:key}. The failed, killed, cancelled and skipped jobs run again. A
retry of a retry reuses what both reused or ran successfully. Without
--failed-only every job runs again.

The new execution keeps the original's --concurrent option: a skip
execution whose flow is running again is not retried (exit 0, says which).

  crawlctl exec retry 42 --failed-only --wait`,
		Args: exactArgs(1, "ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID(args[0])
			if err != nil {
				return err
			}
			ex, err := g.client().Retry(cmd.Context(), id, failedOnly)
			return submitted(cmd, g, submittedRun{list: []*api.Execution{ex}, err: err, json: ex, skipped: "not retried", wait: wait, timeout: timeout,
				unreachableFor: unreachableFor, line: func(*api.Execution) string { return fmt.Sprintf("(retry of %d)", id) }})
		},
	}
	retry.Flags().BoolVar(&failedOnly, "failed-only", false, "do not run again the jobs that succeeded; reuse their output properties")
	retry.Flags().BoolVar(&wait, "wait", false, "wait for the new execution to end and exit with its outcome")
	retry.Flags().DurationVar(&timeout, "timeout", 0, "with --wait, give up waiting after this long (exit 4)")
	unreachableFlag(retry.Flags(), &unreachableFor)
	cmd.AddCommand(list, show, logs, cancel, waitCmd, pause, resume, retry)
	return cmd
}

func parseID(s string) (int64, error) { return positiveID("execution", s) }

// positiveID parses the id of a kind of object given on the command line.
func positiveID(kind, s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, usageErr("bad %s id %q: a positive number", kind, s)
	}
	return id, nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// executorCell names the executor an execution runs or ran on; while it is
// only offered to one (DISPATCHING), it says so.
func executorCell(e *api.Execution) string {
	if e.ExecutorID == nil {
		return "-"
	}
	if e.Status == api.StatusDispatching {
		return "(offered to " + e.ExecutorName + ")"
	}
	return e.ExecutorName
}

// execStatus is an execution's status, "RUNNING (paused)" while paused.
func execStatus(ex *api.Execution) string {
	if ex.Paused && !ex.Ended() {
		return ex.Status + " (paused)"
	}
	return ex.Status
}

func printExecution(w io.Writer, ex *api.Execution) error {
	executor := "-"
	if ex.ExecutorID != nil {
		executor = fmt.Sprintf("%s (id %d, %s)", ex.ExecutorName, *ex.ExecutorID, ex.ExecutorAddr)
		if ex.Status == api.StatusDispatching {
			executor = "offered to " + executor + ", not started yet"
		}
	}
	fmt.Fprintf(w, "execution:  %d\nflow:       %s/%s (version %d)\nstatus:     %s\nexecutor:   %s\nattempt:    %d\nsubmitted:  %s by %s\nstarted:    %s\nended:      %s\nduration:   %s\n",
		ex.ID, ex.Project, ex.Flow, ex.Version, execStatus(ex), executor, ex.Attempt, timeString(&ex.SubmitTime), ex.SubmitUser,
		timeString(ex.StartTime), timeString(ex.EndTime), durationString(ex.StartTime, ex.EndTime))
	if len(ex.Params) > 0 {
		fmt.Fprintf(w, "params:     %s\n", labelsString(ex.Params))
	}
	if ex.RetryOf != nil {
		fmt.Fprintf(w, "retry of:   %d\n", *ex.RetryOf)
	}
	if len(ex.Reused) > 0 {
		fmt.Fprintf(w, "reused:     %s (succeeded in the retried execution; not run again)\n", strings.Join(ex.Reused, ", "))
	}
	if len(ex.Disabled) > 0 {
		fmt.Fprintf(w, "disabled:   %s\n", strings.Join(ex.Disabled, ", "))
	}
	if len(ex.SuccessEmails) > 0 {
		fmt.Fprintf(w, "on success: %s\n", strings.Join(ex.SuccessEmails, ", "))
	}
	if len(ex.FailureEmails) > 0 {
		when := ""
		switch {
		case ex.NotifyFailureFirst && ex.NotifyFailureLast:
			when = " (at the first failed job and at the end)"
		case ex.NotifyFailureFirst:
			when = " (at the first failed job)"
		case ex.NotifyFailureLast:
			when = " (when the run ends)"
		}
		fmt.Fprintf(w, "on failure: %s%s\n", strings.Join(ex.FailureEmails, ", "), when)
	}
	if ex.WaitReason != "" && !ex.Ended() {
		fmt.Fprintf(w, "waiting:    %s\n", strings.TrimPrefix(ex.WaitReason, "waiting: "))
	}
	if ex.KillReason != "" {
		fmt.Fprintf(w, "killed:     %s\n", ex.KillReason)
	}
	if ex.Error != "" {
		fmt.Fprintf(w, "error:      %s\n", ex.Error)
	}
	if len(ex.Jobs) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	rows := [][]string{}
	for _, j := range ex.Jobs {
		code := "-"
		if j.ExitCode != nil {
			code = strconv.Itoa(*j.ExitCode)
		}
		rows = append(rows, []string{j.Name, j.Type, j.Status, strconv.Itoa(j.Attempt), timeString(j.StartTime), durationString(j.StartTime, j.EndTime), code, j.Error})
	}
	return printTable(w, []string{"job", "type", "status", "attempt", "started", "duration", "exit", "error"}, rows)
}

// Polling paces: a followed log is asked again after 100ms, doubling while
// it stays quiet, at most every second; executions waited for after 50ms,
// doubling, at most every 500ms; an unreachable web server after 250ms,
// doubling, at most every 5s.
var (
	followPace = backoff.Policy{Base: 100 * time.Millisecond, Max: time.Second}
	waitPace   = backoff.Policy{Base: 50 * time.Millisecond, Max: 500 * time.Millisecond}
	lostPace   = backoff.Policy{Base: 250 * time.Millisecond, Max: 5 * time.Second}
)

// longPollWait is how long one long poll of a waited-for execution may be
// held by the server; the progress line is redrawn at least that often.
const longPollWait = 2 * time.Second

// streamLogs prints a log from the start, following it when asked.
func streamLogs(ctx context.Context, g *globals, id int64, job string, follow bool) error {
	var offset int64
	c := g.client()
	idle := 0 // empty answers in a row
	for {
		chunk, err := c.Logs(ctx, id, job, offset)
		if err != nil {
			return err
		}
		if chunk.Data != "" {
			if _, err := io.WriteString(g.stdout, chunk.Data); err != nil {
				return err
			}
			offset = chunk.Next
			idle = 0
			continue
		}
		if !follow || chunk.Ended {
			if chunk.Ended && follow {
				// Output written just before the end may still be arriving.
				if last, err := c.Logs(ctx, id, job, offset); err == nil && last.Data != "" {
					offset = last.Next
					_, _ = io.WriteString(g.stdout, last.Data)
					continue
				}
			}
			return nil
		}
		idle++
		if backoff.Wait(ctx, followPace.Delay(idle)) != nil {
			return ctx.Err()
		}
	}
}

// waitExecutions follows executions until they all end. On a terminal it
// redraws one progress line; otherwise it prints a line per state change. A
// web server that cannot be reached (restarting, say) is retried with backoff
// for up to unreachableFor, with a note on stderr, before it gives up (exit 3).
func waitExecutions(cmd *cobra.Command, g *globals, list []*api.Execution, timeout, unreachableFor time.Duration) error {
	ctx := cmd.Context()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	c := g.client()
	tty := isTerminal(g.stdout) && !g.quiet && g.output != "json"
	start := time.Now()
	last := map[int64]string{}
	final := map[int64]*api.Execution{}
	polls, lost := 0, 0     // polls since the last state seen; failed polls in a row
	var lostSince time.Time // when the server stopped answering; zero while it answers
	timedOut := func() error {
		if tty {
			fmt.Fprintln(g.stdout)
		}
		var open []string
		for _, e := range list {
			if final[e.ID] == nil {
				open = append(open, strconv.FormatInt(e.ID, 10))
			}
		}
		what := "execution " + open[0] + " keeps"
		if len(open) > 1 {
			what = "executions " + strings.Join(open, ", ") + " keep"
		}
		return withCode(ExitTimeout, fmt.Errorf("timed out after %s; %s running (`crawlctl exec show %s`)", timeout, what, open[0]))
	}
	seen := map[int64]string{}
	for len(final) < len(list) {
		// The last execution still running is waited for with a long
		// poll: the server answers the moment its status changes.
		longPoll := len(list)-len(final) == 1 && lostSince.IsZero()
		for _, want := range list {
			if final[want.ID] != nil {
				continue
			}
			var ex *api.Execution
			var err error
			if longPoll && seen[want.ID] != "" {
				ex, err = c.WaitExecution(ctx, want.ID, seen[want.ID], longPollWait)
			} else {
				ex, err = c.Execution(ctx, want.ID)
			}
			if err != nil {
				if cmd.Context().Err() != nil {
					return cmd.Context().Err()
				}
				if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
					return timedOut()
				}
				if !transient(err) {
					return err
				}
				if lostSince.IsZero() {
					lostSince = time.Now()
					fmt.Fprintf(g.stderr, "crawlctl: %s; execution %d goes on without it: retrying for up to %s (--unreachable-for)\n", oneLine(err), want.ID, unreachableFor)
				} else if time.Since(lostSince) >= unreachableFor {
					return withCode(ExitServer, fmt.Errorf("gave up after %s without an answer (--unreachable-for); execution %d may still be running (`crawlctl exec show %d`): %w", unreachableFor, want.ID, want.ID, err))
				}
				break
			}
			if !lostSince.IsZero() {
				fmt.Fprintf(g.stderr, "crawlctl: the web server answers again after %s; still waiting\n", time.Since(lostSince).Round(100*time.Millisecond))
				lostSince, lost, polls = time.Time{}, 0, 0
			}
			if longPoll {
				// The server waited (or, on the first read, the next request
				// is the long poll that will): ask again at once.
				polls = -1
			}
			seen[want.ID] = ex.Status
			state := progressLine(ex, time.Since(start))
			if tty {
				fmt.Fprintf(g.stdout, "\r\033[K%s", state)
			} else if !g.quiet && g.output != "json" {
				key := ex.Status + "|" + ex.ExecutorName + "|" + ex.WaitReason
				if last[ex.ID] != key {
					fmt.Fprintln(g.stdout, state)
					last[ex.ID] = key
				}
			}
			if ex.Ended() {
				final[ex.ID] = ex
				if tty {
					fmt.Fprintln(g.stdout)
				}
			}
		}
		if len(final) == len(list) {
			break
		}
		pause := waitPace.Delay(polls + 1)
		if polls < 0 {
			pause = 0
		}
		polls++
		if !lostSince.IsZero() {
			// Back off, but try once more right when the bound runs out.
			lost++
			pause = min(lostPace.Delay(lost), max(unreachableFor-time.Since(lostSince), 10*time.Millisecond))
		}
		select {
		case <-ctx.Done():
			if cmd.Context().Err() != nil {
				return cmd.Context().Err()
			}
			return timedOut()
		case <-time.After(pause):
		}
	}
	if g.output == "json" {
		out := make([]*api.Execution, 0, len(list))
		for _, e := range list {
			out = append(out, final[e.ID])
		}
		if err := printJSON(g.stdout, out); err != nil {
			return err
		}
	}
	var failed []string
	for _, e := range list {
		ex := final[e.ID]
		if ex.Status != api.StatusSucceeded {
			failed = append(failed, fmt.Sprintf("execution %d %s: %s", ex.ID, ex.Status, firstNonEmpty(ex.Error, ex.KillReason, "no error recorded")))
		}
	}
	if len(failed) > 0 {
		return withCode(ExitFailed, errors.New(strings.Join(failed, "; ")))
	}
	return nil
}

func progressLine(ex *api.Execution, elapsed time.Duration) string {
	done, running := 0, []string{}
	for _, j := range ex.Jobs {
		switch j.Status {
		case "RUNNING":
			running = append(running, j.Name)
		case "READY":
		default:
			done++
		}
	}
	s := fmt.Sprintf("execution %d %s", ex.ID, ex.Status)
	if ex.ExecutorName != "" {
		s += " on " + ex.ExecutorName
	}
	if len(ex.Jobs) > 0 {
		s += fmt.Sprintf(", jobs %d/%d done", done, len(ex.Jobs))
	}
	if len(running) > 0 {
		s += ", running " + strings.Join(running, ",")
	}
	if ex.Status == api.StatusQueued && ex.WaitReason != "" {
		s += " (" + ex.WaitReason + ")"
	}
	if ex.Ended() && ex.Error != "" {
		s += ": " + ex.Error
	}
	return s + fmt.Sprintf(" [%s]", elapsed.Round(100*time.Millisecond))
}

// transient reports an error that a restarting web server gives: no answer,
// or a gateway or unavailable reply.
func transient(err error) bool {
	var ue *client.UnreachableError
	var ae *client.APIError
	return errors.As(err, &ue) || errors.As(err, &ae) && (ae.Status == 502 || ae.Status == 503 || ae.Status == 504)
}

// unreachableFlag adds --unreachable-for to a command that waits.
func unreachableFlag(f *pflag.FlagSet, d *time.Duration) {
	f.DurationVar(d, "unreachable-for", 3*time.Minute, "while waiting, keep retrying a web server that does not answer (restarting, say) for this long, then exit 3")
}
