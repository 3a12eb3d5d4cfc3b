-- +goose Up
-- Sessions of the Azkaban-compatible web API (login by POST /?action=login).
-- Only the SHA-256 of a session id is stored, as for API tokens, so any web
-- server accepts a session and a restart keeps it; last_used slides the
-- idle expiry and is written at most once a minute per session.
CREATE TABLE web_sessions (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  session_hash TEXT    NOT NULL UNIQUE,
  user_id      INTEGER NOT NULL,
  remote       TEXT    NOT NULL DEFAULT '',
  created_at   TEXT    NOT NULL,
  last_used    TEXT    NOT NULL
);
CREATE INDEX ix_web_sessions_used ON web_sessions (last_used);

-- Azkaban creates a project (with a description) before its first upload.
ALTER TABLE projects ADD COLUMN description TEXT NOT NULL DEFAULT '';

-- Azkaban's execution options that crawlctl keeps with an execution: jobs
-- disabled at submit (a JSON array of job paths; they end SKIPPED) and the
-- notification settings (stored for alerting; nothing sends mail yet), and
-- whether it is paused (Azkaban's pauseFlow: no job starts until resumed).
ALTER TABLE executions ADD COLUMN disabled TEXT NULL;
ALTER TABLE executions ADD COLUMN success_emails TEXT NOT NULL DEFAULT '';
ALTER TABLE executions ADD COLUMN failure_emails TEXT NOT NULL DEFAULT '';
ALTER TABLE executions ADD COLUMN notify_failure_first INTEGER NOT NULL DEFAULT 0;
ALTER TABLE executions ADD COLUMN notify_failure_last INTEGER NOT NULL DEFAULT 0;
ALTER TABLE executions ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;

-- The same options for the runs a schedule submits, as JSON.
ALTER TABLE schedules ADD COLUMN options TEXT NULL;

-- +goose Down
ALTER TABLE schedules DROP COLUMN options;
ALTER TABLE executions DROP COLUMN paused;
ALTER TABLE executions DROP COLUMN notify_failure_last;
ALTER TABLE executions DROP COLUMN notify_failure_first;
ALTER TABLE executions DROP COLUMN failure_emails;
ALTER TABLE executions DROP COLUMN success_emails;
ALTER TABLE executions DROP COLUMN disabled;
ALTER TABLE projects DROP COLUMN description;
DROP TABLE web_sessions;
