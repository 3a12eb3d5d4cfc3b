-- +goose Up
-- Failed logins, one row each, so that the login limiter holds across every
-- web server and across restarts. Rows older than the limiter's window are
-- deleted as new failures come in.
CREATE TABLE login_failures (
  id        INTEGER      PRIMARY KEY AUTOINCREMENT,
  remote    VARCHAR(64)  NOT NULL,
  user_name VARCHAR(255) NOT NULL,
  failed_at TEXT         NOT NULL
);
CREATE INDEX ix_login_failures_key ON login_failures (remote, user_name, failed_at);
CREATE INDEX ix_login_failures_time ON login_failures (failed_at);

-- +goose Down
DROP TABLE login_failures;
