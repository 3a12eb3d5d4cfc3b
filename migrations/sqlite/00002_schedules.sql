-- +goose Up
CREATE TABLE schedules (
  id                INTEGER      PRIMARY KEY AUTOINCREMENT,
  project           VARCHAR(255) NOT NULL,
  flow              VARCHAR(255) NOT NULL,
  cron              VARCHAR(255) NOT NULL,
  time_zone         VARCHAR(64)  NOT NULL,
  params            TEXT         NOT NULL,
  concurrent        VARCHAR(16)  NOT NULL,
  misfire           VARCHAR(16)  NOT NULL,
  paused            INTEGER      NOT NULL DEFAULT 0,
  next_fire         TEXT         NULL,
  last_fire         TEXT         NULL,
  last_execution_id BIGINT       NULL,
  last_status       TEXT         NOT NULL,
  fired_count       BIGINT       NOT NULL DEFAULT 0,
  skipped_count     BIGINT       NOT NULL DEFAULT 0,
  owner             VARCHAR(255) NOT NULL DEFAULT '',
  created_at        TEXT         NOT NULL
);
CREATE INDEX ix_schedules_due ON schedules (paused, next_fire);

ALTER TABLE executions ADD COLUMN schedule_id BIGINT NULL;
ALTER TABLE executions ADD COLUMN scheduled_time TEXT NULL;

-- +goose Down
ALTER TABLE executions DROP COLUMN scheduled_time;
ALTER TABLE executions DROP COLUMN schedule_id;
DROP TABLE schedules;
