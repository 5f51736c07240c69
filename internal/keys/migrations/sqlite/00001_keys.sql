-- +goose Up
CREATE TABLE keys_keys (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    name                TEXT    NOT NULL UNIQUE,
    purpose             TEXT    NOT NULL,
    algorithm           TEXT    NOT NULL,
    owner               TEXT    NOT NULL DEFAULT '',
    facility_id         BIGINT  NOT NULL DEFAULT 0,
    rotation_period_ms  BIGINT  NOT NULL DEFAULT 0,
    min_decrypt_version INTEGER NOT NULL DEFAULT 1,
    created_at          BIGINT  NOT NULL,
    updated_at          BIGINT  NOT NULL
);

CREATE TABLE keys_versions (
    key_id      BIGINT  NOT NULL REFERENCES keys_keys(id),
    version     INTEGER NOT NULL,
    state       TEXT    NOT NULL,
    root        TEXT    NOT NULL,
    material    TEXT    NOT NULL DEFAULT '',
    hsm_id      TEXT    NOT NULL DEFAULT '',
    public_key  TEXT    NOT NULL DEFAULT '',
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL,
    PRIMARY KEY (key_id, version)
);

CREATE TABLE keys_grants (
    key_id     BIGINT NOT NULL REFERENCES keys_keys(id),
    kind       TEXT   NOT NULL,
    subject    TEXT   NOT NULL,
    operations TEXT   NOT NULL,
    PRIMARY KEY (key_id, kind, subject)
);

CREATE TABLE keys_usage (
    minute   BIGINT  NOT NULL,
    key_id   BIGINT  NOT NULL,
    version  INTEGER NOT NULL,
    op       TEXT    NOT NULL,
    caller   TEXT    NOT NULL,
    outcome  TEXT    NOT NULL,
    count    BIGINT  NOT NULL,
    PRIMARY KEY (minute, key_id, version, op, caller, outcome)
);
CREATE INDEX keys_usage_key ON keys_usage(key_id, minute);

-- +goose Down
DROP TABLE keys_usage;
DROP TABLE keys_grants;
DROP TABLE keys_versions;
DROP TABLE keys_keys;
