-- +goose Up
-- A job's output properties (the JSON object it wrote to
-- $JOB_OUTPUT_PROP_FILE), kept when it succeeds so that a retry of its
-- execution can hand them to the jobs it runs again.
ALTER TABLE execution_jobs ADD COLUMN outputs MEDIUMTEXT NULL;

-- A retry (`crawlctl exec retry ID`) is a new execution: retry_of is the
-- execution it retries; reused holds, for a --failed-only retry, the jobs
-- that succeeded before and are not run again, with their output
-- properties (a JSON object: job path -> properties).
ALTER TABLE executions
  ADD COLUMN retry_of BIGINT     NULL,
  ADD COLUMN reused   MEDIUMTEXT NULL;

-- +goose Down
ALTER TABLE executions DROP COLUMN retry_of, DROP COLUMN reused;
ALTER TABLE execution_jobs DROP COLUMN outputs;
