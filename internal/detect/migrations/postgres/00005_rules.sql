-- The hospital's rules kept in the database (imported from the pages or
-- the API), the settings of every rule whatever its source (built-in pack,
-- detect.rules file, stored), and the generation of both, which every
-- change raises in the same transaction so that each engine (of this
-- instance or another) sees at its next batch that its rule set is old.

-- +goose Up
CREATE TABLE detect_rules (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    yaml      TEXT   NOT NULL,
    rule_keys TEXT   NOT NULL,
    added_by  TEXT   NOT NULL,
    added_at  BIGINT NOT NULL
);
CREATE TABLE detect_rule_settings (
    rule_key   TEXT    NOT NULL PRIMARY KEY,
    enabled    INTEGER NOT NULL DEFAULT 1,
    level      TEXT    NOT NULL DEFAULT '',
    tags       TEXT    NOT NULL DEFAULT '',
    updated_by TEXT    NOT NULL,
    updated_at BIGINT  NOT NULL
);
CREATE TABLE detect_rules_generation (
    id  INTEGER NOT NULL PRIMARY KEY,
    gen BIGINT  NOT NULL
);
INSERT INTO detect_rules_generation (id, gen) VALUES (1, 0);

-- +goose Down
DROP TABLE detect_rules_generation;
DROP TABLE detect_rule_settings;
DROP TABLE detect_rules;
