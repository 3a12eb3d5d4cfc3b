package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/crawlctl/crawlctl/pkg/api"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/crawlctl/crawlctl/pkg/client"
)

func newFlowCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "flow", Short: "List and run a project's flows"}
	cmd.AddCommand(&cobra.Command{
		Use:   "list PROJECT",
		Short: "List the flows of a project's latest version",
		Args:  exactArgs(1, "PROJECT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			list, err := g.client().Flows(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(g.stdout, list)
			}
			rows := [][]string{}
			for _, f := range list {
				rows = append(rows, []string{f.Name, strconv.Itoa(f.Jobs), strconv.Itoa(f.Version)})
			}
			return printTable(g.stdout, []string{"flow", "jobs", "version"}, rows)
		},
	})
	var (
		params         []string
		req            api.SubmitRequest
		wait           bool
		opts           runOptions
		timeout        time.Duration
		unreachableFor time.Duration
		selector       []string
	)
	run := &cobra.Command{
		Use:   "run PROJECT FLOW",
		Short: "Submit a flow; with --wait, follow it and exit with its outcome",
		Long: `Submit a flow of the project's latest version. It is queued and dispatched
at once to a random active online executor (or the one given by --executor,
which may be inactive but must be online). Prints the execution id.

--concurrent decides what happens when the same flow is already queued or
running: ignore (default) runs anyway; queue waits for it to end; skip does
not submit, says which execution is still running and exits 0 - the right
choice in a crontab, where a slow run must not pile up behind itself.

With --wait the command follows the execution: live progress on a terminal,
one line per state change otherwise, and exits 0 if it SUCCEEDED, 1 if it
FAILED or was KILLED, 4 after --timeout. A web server that stops answering
while it waits (a restart) is retried for --unreachable-for before exit 3.

  crawlctl flow run crawlers daily --param date=2026-01-31 --wait
  crawlctl flow run crawlers daily --executor node-3
  crawlctl flow run crawlers cleanup --all-executors
  crawlctl flow run crawlers daily --disable upload --disable report:mail
  crawlctl flow run crawlers daily --notify-failure ops@example.com --notify-failure-first

--disable JOB (repeatable; embedded jobs as outer:inner) does not run that
job: it ends SKIPPED and its dependants run as after a success; an unknown
job is refused with the list of the flow's jobs. --notify-success and
--notify-failure say who is mailed when the run ends (shown by exec show;
the web server's --mail-* settings send it).

In a crontab: cron runs commands with a bare PATH and none of your
environment, so give the binary's absolute path, the server, and a token in
a file only the cron user can read (a token of its own, for an operator):
  head -c 24 /dev/urandom | base64 | crawlctl user add cron --role operator --password-stdin
  (umask 077; crawlctl token create --name cron --user cron > ~/.crawlctl-cron.token)
  */10 * * * * /usr/local/bin/crawlctl --server http://crawlctl-web:8081 --token-file /home/me/.crawlctl-cron.token flow run crawlers news --concurrent skip --wait -q --timeout 9m`,
		Args: exactArgs(2, "PROJECT and FLOW"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Project, req.Flow = args[0], args[1]
			req.Params = map[string]string{}
			for _, p := range params {
				k, v, ok := strings.Cut(p, "=")
				if !ok || strings.TrimSpace(k) == "" {
					return usageErr("bad --param %q: use name=value", p)
				}
				req.Params[k] = v
			}
			req.RunOptions = opts.options()
			var err error
			if req.Selector, err = parseSelector(selector); err != nil {
				return err
			}
			list, err := g.client().Submit(cmd.Context(), req)
			return submitted(cmd, g, submittedRun{list: list, err: err, json: list, skipped: "not submitted", wait: wait, timeout: timeout, unreachableFor: unreachableFor,
				line: func(ex *api.Execution) string { return fmt.Sprintf("(%s/%s)", ex.Project, ex.Flow) }})
		},
	}
	f := run.Flags()
	f.StringArrayVar(&params, "param", nil, "flow parameter name=value (repeatable); overrides the flow's config")
	f.StringVar(&req.Executor, "executor", "", "run on this executor REF only (may be inactive, must be online)")
	f.BoolVar(&req.AllExecutors, "all-executors", false, "submit one execution per active online executor (matching the selector)")
	selectorFlag(f, &selector)
	f.StringVar(&req.Concurrent, "concurrent", "ignore", "if the flow is already queued or running: skip, ignore or queue")
	f.IntVar(&req.Priority, "priority", 0, "higher runs first among queued flows")
	f.StringVar(&req.FailureAction, "failure-action", "finishCurrent", "when a job fails: finishCurrent, cancelImmediately or finishPossible")
	opts.flags(f)
	f.BoolVar(&wait, "wait", false, "wait for the execution to end and exit with its outcome")
	f.DurationVar(&timeout, "timeout", 0, "with --wait, give up waiting after this long (exit 4; the flow keeps running)")
	unreachableFlag(f, &unreachableFor)
	cmd.AddCommand(run)
	return cmd
}

// runOptions are the flags of a run's disabled jobs and notifications,
// shared by flow run and schedule add.
type runOptions struct {
	disabled                              []string
	successEmails, failureEmails          []string
	notifyFailureFirst, notifyFailureLast bool
}

func (o *runOptions) flags(f *pflag.FlagSet) {
	f.StringArrayVar(&o.disabled, "disable", nil, "do not run this job (repeatable; embedded as outer:inner): it ends SKIPPED, its dependants run")
	f.StringSliceVar(&o.successEmails, "notify-success", nil, "e-mail address to tell when the run succeeds (repeatable or comma-separated; stored, not sent by crawlctl)")
	f.StringSliceVar(&o.failureEmails, "notify-failure", nil, "e-mail address to tell when the run fails (repeatable or comma-separated; stored, not sent by crawlctl)")
	f.BoolVar(&o.notifyFailureFirst, "notify-failure-first", false, "tell the failure addresses at the first failed job")
	f.BoolVar(&o.notifyFailureLast, "notify-failure-last", false, "tell the failure addresses when the failed run ends")
}

// options are the flags' values as the API takes them.
func (o *runOptions) options() api.RunOptions {
	return api.RunOptions{Disabled: o.disabled, SuccessEmails: o.successEmails, FailureEmails: o.failureEmails,
		NotifyFailureFirst: o.notifyFailureFirst, NotifyFailureLast: o.notifyFailureLast}
}

// submittedRun is what a command that submitted executions reports.
type submittedRun struct {
	list    []*api.Execution
	err     error
	json    any    // printed with -o json when not waiting
	skipped string // what a --concurrent skip refusal did not do
	line    func(*api.Execution) string
	wait    bool
	timeout time.Duration
	// unreachableFor is how long a web server may not answer while waiting.
	unreachableFor time.Duration
}

// submitted prints the executions a command submitted (their ids, or with
// --wait a line each and then their progress) and, with --wait, exits with
// their outcome. A --concurrent skip refusal is a success that says which
// execution runs.
func submitted(cmd *cobra.Command, g *globals, s submittedRun) error {
	if skipped, ok := s.err.(*client.SkippedError); ok {
		if !g.quiet {
			fmt.Fprintf(g.stdout, "%s; %s (--concurrent skip)\n", skipped.Message, s.skipped)
		}
		return nil
	}
	if s.err != nil {
		return s.err
	}
	if !s.wait {
		if g.output == "json" {
			return printJSON(g.stdout, s.json)
		}
		if !g.quiet {
			for _, ex := range s.list {
				fmt.Fprintln(g.stdout, ex.ID)
			}
		}
		return nil
	}
	if !g.quiet && g.output != "json" {
		for _, ex := range s.list {
			fmt.Fprintf(g.stdout, "submitted execution %d %s\n", ex.ID, s.line(ex))
		}
	}
	return waitExecutions(cmd, g, s.list, s.timeout, s.unreachableFor)
}
