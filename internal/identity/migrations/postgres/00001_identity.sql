-- +goose Up
CREATE TABLE identity_facilities (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code       TEXT    NOT NULL UNIQUE,
    name_ja    TEXT    NOT NULL,
    name_en    TEXT    NOT NULL,
    created_at BIGINT  NOT NULL
);

CREATE TABLE identity_users (
    id                   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    facility_id          BIGINT  NOT NULL REFERENCES identity_facilities(id),
    login                TEXT    NOT NULL UNIQUE,
    name                 TEXT    NOT NULL,
    name_kana            TEXT    NOT NULL DEFAULT '',
    department           TEXT    NOT NULL DEFAULT '',
    profession           TEXT    NOT NULL,
    status               TEXT    NOT NULL DEFAULT 'active',
    valid_from           BIGINT  NOT NULL DEFAULT 0,
    valid_until          BIGINT  NOT NULL DEFAULT 0,
    lang                 TEXT    NOT NULL DEFAULT '',
    password_hash        TEXT    NOT NULL DEFAULT '',
    password_long        INTEGER NOT NULL DEFAULT 0,
    password_changed_at  BIGINT  NOT NULL DEFAULT 0,
    must_change_password INTEGER NOT NULL DEFAULT 1,
    failed_count         INTEGER NOT NULL DEFAULT 0,
    locked_until         BIGINT  NOT NULL DEFAULT 0,
    last_login_at        BIGINT  NOT NULL DEFAULT 0,
    created_at           BIGINT  NOT NULL,
    updated_at           BIGINT  NOT NULL
);
CREATE INDEX identity_users_facility ON identity_users(facility_id);

CREATE TABLE identity_grants (
    user_id     BIGINT NOT NULL REFERENCES identity_users(id) ON DELETE CASCADE,
    role        TEXT   NOT NULL,
    facility_id BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, role, facility_id)
);

CREATE TABLE identity_password_history (
    user_id    BIGINT NOT NULL REFERENCES identity_users(id) ON DELETE CASCADE,
    hash       TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX identity_password_history_user ON identity_password_history(user_id, created_at);

CREATE TABLE identity_password_resets (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES identity_users(id) ON DELETE CASCADE,
    reset_by    TEXT   NOT NULL,
    method      TEXT   NOT NULL,
    note        TEXT   NOT NULL DEFAULT '',
    at          BIGINT NOT NULL
);

CREATE TABLE identity_totp (
    user_id    BIGINT  PRIMARY KEY REFERENCES identity_users(id) ON DELETE CASCADE,
    secret     TEXT    NOT NULL,
    confirmed  INTEGER NOT NULL DEFAULT 0,
    last_step  BIGINT  NOT NULL DEFAULT 0,
    created_at BIGINT  NOT NULL
);

CREATE TABLE identity_webauthn (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       BIGINT NOT NULL REFERENCES identity_users(id) ON DELETE CASCADE,
    credential_id TEXT   NOT NULL UNIQUE,
    name          TEXT   NOT NULL,
    credential    TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX identity_webauthn_user ON identity_webauthn(user_id);

CREATE TABLE identity_recovery_codes (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES identity_users(id) ON DELETE CASCADE,
    code_hash  TEXT   NOT NULL,
    used_at    BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE INDEX identity_recovery_codes_user ON identity_recovery_codes(user_id);

CREATE TABLE identity_sessions (
    id_hash      TEXT    PRIMARY KEY,
    user_id      BIGINT  NOT NULL REFERENCES identity_users(id) ON DELETE CASCADE,
    stage        INTEGER NOT NULL,
    mfa_method   TEXT    NOT NULL DEFAULT '',
    challenge    TEXT    NOT NULL DEFAULT '',
    client_addr  TEXT    NOT NULL DEFAULT '',
    user_agent   TEXT    NOT NULL DEFAULT '',
    created_at   BIGINT  NOT NULL,
    last_seen_at BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL
);
CREATE INDEX identity_sessions_user ON identity_sessions(user_id);

CREATE TABLE identity_tokens (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         TEXT   NOT NULL,
    facility_id  BIGINT NOT NULL DEFAULT 0,
    scopes       TEXT   NOT NULL,
    token_hash   TEXT   NOT NULL UNIQUE,
    prefix       TEXT   NOT NULL,
    created_by   TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL DEFAULT 0,
    last_used_at BIGINT NOT NULL DEFAULT 0,
    revoked_at   BIGINT NOT NULL DEFAULT 0
);

-- +goose Down
DROP TABLE identity_tokens;
DROP TABLE identity_sessions;
DROP TABLE identity_recovery_codes;
DROP TABLE identity_webauthn;
DROP TABLE identity_totp;
DROP TABLE identity_password_resets;
DROP TABLE identity_password_history;
DROP TABLE identity_grants;
DROP TABLE identity_users;
DROP TABLE identity_facilities;
