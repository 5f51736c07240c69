-- Alerts raised by the rules over the audit log, and the state of the
-- correlation rules. An alert is written in the same transaction as the
-- detection's cursor moves past the events that raised it, so that none is
-- lost and none raised twice; dedup is the alert's identity (the rule and
-- the event for a rule, the correlation, its group and its first event for
-- a correlation).

-- +goose Up
CREATE TABLE detect_alerts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    dedup       TEXT    NOT NULL UNIQUE,
    facility    BIGINT  NOT NULL,
    rule_id     TEXT    NOT NULL,
    title       TEXT    NOT NULL,
    level       INTEGER NOT NULL,
    correlation TEXT    NOT NULL DEFAULT '',
    grp         TEXT    NOT NULL DEFAULT '',
    value       DOUBLE PRECISION NOT NULL DEFAULT 0,
    first_seq   BIGINT  NOT NULL,
    last_seq    BIGINT  NOT NULL,
    seqs        TEXT    NOT NULL,
    total       INTEGER NOT NULL,
    first_time  BIGINT  NOT NULL,
    last_time   BIGINT  NOT NULL,
    created     BIGINT  NOT NULL,
    state       TEXT    NOT NULL DEFAULT 'new'
);
CREATE INDEX detect_alerts_facility_created ON detect_alerts (facility, created);

-- The correlator's open windows, as of the event at seq.
CREATE TABLE detect_state (
    name    TEXT   PRIMARY KEY,
    seq     BIGINT NOT NULL,
    rules   TEXT   NOT NULL,
    state   BLOB   NOT NULL,
    updated BIGINT NOT NULL
);

-- +goose Down
DROP TABLE detect_state;
DROP TABLE detect_alerts;
