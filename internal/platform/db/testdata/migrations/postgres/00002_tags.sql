-- +goose Up
CREATE TABLE tags (
    id      BIGSERIAL PRIMARY KEY,
    item_id BIGINT NOT NULL REFERENCES items (id),
    tag     TEXT NOT NULL,
    seen_ms BIGINT
);

-- +goose Down
DROP TABLE tags;
