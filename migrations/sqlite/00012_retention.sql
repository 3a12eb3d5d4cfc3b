-- +goose Up
-- Indexes for retention's batched deletes (see the MySQL migration).
CREATE INDEX ix_executions_end ON executions (end_time);
CREATE INDEX ix_execution_logs_created ON execution_logs (created_at);
CREATE INDEX ix_executor_events_created ON executor_events (created_at);
CREATE INDEX ix_alerts_finished ON alerts (finished_at);

-- +goose Down
DROP INDEX ix_alerts_finished;
DROP INDEX ix_executor_events_created;
DROP INDEX ix_execution_logs_created;
DROP INDEX ix_executions_end;
