-- +goose Up
-- Failed logins, one row each, so that the login limiter holds across every
-- web server and across restarts. Rows older than the limiter's window are
-- deleted as new failures come in.
CREATE TABLE login_failures (
  id        BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
  remote    VARCHAR(64)  NOT NULL,
  user_name VARCHAR(255) NOT NULL,
  failed_at DATETIME(6)  NOT NULL,
  KEY ix_login_failures_key (remote, user_name, failed_at),
  KEY ix_login_failures_time (failed_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE login_failures;
