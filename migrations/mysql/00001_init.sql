-- +goose Up
CREATE TABLE executors (
  id             BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name           VARCHAR(255) NOT NULL,
  host           VARCHAR(255) NOT NULL,
  port           INT          NOT NULL,
  active         BOOLEAN      NOT NULL DEFAULT FALSE,
  labels         TEXT         NOT NULL,
  max_flows      INT          NOT NULL DEFAULT 0,
  version        VARCHAR(64)  NOT NULL DEFAULT '',
  started_at     DATETIME(6)  NULL,
  stopped_at     DATETIME(6)  NULL,
  last_heartbeat DATETIME(6)  NULL,
  clock_skew_ms  BIGINT       NOT NULL DEFAULT 0,
  running_flows  INT          NOT NULL DEFAULT 0,
  load1          DOUBLE       NOT NULL DEFAULT 0,
  created_at     DATETIME(6)  NOT NULL,
  UNIQUE KEY uq_executors_host_port (host, port)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE executor_events (
  id          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
  executor_id BIGINT       NOT NULL,
  type        VARCHAR(32)  NOT NULL,
  actor       VARCHAR(255) NOT NULL DEFAULT '',
  message     TEXT         NOT NULL,
  created_at  DATETIME(6)  NOT NULL,
  KEY ix_executor_events_executor (executor_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE projects (
  id             BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name           VARCHAR(255) NOT NULL,
  latest_version INT          NOT NULL DEFAULT 0,
  created_at     DATETIME(6)  NOT NULL,
  updated_at     DATETIME(6)  NOT NULL,
  UNIQUE KEY uq_projects_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE project_versions (
  project_id  BIGINT       NOT NULL,
  version     INT          NOT NULL,
  sha256      CHAR(64)     NOT NULL,
  size        BIGINT       NOT NULL,
  format      VARCHAR(16)  NOT NULL,
  flows       LONGTEXT     NOT NULL,
  uploaded_by VARCHAR(255) NOT NULL DEFAULT '',
  created_at  DATETIME(6)  NOT NULL,
  PRIMARY KEY (project_id, version)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE project_files (
  project_id BIGINT     NOT NULL,
  version    INT        NOT NULL,
  chunk      INT        NOT NULL,
  data       MEDIUMBLOB NOT NULL,
  PRIMARY KEY (project_id, version, chunk)
) ENGINE=InnoDB;

CREATE TABLE executions (
  id                 BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
  project_id         BIGINT       NOT NULL,
  project            VARCHAR(255) NOT NULL,
  version            INT          NOT NULL,
  flow               VARCHAR(255) NOT NULL,
  status             VARCHAR(16)  NOT NULL,
  executor_id        BIGINT       NULL,
  pinned_executor_id BIGINT       NULL,
  attempt            INT          NOT NULL DEFAULT 0,
  dispatch_failures  INT          NOT NULL DEFAULT 0,
  excluded           TEXT         NOT NULL,
  flow_retries       INT          NOT NULL DEFAULT 0,
  params             TEXT         NOT NULL,
  priority           INT          NOT NULL DEFAULT 0,
  concurrent         VARCHAR(16)  NOT NULL DEFAULT 'ignore',
  failure_action     VARCHAR(32)  NOT NULL DEFAULT 'finishCurrent',
  submit_user        VARCHAR(255) NOT NULL DEFAULT '',
  submit_time        DATETIME(6)  NOT NULL,
  not_before         DATETIME(6)  NULL,
  dispatched_time    DATETIME(6)  NULL,
  start_time         DATETIME(6)  NULL,
  end_time           DATETIME(6)  NULL,
  wait_reason        TEXT         NOT NULL,
  error              TEXT         NOT NULL,
  kill_reason        TEXT         NOT NULL,
  updated_at         DATETIME(6)  NOT NULL,
  KEY ix_executions_queue (status, priority, id),
  KEY ix_executions_executor (executor_id, status, attempt),
  KEY ix_executions_flow (project, flow, status)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE execution_jobs (
  execution_id BIGINT       NOT NULL,
  job          VARCHAR(512) NOT NULL,
  exec_attempt INT          NOT NULL,
  type         VARCHAR(16)  NOT NULL,
  status       VARCHAR(16)  NOT NULL,
  attempt      INT          NOT NULL DEFAULT 0,
  start_time   DATETIME(6)  NULL,
  end_time     DATETIME(6)  NULL,
  exit_code    INT          NULL,
  error        TEXT         NOT NULL,
  PRIMARY KEY (execution_id, exec_attempt, job)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE execution_logs (
  id           BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
  execution_id BIGINT       NOT NULL,
  job          VARCHAR(512) NOT NULL,
  exec_attempt INT          NOT NULL,
  attempt      INT          NOT NULL,
  start_offset BIGINT       NOT NULL,
  data         MEDIUMBLOB   NOT NULL,
  created_at   DATETIME(6)  NOT NULL,
  KEY ix_execution_logs_stream (execution_id, exec_attempt, job, start_offset)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE execution_logs;
DROP TABLE execution_jobs;
DROP TABLE executions;
DROP TABLE project_files;
DROP TABLE project_versions;
DROP TABLE projects;
DROP TABLE executor_events;
DROP TABLE executors;
