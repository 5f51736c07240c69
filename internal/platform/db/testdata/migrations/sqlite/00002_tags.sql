-- +goose Up
CREATE TABLE tags (
    id      INTEGER PRIMARY KEY,
    item_id INTEGER NOT NULL REFERENCES items (id),
    tag     TEXT NOT NULL,
    seen_ms BIGINT
);

-- +goose Down
DROP TABLE tags;
