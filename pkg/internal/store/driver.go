package store

// Driver returns the database/sql driver name and data source of dsn (see
// Open), for a tool that keeps its own connection to the same database: the
// benchmark's store/benchdb.
func Driver(dsn string) (driver, source string, err error) {
	driver, source, _, err = parseDSN(dsn)
	return driver, source, err
}
