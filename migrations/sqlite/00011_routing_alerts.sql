-- +goose Up
-- Label routing: the labels an execution requires of its executor
-- ("k=v,k2=v2", sorted by key; '' = any executor).
ALTER TABLE executions ADD COLUMN selector TEXT NOT NULL DEFAULT '';

-- The alert outbox (see the MySQL migration).
CREATE TABLE alerts (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  dedupe_key    TEXT    NOT NULL UNIQUE,
  kind          TEXT    NOT NULL,
  execution_id  INTEGER NULL,
  executor_id   INTEGER NULL,
  status        TEXT    NOT NULL DEFAULT 'PENDING',
  message       TEXT    NOT NULL,
  attempts      INTEGER NOT NULL DEFAULT 0,
  done_channels TEXT    NOT NULL DEFAULT '',
  claimed_by    TEXT    NOT NULL DEFAULT '',
  lease_until   TEXT    NULL,
  next_try      TEXT    NOT NULL,
  last_error    TEXT    NULL,
  created_at    TEXT    NOT NULL,
  finished_at   TEXT    NULL
);
CREATE INDEX ix_alerts_due ON alerts (status, next_try);

CREATE TABLE alert_attempts (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  alert_id   INTEGER NOT NULL,
  channel    TEXT    NOT NULL,
  ok         INTEGER NOT NULL,
  error      TEXT    NULL,
  server     TEXT    NOT NULL DEFAULT '',
  at         TEXT    NOT NULL
);
CREATE INDEX ix_alert_attempts_alert ON alert_attempts (alert_id);

-- +goose Down
DROP TABLE alert_attempts;
DROP TABLE alerts;
ALTER TABLE executions DROP COLUMN selector;
