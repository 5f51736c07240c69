-- The tamper-evident log (guideline 6.5 (3), chapter 7): every access event
-- of every system, and anzen's own security events, as leaves of one RFC 6962
-- Merkle tree with signed checkpoints. Times are Unix milliseconds (UTC).

-- +goose Up
-- The log proper: one canonical entry per position (seq = leaf index, from 0)
-- and its leaf hash SHA-256(0x00 || seq || entry). Never updated, never
-- deleted except by retention, which archives first.
CREATE TABLE audit_log (
    seq      INTEGER PRIMARY KEY,
    received BIGINT NOT NULL,
    leaf     BLOB   NOT NULL,
    entry    BLOB   NOT NULL
);
CREATE INDEX audit_log_received ON audit_log (received);

-- Interior nodes of the tree at levels 4, 8, 12, ... (every fourth level), so
-- that any node, proof or the tree's right edge is a few small reads away.
CREATE TABLE audit_tree (
    level INTEGER NOT NULL,
    idx   BIGINT  NOT NULL,
    hash  BLOB    NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;

-- The tree head: how many leaves, their root, the log's origin line. One row,
-- locked by every append so that several writers take turns.
CREATE TABLE audit_head (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    size    BIGINT  NOT NULL,
    root    BLOB    NOT NULL,
    origin  TEXT    NOT NULL DEFAULT '',
    updated BIGINT  NOT NULL DEFAULT 0
);
INSERT INTO audit_head (id, size, root) VALUES (1, 0, X'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');

-- Signed checkpoints (C2SP tlog-checkpoint signed notes).
CREATE TABLE audit_checkpoints (
    size      BIGINT PRIMARY KEY,
    root      BLOB   NOT NULL,
    signed_at BIGINT NOT NULL,
    note      TEXT   NOT NULL
);

-- anzen's own security events wait here, written in the transaction of the
-- change they record, until the sequencer appends them to the log.
CREATE TABLE audit_outbox (
    id    INTEGER PRIMARY KEY AUTOINCREMENT,
    at    BIGINT NOT NULL,
    entry BLOB   NOT NULL
);

-- Where each reader of the log (the search index, detection, ...) has got to:
-- the last sequence number it has processed.
CREATE TABLE audit_cursors (
    name    TEXT   PRIMARY KEY,
    seq     BIGINT NOT NULL,
    updated BIGINT NOT NULL
);

-- The search index, kept by a reader of the log. Derived data: verification
-- compares it with the log.
CREATE TABLE audit_index (
    seq         INTEGER PRIMARY KEY,
    facility_id BIGINT  NOT NULL,
    at          BIGINT  NOT NULL,
    received    BIGINT  NOT NULL,
    source      TEXT    NOT NULL,
    actor_id    TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    outcome     TEXT    NOT NULL,
    patient_id  TEXT    NOT NULL,
    object      TEXT    NOT NULL,
    address     TEXT    NOT NULL,
    flags       INTEGER NOT NULL
);
CREATE INDEX audit_index_patient ON audit_index (patient_id, seq);
CREATE INDEX audit_index_actor ON audit_index (actor_id, seq);
CREATE INDEX audit_index_action ON audit_index (action, seq);
CREATE INDEX audit_index_source ON audit_index (source, seq);
CREATE INDEX audit_index_facility ON audit_index (facility_id, seq);
CREATE INDEX audit_index_at ON audit_index (at);

-- Every system that has sent events: when it was last heard from and how far
-- its clock was off.
CREATE TABLE audit_sources (
    facility_id    BIGINT NOT NULL,
    source         TEXT   NOT NULL,
    first_received BIGINT NOT NULL,
    last_received  BIGINT NOT NULL,
    last_at        BIGINT NOT NULL,
    last_skew_ms   BIGINT NOT NULL,
    events         BIGINT NOT NULL,
    skewed         BIGINT NOT NULL,
    PRIMARY KEY (facility_id, source)
);

-- Results of verifying the log (anzen audit verify and the daily job).
CREATE TABLE audit_verifications (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    started    BIGINT  NOT NULL,
    finished   BIGINT  NOT NULL,
    from_seq   BIGINT  NOT NULL,
    size       BIGINT  NOT NULL,
    checkpoints BIGINT NOT NULL,
    ok         INTEGER NOT NULL,
    first_bad  BIGINT  NOT NULL DEFAULT -1,
    problem    TEXT    NOT NULL DEFAULT '',
    via        TEXT    NOT NULL DEFAULT ''
);

-- Segments of events past retention, archived to signed, compressed files
-- before they left the database.
CREATE TABLE audit_segments (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    first_seq BIGINT NOT NULL UNIQUE,
    end_seq   BIGINT NOT NULL,
    file      TEXT   NOT NULL,
    sha256    TEXT   NOT NULL,
    manifest  TEXT   NOT NULL,
    created   BIGINT NOT NULL
);

-- Checkpoints sent to outside witnesses (mail, webhook) and how it went.
CREATE TABLE audit_witness_deliveries (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    size       BIGINT NOT NULL,
    target     TEXT   NOT NULL,
    status     TEXT   NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT   NOT NULL DEFAULT '',
    updated    BIGINT NOT NULL
);
CREATE INDEX audit_witness_deliveries_size ON audit_witness_deliveries (size);

-- The security events table of the first version becomes a source of log
-- entries: anzen moves its rows onto the log at the next start, then drops it.
ALTER TABLE audit_security_events RENAME TO audit_legacy_security_events;

-- +goose Down
ALTER TABLE audit_legacy_security_events RENAME TO audit_security_events;
DROP TABLE audit_witness_deliveries;
DROP TABLE audit_segments;
DROP TABLE audit_verifications;
DROP TABLE audit_sources;
DROP TABLE audit_index;
DROP TABLE audit_cursors;
DROP TABLE audit_outbox;
DROP TABLE audit_checkpoints;
DROP TABLE audit_head;
DROP TABLE audit_tree;
DROP TABLE audit_log;
