-- +goose Up
CREATE TABLE schedules (
  id                BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
  project           VARCHAR(255) NOT NULL,
  flow              VARCHAR(255) NOT NULL,
  cron              VARCHAR(255) NOT NULL,
  time_zone         VARCHAR(64)  NOT NULL,
  params            TEXT         NOT NULL,
  concurrent        VARCHAR(16)  NOT NULL,
  misfire           VARCHAR(16)  NOT NULL,
  paused            BOOLEAN      NOT NULL DEFAULT FALSE,
  next_fire         DATETIME(6)  NULL,
  last_fire         DATETIME(6)  NULL,
  last_execution_id BIGINT       NULL,
  last_status       TEXT         NOT NULL,
  fired_count       BIGINT       NOT NULL DEFAULT 0,
  skipped_count     BIGINT       NOT NULL DEFAULT 0,
  owner             VARCHAR(255) NOT NULL DEFAULT '',
  created_at        DATETIME(6)  NOT NULL,
  KEY ix_schedules_due (paused, next_fire)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

ALTER TABLE executions ADD COLUMN schedule_id BIGINT NULL, ADD COLUMN scheduled_time DATETIME(6) NULL;

-- +goose Down
ALTER TABLE executions DROP COLUMN schedule_id, DROP COLUMN scheduled_time;
DROP TABLE schedules;
