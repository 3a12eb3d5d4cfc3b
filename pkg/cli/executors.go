package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/crawlctl/crawlctl/pkg/api"

	"github.com/spf13/cobra"
)

func addExecutorAdminCmds(parent *cobra.Command, g *globals) {
	parent.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List executors with their activation, liveness and load",
		Long: `List every executor known to the cluster. STATUS is judged with the database
clock: online (heartbeat newer than the web server's --offline-after),
offline (missed heartbeats), stopped (shut down cleanly); "(secret mismatch)"
marks one that refused the web server's cluster secret and is offered no work
until it accepts a call (give both the same --cluster-secret-file; the web
server calls it every few seconds). SKEW is how far the
executor's own clock is from the database's: shown, but harmless.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			list, err := g.client().Executors(cmd.Context())
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(g.stdout, list)
			}
			rows := make([][]string, 0, len(list))
			for _, e := range list {
				rows = append(rows, []string{strconv.FormatInt(e.ID, 10), e.Name, e.Host, strconv.Itoa(e.Port), strconv.FormatBool(e.Active), statusString(e),
					flowsString(e), age(time.Duration(e.HeartbeatAgeMs) * time.Millisecond), skew(e.ClockSkewMs), e.Version, labelsString(e.Labels)})
			}
			return printTable(g.stdout, []string{"id", "name", "host", "port", "active", "status", "flows", "heartbeat", "skew", "version", "labels"}, rows)
		},
	})
	parent.AddCommand(&cobra.Command{
		Use:   "show REF",
		Short: "Show one executor and its recent events",
		Args:  exactArgs(1, "REF"),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.client().Executor(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(g.stdout, e)
			}
			w := g.stdout
			fmt.Fprintf(w, "id:         %d\nname:       %s\naddress:    %s:%d\nactive:     %v\nstatus:     %s\nflows:      %s\nheartbeat:  %s ago (%s)\nclock skew: %s\nversion:    %s\nlabels:     %s\nstarted:    %s\nstopped:    %s\n",
				e.ID, e.Name, e.Host, e.Port, e.Active, statusString(*e), flowsString(*e), age(time.Duration(e.HeartbeatAgeMs)*time.Millisecond), timeString(e.LastHeartbeat),
				skew(e.ClockSkewMs), e.Version, labelsString(e.Labels), timeString(e.StartedAt), timeString(e.StoppedAt))
			if e.SecretRefused != "" {
				fmt.Fprintf(w, "secret:     refused: %s; offered no work until it accepts a call\n", e.SecretRefused)
			}
			if len(e.Events) > 0 {
				fmt.Fprintln(w, "\nevents:")
				rows := [][]string{}
				for _, ev := range e.Events {
					rows = append(rows, []string{timeString(&ev.Time), ev.Type, ev.Actor, ev.Message})
				}
				return printTable(w, []string{"time", "event", "by", "message"}, rows)
			}
			return nil
		},
	})
	for _, active := range []bool{true, false} {
		verb, short := "activate", "Let the dispatcher assign flows to these executors"
		if !active {
			verb, short = "deactivate", "Stop assigning new flows to these executors (running flows finish)"
		}
		var wait bool
		var waitTimeout time.Duration
		c := &cobra.Command{
			Use:   verb + " REF...",
			Short: short,
			Args:  minArgs(1, "REF"),
			RunE: func(cmd *cobra.Command, args []string) error {
				cl := g.client()
				var out []*api.Executor
				for _, ref := range args {
					e, err := cl.SetActive(cmd.Context(), ref, active)
					if err != nil {
						return err
					}
					out = append(out, e)
					if !g.quiet && g.output != "json" {
						fmt.Fprintf(g.stdout, "executor %d (%s %s:%d) %sd\n", e.ID, e.Name, e.Host, e.Port, verb)
					}
				}
				if !active && wait {
					if err := waitDrained(cmd, g, out, waitTimeout); err != nil {
						return err
					}
				}
				if g.output == "json" {
					return printJSON(g.stdout, out)
				}
				return nil
			},
		}
		if !active {
			c.Flags().BoolVar(&wait, "wait", false, "wait until the executors' running flows have ended")
			c.Flags().DurationVar(&waitTimeout, "timeout", 0, "with --wait, give up after this long (exit 4); 0 = no limit")
		}
		parent.AddCommand(c)
	}
	parent.AddCommand(newExecutorLabelCmd(g))
	parent.AddCommand(&cobra.Command{
		Use:   "remove REF",
		Short: "Delete a stopped or offline executor's row (an online one is refused)",
		Args:  exactArgs(1, "REF"),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.client().RemoveExecutor(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(g.stdout, e)
			}
			if !g.quiet {
				fmt.Fprintf(g.stdout, "executor %d (%s %s:%d) removed\n", e.ID, e.Name, e.Host, e.Port)
			}
			return nil
		},
	})
}

// statusString is the status with its note: "online (secret mismatch)".
func statusString(e api.Executor) string {
	if e.StatusNote != "" {
		return e.Status + " (" + e.StatusNote + ")"
	}
	return e.Status
}

func flowsString(e api.Executor) string {
	if e.MaxFlows > 0 {
		return fmt.Sprintf("%d/%d", e.RunningFlows, e.MaxFlows)
	}
	return strconv.Itoa(e.RunningFlows)
}

// waitDrained polls until the database counts no execution dispatching to,
// running on or being killed on the executors.
func waitDrained(cmd *cobra.Command, g *globals, list []*api.Executor, timeout time.Duration) error {
	ctx := cmd.Context()
	var deadline <-chan time.Time
	if timeout > 0 {
		deadline = time.After(timeout)
	}
	for {
		busy := []string{}
		for _, e := range list {
			cur, err := g.client().Executor(ctx, strconv.FormatInt(e.ID, 10))
			if err != nil {
				return err
			}
			// The database's count: an offline executor's flows still count
			// until the reaper has ended or re-queued them.
			if cur.RunningFlows > 0 {
				note := ""
				if cur.Status != "online" {
					note = ", " + cur.Status
				}
				busy = append(busy, fmt.Sprintf("%s (%d running%s)", cur.Name, cur.RunningFlows, note))
			}
		}
		if len(busy) == 0 {
			return nil
		}
		if !g.quiet {
			fmt.Fprintf(g.stderr, "waiting for %s\n", strings.Join(busy, ", "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			return withCode(ExitTimeout, fmt.Errorf("timed out after %s; still running: %s", timeout, strings.Join(busy, ", ")))
		case <-time.After(2 * time.Second):
		}
	}
}

func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErr("%s needs %s (see `%s --help`)", cmd.CommandPath(), names, cmd.CommandPath())
		}
		return nil
	}
}

func minArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return usageErr("%s needs %s (see `%s --help`)", cmd.CommandPath(), names, cmd.CommandPath())
		}
		return nil
	}
}
