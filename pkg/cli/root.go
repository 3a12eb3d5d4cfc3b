// Package cli builds crawlctl's cobra command tree: the daemons (web serve,
// executor serve), migrations, and the operator commands that talk to the web
// server through pkg/client. It owns flag and config wiring, output formats
// (table or JSON) and the exit codes scripts rely on. cmd/crawlctl calls Main.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/crawlctl/crawlctl/pkg/client"
	"github.com/crawlctl/crawlctl/pkg/internal/buildinfo"
	"github.com/crawlctl/crawlctl/pkg/internal/config"
	"github.com/crawlctl/crawlctl/pkg/internal/executor"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/supervise"
)

// Exit codes, for scripts and cron.
const (
	ExitOK          = 0
	ExitFailed      = 1 // the execution failed or was killed
	ExitUsage       = 2 // bad usage or input
	ExitServer      = 3 // server unreachable or server error
	ExitTimeout     = 4 // timed out waiting
	defaultServer   = "http://127.0.0.1:8081"
	defaultWebPort  = "0.0.0.0:8081"
	defaultExecPort = 12321
)

// exitError carries an exit code with the one line to print.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

func usageErr(format string, a ...any) error { return withCode(ExitUsage, fmt.Errorf(format, a...)) }

// globals are the settings every command shares.
type globals struct {
	configPath     string
	server         string
	output         string
	quiet          bool
	connectTimeout time.Duration
	logLevel       string
	logFormat      string
	caCert         string
	tokenFile      string
	token          string // read from --token-file by applyConfig
	stdout         io.Writer
	stderr         io.Writer
}

// client talks to --server with the token from --token-file, else
// CRAWLCTL_TOKEN, else the one `crawlctl login` (or solo) saved for this
// server.
func (g *globals) client() *client.Client {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && name == "" {
		name = u.Username
	}
	token, from := g.token, "--token-file "+g.tokenFile
	if token == "" {
		token, from = os.Getenv("CRAWLCTL_TOKEN"), "CRAWLCTL_TOKEN"
	}
	if token == "" {
		token = client.SavedToken(g.server)
		from = "the token saved for it"
		if path, err := client.TokenFile(); err == nil {
			from += " in " + path
		}
		if token == "" {
			from = ""
		}
	}
	tlsConf, _ := caPool(g.caCert) // validated in applyConfig
	return client.New(g.server, client.Options{ConnectTimeout: g.connectTimeout, User: name, Token: token, TokenSource: from, TLS: tlsConf})
}

// readTokenFile reads an API token from a file that only its owner may read.
func readTokenFile(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", usageErr("--token-file: %v", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", usageErr("--token-file %s is readable by others (mode %04o): chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", usageErr("--token-file: %v", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", usageErr("--token-file %s is empty: put a token from `crawlctl token create` in it", path)
	}
	return tok, nil
}

// NewRoot builds the command tree.
func NewRoot(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "crawlctl",
		Short: "Run batch flows (DAGs of shell jobs) on a cluster of executors",
		Long: `crawlctl runs Azkaban-style flows - DAGs of shell jobs such as crawlers,
spiders and ETL steps - on a cluster of executor nodes that share one MySQL
database with a web server.

  crawlctl migrate up --db mysql://...      create or upgrade the schema
  crawlctl web serve --db mysql://...       REST API, dispatcher, reaper
  crawlctl executor serve --db mysql://...  one per node; registers inactive
  crawlctl executor activate node-3         let the dispatcher use it
  crawlctl project upload ./myproject       upload flows
  crawlctl flow run myproject myflow --wait run one and wait for it

Settings come from flags, then CRAWLCTL_<FLAG> environment variables, then
the YAML file given by --config. Exit codes: 0 success, 1 execution failed or
killed, 2 bad usage or input, 3 server unreachable or server error, 4 timed out.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return applyConfig(cmd, g)
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	pf := root.PersistentFlags()
	pf.StringVar(&g.configPath, "config", "", "YAML config file (env CRAWLCTL_CONFIG)")
	pf.StringVar(&g.server, "server", defaultServer, "web server URL the CLI talks to")
	pf.StringVarP(&g.output, "output", "o", "table", "output format: table or json")
	pf.BoolVarP(&g.quiet, "quiet", "q", false, "print nothing on success (errors still go to stderr)")
	pf.DurationVar(&g.connectTimeout, "connect-timeout", 10*time.Second, "give up connecting to the server after this long (exit 3)")
	pf.StringVar(&g.logLevel, "log-level", "info", "daemon log level: debug, info, warn, error")
	pf.StringVar(&g.logFormat, "log-format", "auto", "daemon log format: json, console, or auto (console on a terminal)")
	pf.StringVar(&g.caCert, "ca-cert", "", "CA certificate (PEM) to trust for an https --server")
	pf.StringVar(&g.tokenFile, "token-file", "", "read the API token from this file (mode 600; wins over CRAWLCTL_TOKEN and the saved token)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErr("%v (see `%s --help`)", err, c.CommandPath())
	})

	defer groupsRefuseUnknown(root)
	root.AddCommand(
		newMigrateCmd(g),
		newPruneCmd(g),
		newWebCmd(g),
		newExecutorCmd(g),
		newProjectCmd(g),
		newFlowCmd(g),
		newExecCmd(g),
		newSoloCmd(g),
		newScheduleCmd(g),
		newLoginCmd(g),
		newUserCmd(g),
		newTokenCmd(g),
		newAlertCmd(g),
		&cobra.Command{
			Use:   "version",
			Short: "Print the crawlctl version",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				fmt.Fprintln(g.stdout, buildinfo.String())
				return nil
			},
		},
	)
	return root
}

// groupsRefuseUnknown makes every command group (executor, project, ...) fail
// with exit 2 on an unknown subcommand instead of printing help and exiting 0.
func groupsRefuseUnknown(c *cobra.Command) {
	for _, sub := range c.Commands() {
		groupsRefuseUnknown(sub)
	}
	if c.HasSubCommands() && c.Run == nil && c.RunE == nil {
		c.Args = cobra.ArbitraryArgs
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErr("unknown command %q for %q (see `%s --help`)", args[0], cmd.CommandPath(), cmd.CommandPath())
			}
			return cmd.Help()
		}
	}
}

// applyConfig fills flags from CRAWLCTL_* and the config file. The section
// is the daemon's name for `web serve`, `executor serve` and `solo`.
func applyConfig(cmd *cobra.Command, g *globals) error {
	path := g.configPath
	if !cmd.Flags().Changed("config") {
		if v := os.Getenv("CRAWLCTL_CONFIG"); v != "" {
			path = v
		}
	}
	f, err := config.Load(path)
	if err != nil {
		return withCode(ExitUsage, err)
	}
	if err := f.Check(path, configKeys(cmd.Root())); err != nil {
		return withCode(ExitUsage, err)
	}
	if err := config.Apply(cmd.Flags(), configSection(cmd), f); err != nil {
		return withCode(ExitUsage, err)
	}
	if g.output != "table" && g.output != "json" {
		return usageErr("bad --output %q: use table or json", g.output)
	}
	if _, err := caPool(g.caCert); err != nil {
		return err
	}
	if g.tokenFile != "" {
		if g.token, err = readTokenFile(g.tokenFile); err != nil {
			return err
		}
	}
	return nil
}

// configSection is the config file section of cmd: the daemon's name for
// `web serve`, `executor serve` and `solo`, else "".
func configSection(cmd *cobra.Command) string {
	if p := cmd.Parent(); p != nil && cmd.Name() == "serve" {
		return p.Name()
	} else if cmd.Name() == "solo" {
		return "solo"
	}
	return ""
}

// configKeys are the keys a config file may hold: at the top level the
// flags of every command, in a daemon's section the flags of that daemon.
func configKeys(root *cobra.Command) config.Keys {
	k := config.Keys{Sections: map[string][]string{}}
	seen := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		var names []string
		for _, fs := range []*pflag.FlagSet{c.LocalFlags(), c.InheritedFlags()} {
			fs.VisitAll(func(fl *pflag.Flag) { names = append(names, fl.Name) })
		}
		for _, n := range names {
			if !seen[n] {
				seen[n] = true
				k.Top = append(k.Top, n)
			}
		}
		if s := configSection(c); s != "" {
			k.Sections[s] = names
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return k
}

// Main runs crawlctl with args and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == supervise.Name {
		return supervise.Main(args[1:])
	}
	root := NewRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	code := exitCode(err)
	fmt.Fprintln(stderr, "crawlctl: "+oneLine(err))
	return code
}

// exitCode is the one place where errors become exit codes. A bad setting
// the daemons name with a sentinel is a usage error wherever it was raised,
// even from a step marked as a server error.
func exitCode(err error) int {
	if errors.Is(err, store.ErrBadDSN) || errors.Is(err, executor.ErrPortInUse) {
		return ExitUsage
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	var ae *client.APIError
	if errors.As(err, &ae) {
		if ae.Status >= 500 || ae.Status == 429 {
			return ExitServer
		}
		return ExitUsage
	}
	var ue *client.UnreachableError
	if errors.As(err, &ue) {
		return ExitServer
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return ExitTimeout
	}
	// Cobra's own errors (unknown command, wrong arg count) are usage errors.
	return ExitUsage
}

func oneLine(err error) string {
	s := err.Error()
	for i, r := range s {
		if r == '\n' {
			return s[:i]
		}
	}
	return s
}
