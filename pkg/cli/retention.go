package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/crawlctl/crawlctl/pkg/internal/azkaban"
	"github.com/crawlctl/crawlctl/pkg/internal/executor"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

// loginFailureRetention is how long failed logins are kept: far longer
// than the login limiter looks back (a minute).
const loginFailureRetention = 24 * time.Hour

// retentionSettings are the --retain-* flags of web serve, solo and prune.
type retentionSettings struct {
	executions, logs, events time.Duration
	versions                 int
	every                    time.Duration // --prune-every (the daemons only)
}

// flags adds the --retain-* flags to f, and --prune-every with loop.
func (r *retentionSettings) flags(f *pflag.FlagSet, loop bool) {
	f.Var(newDayDuration(&r.executions, 90*day), "retain-executions", "delete ended executions (with their jobs and logs) and finished alerts this old; 0 keeps them forever (d = days)")
	f.Var(newDayDuration(&r.logs, 30*day), "retain-logs", "delete the logs of executions ended this long ago, keeping the executions; 0 keeps them forever")
	f.IntVar(&r.versions, "retain-versions", 20, "keep this many newest versions of each project (and any a queued or running execution uses); 0 keeps all")
	f.Var(newDayDuration(&r.events, 90*day), "retain-events", "delete executor events this old; 0 keeps them forever")
	if loop {
		f.Var(newDayDuration(&r.every, 5*time.Minute), "prune-every", "how often this web server deletes what the --retain-* flags say is old; 0 never")
	}
}

// retention checks the settings and returns them for the store; sessions
// unused for sessionIdle have expired.
func (r *retentionSettings) retention(sessionIdle time.Duration) (store.Retention, error) {
	if r.versions < 0 {
		return store.Retention{}, usageErr("bad --retain-versions %d: use 0 (keep all) or more", r.versions)
	}
	return store.Retention{Executions: r.executions, Logs: r.logs, Events: r.events, Versions: r.versions,
		Sessions: sessionIdle, LoginFailures: loginFailureRetention}, nil
}

const day = 24 * time.Hour

// dayDuration is a duration flag that also takes days: 90d, 1d12h, 36h,
// 10m; 0 is none.
type dayDuration struct{ d *time.Duration }

// newDayDuration sets *p to def and returns the flag value that sets it.
func newDayDuration(p *time.Duration, def time.Duration) dayDuration {
	*p = def
	return dayDuration{p}
}

func (v dayDuration) Set(s string) error {
	d, err := parseDays(s)
	if err != nil {
		return err
	}
	*v.d = d
	return nil
}

func (v dayDuration) String() string {
	if v.d == nil {
		return ""
	}
	return formatDays(*v.d)
}

func (v dayDuration) Type() string { return "duration" }

// parseDays reads a Go duration that may start with a number of days.
func parseDays(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	bad := fmt.Errorf("bad duration %q: use days (90d), hours (36h), minutes (5m) or seconds (30s), or 0", s)
	if s == "0" {
		return 0, nil
	}
	var d time.Duration
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.ParseUint(s[:i], 10, 16)
		if err != nil {
			return 0, bad
		}
		d, s = time.Duration(n)*day, s[i+1:]
		if s == "" {
			return d, nil
		}
	}
	rest, err := time.ParseDuration(s)
	if err != nil || rest < 0 {
		return 0, bad
	}
	return d + rest, nil
}

// formatDays writes d in days when it is a whole number of them.
func formatDays(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d%day == 0:
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	return d.String()
}

func newPruneCmd(g *globals) *cobra.Command {
	var (
		db          dbSetting
		ret         retentionSettings
		dryRun      bool
		sessionIdle time.Duration
	)
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Delete old executions, logs, project versions and events now (talks to the database directly)",
		Long: `Delete from the database what the retention settings say is old, now, and
print how many rows went from each table. Every web server already does this
every --prune-every (5m) with its own --retain-* flags; prune is for a first
clean-up, for a look with --dry-run, or for a cluster whose web servers run
with --prune-every 0.

What goes: executions that ended (SUCCEEDED, FAILED, KILLED) more than
--retain-executions ago, with their jobs and logs; the logs of executions that
ended more than --retain-logs ago; each project's versions beyond its newest
--retain-versions, unless a queued or running execution uses one (the latest
always stays, and schedules always run the latest); executor events older than
--retain-events; Azkaban API sessions unused for --session-idle; failed logins
older than a day; alerts sent or given up more than --retain-executions ago.
A queued or running execution is never deleted, however old. 0 keeps a kind
forever. Deletes go in batches of at most 500 rows, each its own short
transaction, so the daemons keep running meanwhile.

  crawlctl prune --db-file /etc/crawlctl/db.dsn --dry-run
  crawlctl prune --db mysql://crawlctl:secret@db:3306/crawlctl --retain-executions 30d --retain-logs 7d`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := ret.retention(sessionIdle)
			if err != nil {
				return err
			}
			st, err := db.open(cmd.Context(), true)
			if err != nil {
				return err
			}
			defer st.Close()
			rep, err := st.Prune(cmd.Context(), r, dryRun)
			if err != nil {
				return withCode(ExitServer, err)
			}
			rows := map[string]int64{}
			for _, table := range store.PruneTables {
				rows[table] = rep.Rows[table]
			}
			if g.output == "json" {
				return printJSON(g.stdout, map[string]any{"dry_run": dryRun, "rows": rows, "total": rep.Total()})
			}
			if g.quiet {
				return nil
			}
			head := "deleted"
			if dryRun {
				head = "would delete"
			}
			table := [][]string{}
			for _, t := range store.PruneTables {
				table = append(table, []string{t, strconv.FormatInt(rows[t], 10)})
			}
			table = append(table, []string{"total", strconv.FormatInt(rep.Total(), 10)})
			if err := printTable(g.stdout, []string{"table", head}, table); err != nil {
				return err
			}
			if dryRun {
				fmt.Fprintln(g.stdout, "dry run: nothing was deleted")
			}
			return nil
		},
	}
	f := cmd.Flags()
	db.flags(f, "database: mysql://user:pass@host:3306/db or sqlite:///path/file.db")
	f.BoolVar(&dryRun, "dry-run", false, "count what would be deleted; delete nothing")
	ret.flags(f, false)
	f.DurationVar(&sessionIdle, "session-idle", azkaban.DefaultSessionIdle, "delete Azkaban API sessions unused this long (give the web servers' --session-idle)")
	return cmd
}

// diskSettings are the flags of what an executor removes from its work
// directory (executor serve, solo).
type diskSettings struct {
	maxAge, localLogs time.Duration
	maxBytes          int64
}

func (d *diskSettings) flags(f *pflag.FlagSet) {
	f.Var(newDayDuration(&d.maxAge, 7*day), "cache-max-age", "remove an extracted project version not used for this long; 0 never (d = days)")
	f.Var(newByteSize(&d.maxBytes, 5<<30), "cache-max-bytes", "then remove the least recently used extracted versions until they take at most this much (5GiB, 500MiB); 0 no limit")
	f.Var(newDayDuration(&d.localLogs, 14*day), "retain-local-logs", "remove an execution's local log files this long after they were last written; 0 never")
}

func (d *diskSettings) limits() executor.DiskLimits {
	return executor.DiskLimits{CacheMaxAge: d.maxAge, CacheMaxBytes: d.maxBytes, LocalLogs: d.localLogs}
}

// byteSize is a size flag: 5GiB, 500MiB, 64KiB, 5G (binary), 5GB
// (decimal), 1024 (bytes); 0 is none.
type byteSize struct{ n *int64 }

// newByteSize sets *p to def and returns the flag value that sets it.
func newByteSize(p *int64, def int64) byteSize {
	*p = def
	return byteSize{p}
}

var sizeUnits = []struct {
	suffix string
	n      int64
}{
	{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
	{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3},
	{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1},
}

func (v byteSize) Set(s string) error {
	s = strings.TrimSpace(s)
	num, unit := s, int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(strings.ToUpper(s), strings.ToUpper(u.suffix)) {
			num, unit = strings.TrimSpace(s[:len(s)-len(u.suffix)]), u.n
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/unit {
		return fmt.Errorf("bad size %q: use a whole number with a unit (5GiB, 500MiB, 64KiB, 5GB) or bytes, or 0", s)
	}
	*v.n = n * unit
	return nil
}

func (v byteSize) String() string {
	if v.n == nil {
		return ""
	}
	for _, u := range sizeUnits[:4] {
		if *v.n != 0 && *v.n%u.n == 0 {
			return strconv.FormatInt(*v.n/u.n, 10) + u.suffix
		}
	}
	return strconv.FormatInt(*v.n, 10)
}

func (v byteSize) Type() string { return "size" }
