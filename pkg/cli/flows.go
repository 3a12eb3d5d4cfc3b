package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/crawlctl/crawlctl/pkg/api"

	"github.com/spf13/cobra"

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
			var err error
			if req.Selector, err = parseSelector(selector); err != nil {
				return err
			}
			list, err := g.client().Submit(cmd.Context(), req)
			if skipped, ok := err.(*client.SkippedError); ok {
				if !g.quiet {
					fmt.Fprintf(g.stdout, "%s; not submitted (--concurrent skip)\n", skipped.Message)
				}
				return nil
			}
			if err != nil {
				return err
			}
			if !wait {
				if g.output == "json" {
					return printJSON(g.stdout, list)
				}
				if !g.quiet {
					for _, ex := range list {
						fmt.Fprintln(g.stdout, ex.ID)
					}
				}
				return nil
			}
			if !g.quiet && g.output != "json" {
				for _, ex := range list {
					fmt.Fprintf(g.stdout, "submitted execution %d (%s/%s)\n", ex.ID, ex.Project, ex.Flow)
				}
			}
			return waitExecutions(cmd, g, list, timeout, unreachableFor)
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
	f.BoolVar(&wait, "wait", false, "wait for the execution to end and exit with its outcome")
	f.DurationVar(&timeout, "timeout", 0, "with --wait, give up waiting after this long (exit 4; the flow keeps running)")
	unreachableFlag(f, &unreachableFor)
	cmd.AddCommand(run)
	return cmd
}
