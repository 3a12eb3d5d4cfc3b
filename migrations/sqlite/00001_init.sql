-- +goose Up
CREATE TABLE executors (
  id             INTEGER      PRIMARY KEY AUTOINCREMENT,
  name           VARCHAR(255) NOT NULL,
  host           VARCHAR(255) NOT NULL,
  port           INT          NOT NULL,
  active         INTEGER      NOT NULL DEFAULT 0,
  labels         TEXT         NOT NULL,
  max_flows      INT          NOT NULL DEFAULT 0,
  version        VARCHAR(64)  NOT NULL DEFAULT '',
  started_at     TEXT         NULL,
  stopped_at     TEXT         NULL,
  last_heartbeat TEXT         NULL,
  clock_skew_ms  BIGINT       NOT NULL DEFAULT 0,
  running_flows  INT          NOT NULL DEFAULT 0,
  load1          DOUBLE       NOT NULL DEFAULT 0,
  created_at     TEXT         NOT NULL
);
CREATE UNIQUE INDEX uq_executors_host_port ON executors (host, port);

CREATE TABLE executor_events (
  id          INTEGER      PRIMARY KEY AUTOINCREMENT,
  executor_id BIGINT       NOT NULL,
  type        VARCHAR(32)  NOT NULL,
  actor       VARCHAR(255) NOT NULL DEFAULT '',
  message     TEXT         NOT NULL,
  created_at  TEXT         NOT NULL
);
CREATE INDEX ix_executor_events_executor ON executor_events (executor_id, id);

CREATE TABLE projects (
  id             INTEGER      PRIMARY KEY AUTOINCREMENT,
  name           VARCHAR(255) NOT NULL,
  latest_version INT          NOT NULL DEFAULT 0,
  created_at     TEXT         NOT NULL,
  updated_at     TEXT         NOT NULL
);
CREATE UNIQUE INDEX uq_projects_name ON projects (name);

CREATE TABLE project_versions (
  project_id  BIGINT       NOT NULL,
  version     INT          NOT NULL,
  sha256      CHAR(64)     NOT NULL,
  size        BIGINT       NOT NULL,
  format      VARCHAR(16)  NOT NULL,
  flows       TEXT         NOT NULL,
  uploaded_by VARCHAR(255) NOT NULL DEFAULT '',
  created_at  TEXT         NOT NULL,
  PRIMARY KEY (project_id, version)
);

CREATE TABLE project_files (
  project_id BIGINT     NOT NULL,
  version    INT        NOT NULL,
  chunk      INT        NOT NULL,
  data       BLOB       NOT NULL,
  PRIMARY KEY (project_id, version, chunk)
);

CREATE TABLE executions (
  id                 INTEGER      PRIMARY KEY AUTOINCREMENT,
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
  submit_time        TEXT         NOT NULL,
  not_before         TEXT         NULL,
  dispatched_time    TEXT         NULL,
  start_time         TEXT         NULL,
  end_time           TEXT         NULL,
  wait_reason        TEXT         NOT NULL,
  error              TEXT         NOT NULL,
  kill_reason        TEXT         NOT NULL,
  updated_at         TEXT         NOT NULL
);
CREATE INDEX ix_executions_queue ON executions (status, priority, id);
CREATE INDEX ix_executions_executor ON executions (executor_id, status, attempt);
CREATE INDEX ix_executions_flow ON executions (project, flow, status);

CREATE TABLE execution_jobs (
  execution_id BIGINT       NOT NULL,
  job          VARCHAR(512) NOT NULL,
  exec_attempt INT          NOT NULL,
  type         VARCHAR(16)  NOT NULL,
  status       VARCHAR(16)  NOT NULL,
  attempt      INT          NOT NULL DEFAULT 0,
  start_time   TEXT         NULL,
  end_time     TEXT         NULL,
  exit_code    INT          NULL,
  error        TEXT         NOT NULL,
  PRIMARY KEY (execution_id, exec_attempt, job)
);

CREATE TABLE execution_logs (
  id           INTEGER      PRIMARY KEY AUTOINCREMENT,
  execution_id BIGINT       NOT NULL,
  job          VARCHAR(512) NOT NULL,
  exec_attempt INT          NOT NULL,
  attempt      INT          NOT NULL,
  start_offset BIGINT       NOT NULL,
  data         BLOB         NOT NULL,
  created_at   TEXT         NOT NULL
);
CREATE INDEX ix_execution_logs_stream ON execution_logs (execution_id, exec_attempt, job, start_offset);

-- +goose Down
DROP TABLE execution_logs;
DROP TABLE execution_jobs;
DROP TABLE executions;
DROP TABLE project_files;
DROP TABLE project_versions;
DROP TABLE projects;
DROP TABLE executor_events;
DROP TABLE executors;
