package cli

import (
	"github.com/spf13/pflag"

	"github.com/crawlctl/crawlctl/pkg/auth"
)

// dbSetting is the database a command talks to: --db (CRAWLCTL_DB), or
// --db-file (CRAWLCTL_DB_FILE) naming a file that holds the DSN, which
// keeps its password out of the environment and the command line.
type dbSetting struct {
	dsn  string
	file string
}

func (d *dbSetting) flags(f *pflag.FlagSet, usage string) {
	f.StringVar(&d.dsn, "db", "", usage)
	f.StringVar(&d.file, "db-file", "", "file holding the database DSN on its first line, readable only by its owner (and the daemon's group); instead of --db")
}

// given reports whether a database was named at all.
func (d *dbSetting) given() bool { return d.dsn != "" || d.file != "" }

// resolve returns the DSN: --db, or the first line of --db-file.
func (d *dbSetting) resolve() (string, error) {
	if d.file == "" {
		return d.dsn, nil
	}
	if d.dsn != "" {
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
