-- +goose Up
-- Requests to destroy a key version (crypto-shredding): one administrator
-- asks, a different one approves within 7 days, or it is rejected.
CREATE TABLE keys_destroy_requests (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    key_id          BIGINT  NOT NULL REFERENCES keys_keys(id),
    version         INTEGER NOT NULL,
    reason          TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    requested_by_id BIGINT  NOT NULL,
    requested_by    TEXT    NOT NULL,
    requested_at    BIGINT  NOT NULL,
    expires_at      BIGINT  NOT NULL,
    decided_by_id   BIGINT  NOT NULL DEFAULT 0,
    decided_by      TEXT    NOT NULL DEFAULT '',
    decided_at      BIGINT  NOT NULL DEFAULT 0,
    decision_note   TEXT    NOT NULL DEFAULT ''
);
-- At most one open request per version.
CREATE UNIQUE INDEX keys_destroy_requests_pending ON keys_destroy_requests(key_id, version) WHERE state = 'pending';
CREATE INDEX keys_destroy_requests_state ON keys_destroy_requests(state, requested_at);

-- Certificates issued for signing keys, with the CA-policy facts read from
-- the leaf; chain_pem holds the leaf and the chain as imported.
CREATE TABLE keys_certificates (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    key_id        BIGINT  NOT NULL REFERENCES keys_keys(id),
    version       INTEGER NOT NULL,
    fingerprint   TEXT    NOT NULL,
    serial        TEXT    NOT NULL,
    issuer        TEXT    NOT NULL,
    subject       TEXT    NOT NULL,
    not_before    BIGINT  NOT NULL,
    not_after     BIGINT  NOT NULL,
    policies      TEXT    NOT NULL DEFAULT '',
    hpki_roles    TEXT    NOT NULL DEFAULT '',
    hpki_raw      TEXT    NOT NULL DEFAULT '',
    chain_pem     TEXT    NOT NULL,
    warned_level  INTEGER NOT NULL DEFAULT 0,
    imported_by   TEXT    NOT NULL,
    imported_at   BIGINT  NOT NULL,
    UNIQUE (key_id, fingerprint)
);
CREATE INDEX keys_certificates_expiry ON keys_certificates(not_after);

-- +goose Down
DROP TABLE keys_certificates;
DROP TABLE keys_destroy_requests;
