-- +goose Up
-- The dispatcher takes QUEUED rows by priority (highest first), then id: an
-- index in that order lets it read only the rows it takes instead of sorting
-- (and locking) the whole queue.
DROP INDEX ix_executions_queue ON executions;
CREATE INDEX ix_executions_queue ON executions (status, priority DESC, id);

-- +goose Down
DROP INDEX ix_executions_queue ON executions;
CREATE INDEX ix_executions_queue ON executions (status, priority, id);
