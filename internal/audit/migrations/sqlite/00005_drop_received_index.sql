-- The log's index on the time received served no query (retention reads a
-- segment by position and takes the newest time among its rows) and cost
-- every append an insert into it.

-- +goose Up
DROP INDEX audit_log_received;

-- +goose Down
CREATE INDEX audit_log_received ON audit_log (received);
