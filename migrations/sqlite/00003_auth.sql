-- +goose Up
CREATE TABLE users (
  id            INTEGER      PRIMARY KEY AUTOINCREMENT,
  name          VARCHAR(255) NOT NULL,
  role          VARCHAR(16)  NOT NULL,
  password_hash VARCHAR(255) NOT NULL,
  created_at    TEXT         NOT NULL
);
CREATE UNIQUE INDEX uq_users_name ON users (name);

CREATE TABLE api_tokens (
  id           INTEGER      PRIMARY KEY AUTOINCREMENT,
  user_id      BIGINT       NOT NULL,
  name         VARCHAR(255) NOT NULL,
  token_hash   CHAR(64)     NOT NULL,
  prefix       VARCHAR(16)  NOT NULL,
  created_at   TEXT         NOT NULL,
  expires_at   TEXT         NULL,
  revoked_at   TEXT         NULL
);
CREATE UNIQUE INDEX uq_api_tokens_hash ON api_tokens (token_hash);
CREATE INDEX ix_api_tokens_user ON api_tokens (user_id);

ALTER TABLE executors ADD COLUMN tls INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE executors DROP COLUMN tls;
DROP TABLE api_tokens;
DROP TABLE users;
