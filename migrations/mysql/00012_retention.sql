-- +goose Up
-- Retention (every web server's prune loop and `crawlctl prune`) deletes old
-- rows in batches of at most 500, each batch its own short transaction. These
-- indexes let a batch find the oldest deletable rows by reading only those,
-- in age order, instead of scanning (and locking) the whole table. None
-- starts with a status column: a status change (every claim, every end)
-- would have to move an entry in each, and the locking statements that pick
-- rows by status could choose them.
CREATE INDEX ix_executions_end ON executions (end_time);
CREATE INDEX ix_execution_logs_created ON execution_logs (created_at);
CREATE INDEX ix_executor_events_created ON executor_events (created_at);
CREATE INDEX ix_alerts_finished ON alerts (finished_at);

-- +goose Down
DROP INDEX ix_alerts_finished ON alerts;
DROP INDEX ix_executor_events_created ON executor_events;
DROP INDEX ix_execution_logs_created ON execution_logs;
DROP INDEX ix_executions_end ON executions;
