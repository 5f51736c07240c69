-- Security events of anzen itself (logins, changes of users, roles, keys and
-- settings), written by every part through selfaudit.Recorder. Times are Unix
-- milliseconds (UTC).

-- +goose Up
CREATE TABLE audit_security_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          BIGINT  NOT NULL,
    facility_id BIGINT  NOT NULL DEFAULT 0,
    actor_id    BIGINT  NOT NULL DEFAULT 0,
    actor_login TEXT    NOT NULL DEFAULT '',
    action      TEXT    NOT NULL,
    target      TEXT    NOT NULL DEFAULT '',
    outcome     TEXT    NOT NULL CHECK (outcome IN ('success', 'failure')),
    client_addr TEXT    NOT NULL DEFAULT '',
    detail      TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_security_events_at ON audit_security_events (at);
CREATE INDEX audit_security_events_facility_at ON audit_security_events (facility_id, at);
CREATE INDEX audit_security_events_action ON audit_security_events (action);
CREATE INDEX audit_security_events_actor_login ON audit_security_events (actor_login);
-- Serves a facility's newest-first pages (ORDER BY id DESC) without sorting
-- all of the facility's events on every page.
CREATE INDEX audit_security_events_facility_id ON audit_security_events (facility_id, id);

-- +goose Down
DROP TABLE audit_security_events;
