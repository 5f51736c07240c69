-- +goose Up
CREATE TABLE items (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_ms BIGINT NOT NULL DEFAULT 0
);

-- +goose Down
DROP TABLE items;
