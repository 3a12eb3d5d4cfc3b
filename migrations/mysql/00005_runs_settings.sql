-- +goose Up
-- runs counts the times an execution actually started (a claim), which is
-- what users see as its attempt; executions.attempt stays the internal
-- fencing token that every dispatch and re-queue bumps.
ALTER TABLE executions ADD COLUMN runs INT NOT NULL DEFAULT 0;
UPDATE executions SET runs = 1 WHERE start_time IS NOT NULL;

-- The lease an executor granted itself at its last heartbeat: the reaper
-- never declares it lost before the lease could have run out.
ALTER TABLE executors ADD COLUMN lease_ms BIGINT NOT NULL DEFAULT 0;

-- Settings the whole cluster must agree on, such as the offline threshold
-- that web servers reap by and executors size their lease from.
CREATE TABLE cluster_settings (
  name       VARCHAR(64)  NOT NULL PRIMARY KEY,
  value      VARCHAR(255) NOT NULL,
  updated_at DATETIME(6)  NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE cluster_settings;
ALTER TABLE executors DROP COLUMN lease_ms;
ALTER TABLE executions DROP COLUMN runs;
