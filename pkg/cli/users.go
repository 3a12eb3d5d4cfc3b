package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/crawlctl/crawlctl/pkg/api"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/crawlctl/crawlctl/pkg/client"
	"github.com/crawlctl/crawlctl/pkg/internal/auth"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

// readPassword reads a password from stdin (--password-stdin) or prompts on
// the terminal without echo.
func readPassword(cmd *cobra.Command, fromStdin bool, prompt string) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return "", usageErr("no terminal to ask for the password: pipe it with --password-stdin")
	}
	fmt.Fprint(os.Stderr, prompt)
	b, err := term.ReadPassword(int(os.Stdin.Fd()))
	fmt.Fprintln(os.Stderr)
	return string(b), err
}

func newLoginCmd(g *globals) *cobra.Command {
	var (
		user      string
		fromStdin bool
		expires   string
	)
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in to the web server and save a token for this server",
		Long: `Exchange a user name and password for an API token and save it in the token
file (~/.config/crawlctl/tokens.json, mode 600), keyed by --server; later
commands against that server use it. CRAWLCTL_TOKEN, when set, wins.

  crawlctl login --user alice
  echo "$PASSWORD" | crawlctl login --user alice --password-stdin`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if user == "" {
				user = os.Getenv("USER")
			}
			pw, err := readPassword(cmd, fromStdin, "password for "+user+": ")
			if err != nil {
				return err
			}
			c := g.client()
			tok, err := c.Login(cmd.Context(), user, pw, expires)
			if err != nil {
				return err
			}
			path, err := client.SaveToken(c.Base(), tok.Secret)
			if err != nil {
				return err
			}
			if !g.quiet {
				exp := "never"
				if tok.ExpiresAt != nil {
					exp = tok.ExpiresAt.Local().Format(time.RFC3339)
				}
				fmt.Fprintf(g.stdout, "logged in to %s as %s; token saved in %s (expires %s)\n", c.Base(), user, path, exp)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&user, "user", "", "user name (default: $USER)")
	cmd.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from standard input")
	cmd.Flags().StringVar(&expires, "expires", "720h", "token lifetime (a duration, or never)")
	return cmd
}

func newUserCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Manage users (admin): add, list, rm, passwd",
		Long: `Users have a role: admin (everything, including users and executor
activation), operator (projects, runs, schedules, cancel) or viewer (read).

The first admin is created directly in the database, like migrate:
  crawlctl user add admin --role admin --db mysql://... --password-stdin < admin.pw
which prints an API token for it; with a password (--password-stdin, or
typed when asked on a terminal) it can also "crawlctl login". Later users are added through the API by an
admin:
  crawlctl user add alice --role operator --password-stdin < pw.txt`,
	}
	var (
		role      string
		fromStdin bool
		db        dbSetting
	)
	add := &cobra.Command{
		Use:   "add NAME --role admin|operator|viewer",
		Short: "Add a user (with --db: directly in the database, printing a token)",
		Args:  exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if !auth.ValidRole(role) {
				return usageErr("bad --role %q: use admin, operator or viewer", role)
			}
			if db.given() {
				return addUserDirect(cmd, g, db, name, role, fromStdin)
			}
			pw, err := readPassword(cmd, fromStdin, "password for "+name+": ")
			if err != nil {
				return err
			}
			u, err := g.client().AddUser(cmd.Context(), api.UserRequest{Name: name, Role: role, Password: pw})
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(g.stdout, u)
			}
			if !g.quiet {
				fmt.Fprintf(g.stdout, "user %s added (%s)\n", u.Name, u.Role)
			}
			return nil
		},
	}
	add.Flags().StringVar(&role, "role", "", "admin, operator or viewer")
	add.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from standard input")
	db.flags(add.Flags(), "create the user directly in this database (for the first admin; prints a token; a password is optional)")

	var pwStdin bool
	passwd := &cobra.Command{
		Use:   "passwd NAME",
		Short: "Change a user's password (your own, or anyone's as admin)",
		Args:  exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, err := readPassword(cmd, pwStdin, "new password for "+args[0]+": ")
			if err != nil {
				return err
			}
			if err := g.client().SetPassword(cmd.Context(), args[0], pw); err != nil {
				return err
			}
			if !g.quiet {
				fmt.Fprintf(g.stdout, "password of %s changed\n", args[0])
			}
			return nil
		},
	}
	passwd.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the password from standard input")
	cmd.AddCommand(add, passwd, &cobra.Command{
		Use:   "list",
		Short: "List users",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			list, err := g.client().Users(cmd.Context())
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(g.stdout, list)
			}
			rows := [][]string{}
			for _, u := range list {
				rows = append(rows, []string{u.Name, u.Role, timeString(&u.CreatedAt)})
			}
			return printTable(g.stdout, []string{"name", "role", "created"}, rows)
		},
	}, &cobra.Command{
		Use:   "rm NAME",
		Short: "Remove a user and revoke its tokens",
		Args:  exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.client().RemoveUser(cmd.Context(), args[0]); err != nil {
				return err
			}
			if !g.quiet {
				fmt.Fprintf(g.stdout, "user %s removed\n", args[0])
			}
			return nil
		},
	})
	return cmd
}

// addUserDirect creates a user in the database and prints a token for it.
func addUserDirect(cmd *cobra.Command, g *globals, db dbSetting, name, role string, fromStdin bool) error {
	st, err := db.open(cmd.Context(), true)
	if err != nil {
		return err
	}
	defer st.Close()
	hash := ""
	pw := ""
	if fromStdin || term.IsTerminal(int(os.Stdin.Fd())) {
		if pw, err = readPassword(cmd, fromStdin, "password for "+name+" (empty: none, the printed token only): "); err != nil {
			return err
		}
	}
	if pw != "" {
		if hash, err = auth.HashPassword(pw); err != nil {
			return usageErr("%v", err)
		}
	} else {
		// No password yet: only the token works until `user passwd`.
		if hash, err = auth.HashPassword(auth.NewSecret()); err != nil {
			return err
		}
	}
	if _, err := st.AddUser(cmd.Context(), name, role, hash); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return usageErr("%v", err)
		}
		return withCode(ExitServer, err)
	}
	tok, tokHash, prefix := auth.NewToken()
	if _, err := st.AddToken(cmd.Context(), name, "created with user add --db", tokHash, prefix, time.Time{}); err != nil {
		return withCode(ExitServer, err)
	}
	if g.output == "json" {
		return printJSON(g.stdout, map[string]string{"user": name, "role": role, "token": tok})
	}
	login := fmt.Sprintf("or give it a password (`crawlctl user passwd %s`) and `crawlctl login --user %s`", name, name)
	if pw != "" {
		login = fmt.Sprintf("or `crawlctl login --user %s [--server URL]` with its password", name)
	}
	fmt.Fprintf(g.stdout, "user %s added (%s). Its API token, shown only now:\n%s\nUse it with: export CRAWLCTL_TOKEN=<token>   (%s)\n", name, role, tok, login)
	return nil
}

func newTokenCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Create, list and revoke API tokens"}
	var req api.TokenRequest
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an API token (shown once; stored only as a hash)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			tok, err := g.client().CreateToken(cmd.Context(), req)
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(g.stdout, tok)
			}
			fmt.Fprintln(g.stdout, tok.Secret)
			return nil
		},
	}
	create.Flags().StringVar(&req.Name, "name", "", "what the token is for (e.g. cron on host-7)")
	create.Flags().StringVar(&req.ExpiresIn, "expires", "never", "lifetime: a duration such as 720h, or never")
	create.Flags().StringVar(&req.User, "user", "", "create it for this user (admins only)")
	cmd.AddCommand(create, &cobra.Command{
		Use:   "list",
		Short: "List tokens (yours; an admin sees everyone's)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			list, err := g.client().Tokens(cmd.Context())
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(g.stdout, list)
			}
			rows := [][]string{}
			for _, t := range list {
				state := "valid"
				switch {
				case t.RevokedAt != nil:
					state = "revoked"
				case t.ExpiresAt != nil && t.ExpiresAt.Before(time.Now()):
					state = "expired"
				}
				rows = append(rows, []string{strconv.FormatInt(t.ID, 10), t.User, t.Name, t.Prefix + "…", timeString(&t.CreatedAt), timeString(t.ExpiresAt), state})
			}
			return printTable(g.stdout, []string{"id", "user", "name", "token", "created", "expires", "state"}, rows)
		},
	}, &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token",
		Args:  exactArgs(1, "ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return usageErr("bad token id %q", args[0])
			}
			if err := g.client().RevokeToken(cmd.Context(), id); err != nil {
				return err
			}
			if !g.quiet {
				fmt.Fprintf(g.stdout, "token %d revoked\n", id)
			}
			return nil
		},
	})
	return cmd
}
