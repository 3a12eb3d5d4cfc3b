-- +goose Up
-- Sessions of the Azkaban-compatible web API (login by POST /?action=login).
-- Only the SHA-256 of a session id is stored, as for API tokens, so any web
-- server accepts a session and a restart keeps it; last_used slides the
-- idle expiry and is written at most once a minute per session.
CREATE TABLE web_sessions (
  id           BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
  session_hash CHAR(64)     NOT NULL,
  user_id      BIGINT       NOT NULL,
  remote       VARCHAR(255) NOT NULL DEFAULT '',
  created_at   DATETIME(6)  NOT NULL,
  last_used    DATETIME(6)  NOT NULL,
  UNIQUE KEY uq_web_sessions_hash (session_hash),
  KEY ix_web_sessions_used (last_used)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Azkaban creates a project (with a description) before its first upload.
ALTER TABLE projects ADD COLUMN description VARCHAR(2048) NOT NULL DEFAULT '';

-- Azkaban's execution options that crawlctl keeps with an execution: jobs
-- disabled at submit (a JSON array of job paths; they end SKIPPED) and the
-- notification settings (stored for alerting; nothing sends mail yet), and
-- whether it is paused (Azkaban's pauseFlow: no job starts until resumed).
ALTER TABLE executions
  ADD COLUMN disabled             TEXT          NULL,
  ADD COLUMN success_emails       VARCHAR(2048) NOT NULL DEFAULT '',
  ADD COLUMN failure_emails       VARCHAR(2048) NOT NULL DEFAULT '',
  ADD COLUMN notify_failure_first BOOLEAN       NOT NULL DEFAULT FALSE,
  ADD COLUMN notify_failure_last  BOOLEAN       NOT NULL DEFAULT FALSE,
  ADD COLUMN paused               BOOLEAN       NOT NULL DEFAULT FALSE;

-- The same options for the runs a schedule submits, as JSON.
ALTER TABLE schedules ADD COLUMN options TEXT NULL;

-- +goose Down
ALTER TABLE schedules DROP COLUMN options;
ALTER TABLE executions DROP COLUMN disabled, DROP COLUMN success_emails, DROP COLUMN failure_emails,
  DROP COLUMN notify_failure_first, DROP COLUMN notify_failure_last, DROP COLUMN paused;
ALTER TABLE projects DROP COLUMN description;
DROP TABLE web_sessions;
