package cli

import (
	"context"
	"os"

	"github.com/spf13/pflag"

	"github.com/crawlctl/crawlctl/pkg/internal/auth"
	"github.com/crawlctl/crawlctl/pkg/internal/config"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

// dbSetting is the database a command talks to: --db (CRAWLCTL_DB), or
// --db-file (CRAWLCTL_DB_FILE) naming a file that holds the DSN, which
// keeps its password out of the environment and the command line.
type dbSetting struct {
	dsn  string
	file string
	fs   *pflag.FlagSet
}

func (d *dbSetting) flags(f *pflag.FlagSet, usage string) {
	d.fs = f
	f.StringVar(&d.dsn, "db", "", usage)
	f.StringVar(&d.file, "db-file", "", "file holding the database DSN on its first line, readable only by its owner (and the daemon's group); instead of --db")
}

// given reports whether a database was named at all.
func (d *dbSetting) given() bool { return d.dsn != "" || d.file != "" }

// level says where a flag's value came from: 3 the command line, 2 the
// environment, 1 the config file, 0 nowhere.
func (d *dbSetting) level(name, value string) int {
	switch {
	case value == "":
		return 0
	case d.fs != nil && d.fs.Changed(name):
		return 3
	case os.Getenv(config.EnvName(name)) != "":
		return 2
	}
	return 1
}

// resolve returns the DSN: --db, or the first line of --db-file. When both
// are set, the one from the stronger source wins (command line, then
// environment, then config file); from the same source they conflict.
// Call it before the daemon forgets its secret variables.
func (d *dbSetting) resolve() (string, error) {
	ld, lf := d.level("db", d.dsn), d.level("db-file", d.file)
	switch {
	case lf == 0 || ld > lf:
		return d.dsn, nil
	case ld == lf:
		return "", usageErr("give the database either with --db (CRAWLCTL_DB) or with --db-file (CRAWLCTL_DB_FILE), not both")
	}
	dsn, err := auth.ReadSecretFile(d.file, "database file")
	if err != nil {
		return "", usageErr("--db-file: %v", err)
	}
	if dsn == "" {
		return "", usageErr("--db-file %s holds no DSN on its first line", d.file)
	}
	return dsn, nil
}

// open resolves the setting and opens the database, checking its schema
// when needSchema: for the commands that talk to the database directly.
func (d *dbSetting) open(ctx context.Context, needSchema bool) (*store.Store, error) {
	dsn, err := d.resolve()
	if err != nil {
		return nil, err
	}
	return openStore(ctx, dsn, needSchema)
}
