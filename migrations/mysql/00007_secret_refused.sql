-- +goose Up
-- An executor that refused a web server's cluster secret (a wrong one, or
-- none): when, and why in words. While set, no web server offers it work;
-- the first call it accepts clears it. Recorded here so every web server
-- sees it.
ALTER TABLE executors ADD COLUMN secret_refused_at DATETIME(6) NULL;
ALTER TABLE executors ADD COLUMN secret_refused VARCHAR(255) NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE executors DROP COLUMN secret_refused;
ALTER TABLE executors DROP COLUMN secret_refused_at;
