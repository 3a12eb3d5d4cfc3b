package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/crawlctl/crawlctl/pkg/api"

	"github.com/spf13/cobra"
)

func newScheduleCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "Run flows on a clock: cron schedules kept by crawlctl",
		Long: `Schedules run a flow at the fire times of a cron expression, in a time zone.
They are kept in the database and fired by the web servers: each fire time
submits exactly one execution however many web servers run.

Cron dialects:
  Quartz (Azkaban, xxl-job): 6 or 7 fields, seconds first:
      sec min hour day-of-month month day-of-week [year]
      with ?, L, W, #, ranges, steps and names; day-of-week 1 = SUN.
      0 0/5 * * * ?          every 5 minutes
      0 15 10 ? * MON-FRI    10:15 on weekdays
      0 0 12 L * ?           noon on the last day of every month
  Unix: 5 fields, min hour day-of-month month day-of-week (0 or 7 = SUN),
      and @hourly, @daily, @weekly, @monthly, @yearly.
      */5 * * * *            every 5 minutes

Daylight saving time: a fire time that does not exist (clocks jump forward)
fires once at the first instant after the gap; one that happens twice (clocks
go back) fires once, at its first occurrence.`,
	}
	var (
		req    api.ScheduleRequest
		params []string
		opts   runOptions
		sel    []string
	)
	add := &cobra.Command{
		Use:   "add PROJECT FLOW --cron EXPR",
		Short: "Add a schedule",
		Long: `Add a schedule for a flow.

--concurrent (default skip) decides what a fire time does while the previous
run of the flow is still queued or running: skip records it as skipped,
queue submits a run that waits, ignore runs anyway.
--misfire (default fire-once) decides what happens to fire times missed while
no web server ran: fire-once submits one catch-up run, skip submits none.

  crawlctl schedule add crawlers daily --cron "0 30 2 * * ?" --tz Europe/Berlin
  crawlctl schedule add crawlers news --cron "*/10 * * * *" --param depth=2
  crawlctl schedule add crawlers daily --cron "0 0 3 * * ?" --disable upload --notify-failure ops@example.com

--failure-action, --disable and --notify-* are given to every run, as with
flow run.`,
		Args: exactArgs(2, "PROJECT and FLOW"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Project, req.Flow = args[0], args[1]
			if req.Cron == "" {
				return usageErr("--cron is required (see `crawlctl schedule add --help`)")
			}
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
			if req.Selector, err = parseSelector(sel); err != nil {
				return err
			}
			sc, err := g.client().AddSchedule(cmd.Context(), req)
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(g.stdout, sc)
			}
			if !g.quiet {
				fmt.Fprintf(g.stdout, "schedule %d added: %s/%s at %q (%s); next: %s\n", sc.ID, sc.Project, sc.Flow, sc.Cron, sc.TimeZone, firesString(sc.NextFires))
			}
			return nil
		},
	}
	f := add.Flags()
	f.StringVar(&req.Cron, "cron", "", "cron expression: Quartz (6-7 fields, seconds first) or Unix (5 fields)")
	f.StringVar(&req.TimeZone, "tz", "", "IANA time zone of the expression (default: the web server's)")
	f.StringArrayVar(&params, "param", nil, "flow parameter name=value for every run (repeatable)")
	f.StringVar(&req.Concurrent, "concurrent", "skip", "if the previous run is still going: skip, ignore or queue")
	f.StringVar(&req.Misfire, "misfire", "fire-once", "fire times missed while no web server ran: fire-once or skip")
	f.StringVar(&req.FailureAction, "failure-action", "", "when a job fails: finishCurrent (default), cancelImmediately or finishPossible")
	opts.flags(f)
	selectorFlag(f, &sel)

	list := &cobra.Command{
		Use:   "list",
		Short: "List schedules with their next three fire times and last run",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			list, err := g.client().Schedules(cmd.Context())
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(g.stdout, list)
			}
			rows := [][]string{}
			for _, sc := range list {
				last := "-"
				if sc.LastExecutionID != nil {
					last = fmt.Sprintf("%d %s", *sc.LastExecutionID, sc.LastExecutionStatus)
				}
				rows = append(rows, []string{strconv.FormatInt(sc.ID, 10), sc.Project, sc.Flow, sc.Cron, sc.TimeZone, firesString(sc.NextFires), last, strconv.FormatBool(sc.Paused)})
			}
			return printTable(g.stdout, []string{"id", "project", "flow", "cron", "zone", "next fire times", "last execution", "paused"}, rows)
		},
	}
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show a schedule",
		Args:  exactArgs(1, "ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseScheduleID(args[0])
			if err != nil {
				return err
			}
			sc, err := g.client().Schedule(cmd.Context(), id)
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(g.stdout, sc)
			}
			printSchedule(g.stdout, sc)
			return nil
		},
	}
	cmd.AddCommand(add, list, show)
	for _, v := range []struct {
		use, short string
		do         func(*cobra.Command, int64) (*api.Schedule, error)
		done       string
	}{
		{"pause ID", "Stop firing a schedule until resumed", func(c *cobra.Command, id int64) (*api.Schedule, error) {
			return g.client().SetSchedulePaused(c.Context(), id, true)
		}, "paused"},
		{"resume ID", "Fire a paused schedule again, from now on", func(c *cobra.Command, id int64) (*api.Schedule, error) {
			return g.client().SetSchedulePaused(c.Context(), id, false)
		}, "resumed"},
		{"rm ID", "Remove a schedule", func(c *cobra.Command, id int64) (*api.Schedule, error) {
			return g.client().RemoveSchedule(c.Context(), id)
		}, "removed"},
	} {
		cmd.AddCommand(&cobra.Command{
			Use:   v.use,
			Short: v.short,
			Args:  exactArgs(1, "ID"),
			RunE: func(cmd *cobra.Command, args []string) error {
				id, err := parseScheduleID(args[0])
				if err != nil {
					return err
				}
				sc, err := v.do(cmd, id)
				if err != nil {
					return err
				}
				if g.output == "json" {
					return printJSON(g.stdout, sc)
				}
				if !g.quiet {
					fmt.Fprintf(g.stdout, "schedule %d %s\n", sc.ID, v.done)
				}
				return nil
			},
		})
	}
	return cmd
}

func parseScheduleID(s string) (int64, error) { return positiveID("schedule", s) }

func firesString(ts []time.Time) string {
	if len(ts) == 0 {
		return "-"
	}
	parts := make([]string, 0, len(ts))
	for _, t := range ts {
		parts = append(parts, t.Format("2006-01-02 15:04:05"))
	}
	return strings.Join(parts, ", ")
}

func printSchedule(w io.Writer, sc *api.Schedule) {
	last := "-"
	if sc.LastExecutionID != nil {
		last = fmt.Sprintf("%d (%s)", *sc.LastExecutionID, sc.LastExecutionStatus)
	}
	fmt.Fprintf(w, "schedule:   %d\nflow:       %s/%s\ncron:       %s\ntime zone:  %s\nparams:     %s\nconcurrent: %s\nmisfire:    %s\npaused:     %v\nnext fires: %s\nlast fire:  %s\nlast run:   %s\nlast note:  %s\nfired:      %d (skipped %d)\nowner:      %s\n",
		sc.ID, sc.Project, sc.Flow, sc.Cron, sc.TimeZone, labelsString(sc.Params), sc.Concurrent, sc.Misfire, sc.Paused,
		firesString(sc.NextFires), timeString(sc.LastFire), last, orDash(sc.LastStatus), sc.FiredCount, sc.SkippedCount, sc.Owner)
}
