-- +goose Up
DROP INDEX ix_executions_queue;
CREATE INDEX ix_executions_queue ON executions (status, priority DESC, id);

-- +goose Down
DROP INDEX ix_executions_queue;
CREATE INDEX ix_executions_queue ON executions (status, priority, id);
