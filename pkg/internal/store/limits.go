package store

// Sizes of the columns that hold free text from users (see migrations/).
// The web server refuses longer input with a 400 naming the limit, rather
// than letting the database refuse it.
const (
	// MaxName bounds names and short texts, in bytes: users, tokens,
	// projects, flows, executors, cron expressions (VARCHAR(255)).
	MaxName = 255
	// MaxText bounds a TEXT column, in bytes: an execution's or schedule's
	// parameters (as stored, JSON), executor labels.
	MaxText = 65535
	// MaxTimeZone bounds a schedule's time zone name (VARCHAR(64)).
	MaxTimeZone = 64
)
