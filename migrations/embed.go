// Package migrations holds the database schema as goose SQL migrations, one
// directory per dialect, embedded in the binary. The store runs them on
// `crawlctl migrate up` and checks them before a daemon starts.
package migrations

import "embed"

// FS holds mysql/*.sql and sqlite/*.sql.
//
//go:embed mysql/*.sql sqlite/*.sql
var FS embed.FS
