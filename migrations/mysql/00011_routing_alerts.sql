-- +goose Up
-- Label routing: the labels an execution requires of its executor
-- ("k=v,k2=v2", sorted by key; '' = any executor), from the flow's
-- executor.labels config and the submit's selector.
ALTER TABLE executions ADD COLUMN selector VARCHAR(2048) NOT NULL DEFAULT '';

-- The alert outbox. A row is written in the same transaction as the state
-- change that causes it (an execution ending, an executor lost), so an
-- alert is never lost; web servers deliver it, each claiming a row with a
-- conditional update (claimed_by, lease_until), so two web servers never
-- send one twice. done_channels lists the channels that took it already,
-- so a retry sends only to those that have not.
CREATE TABLE alerts (
  id            BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
  dedupe_key    VARCHAR(255)  NOT NULL,
  kind          VARCHAR(32)   NOT NULL,
  execution_id  BIGINT        NULL,
  executor_id   BIGINT        NULL,
  status        VARCHAR(16)   NOT NULL DEFAULT 'PENDING',
  message       TEXT          NOT NULL,
  attempts      INT           NOT NULL DEFAULT 0,
  done_channels VARCHAR(1024) NOT NULL DEFAULT '',
  claimed_by    VARCHAR(255)  NOT NULL DEFAULT '',
  lease_until   DATETIME(6)   NULL,
  next_try      DATETIME(6)   NOT NULL,
  last_error    TEXT          NULL,
  created_at    DATETIME(6)   NOT NULL,
  finished_at   DATETIME(6)   NULL,
  UNIQUE KEY uq_alerts_dedupe (dedupe_key),
  KEY ix_alerts_due (status, next_try)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Every delivery attempt of an alert, channel by channel.
CREATE TABLE alert_attempts (
  id         BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
  alert_id   BIGINT        NOT NULL,
  channel    VARCHAR(255)  NOT NULL,
  ok         BOOLEAN       NOT NULL,
  error      TEXT          NULL,
  server     VARCHAR(255)  NOT NULL DEFAULT '',
  at         DATETIME(6)   NOT NULL,
  KEY ix_alert_attempts_alert (alert_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE alert_attempts;
DROP TABLE alerts;
ALTER TABLE executions DROP COLUMN selector;
