-- The compliance part's records: the checks' runs (every run is kept; the
-- latest of each check per facility is pointed to by
-- compliance_check_latest), each facility's settings of a control (owner,
-- implementation state, note), the attestations (manual evidence, with
-- the file itself), the renewal reminders already sent, the checklist's
-- answers (the latest per question; the audit log keeps the history), the
-- fiscal year's snapshots and the daily readiness counts for the trend.
-- Times are Unix milliseconds (UTC); a date is its midnight UTC; 0 means
-- not set.

-- +goose Up
CREATE TABLE compliance_check_runs (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    facility  BIGINT NOT NULL,
    check_id  TEXT   NOT NULL,
    status    TEXT   NOT NULL,             -- pass, warning, fail, na
    detail_id TEXT   NOT NULL DEFAULT '',
    data      TEXT   NOT NULL DEFAULT '{}', -- JSON: the figures of the detail
    links     TEXT   NOT NULL DEFAULT '[]', -- JSON: where to see or fix it
    error     TEXT   NOT NULL DEFAULT '',  -- the check could not run
    ran_at    BIGINT NOT NULL,
    took_ns   BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX compliance_check_runs_check ON compliance_check_runs (facility, check_id, id);

CREATE TABLE compliance_check_latest (
    facility BIGINT NOT NULL,
    check_id TEXT   NOT NULL,
    run_id   BIGINT NOT NULL REFERENCES compliance_check_runs (id),
    ran_at   BIGINT NOT NULL,
    PRIMARY KEY (facility, check_id)
);

CREATE TABLE compliance_controls (
    facility   BIGINT NOT NULL,
    control_id TEXT   NOT NULL,
    owner      TEXT   NOT NULL DEFAULT '', -- login
    impl       TEXT   NOT NULL DEFAULT 'not_started',
    note       TEXT   NOT NULL DEFAULT '',
    updated    BIGINT NOT NULL,
    updated_by TEXT   NOT NULL,
    PRIMARY KEY (facility, control_id)
);

CREATE TABLE compliance_attestations (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    facility     BIGINT NOT NULL,
    control_id   TEXT   NOT NULL,
    evidence_id  TEXT   NOT NULL DEFAULT '',
    title        TEXT   NOT NULL,
    note         TEXT   NOT NULL DEFAULT '',
    file_name    TEXT   NOT NULL,
    content_type TEXT   NOT NULL,
    size         BIGINT NOT NULL,
    sha256       TEXT   NOT NULL,
    effective_on BIGINT NOT NULL,
    expires_on   BIGINT NOT NULL DEFAULT 0,
    uploaded_by  TEXT   NOT NULL,
    uploaded_at  BIGINT NOT NULL,
    state        TEXT   NOT NULL DEFAULT 'pending', -- pending, approved, rejected
    decided_by   TEXT   NOT NULL DEFAULT '',
    decided_at   BIGINT NOT NULL DEFAULT 0,
    reason       TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX compliance_attestations_control ON compliance_attestations (facility, control_id, id);
CREATE INDEX compliance_attestations_expiry ON compliance_attestations (state, expires_on);

-- The files apart from their descriptions, so that reading the list of
-- attestations never walks through their bytes.
CREATE TABLE compliance_attestation_files (
    attestation_id BIGINT PRIMARY KEY REFERENCES compliance_attestations (id),
    content        BYTEA NOT NULL
);

CREATE TABLE compliance_reminders (
    attestation_id BIGINT NOT NULL REFERENCES compliance_attestations (id),
    kind           TEXT   NOT NULL, -- near_expiry, expired
    sent           BIGINT NOT NULL,
    PRIMARY KEY (attestation_id, kind)
);

CREATE TABLE compliance_answers (
    facility    BIGINT NOT NULL,
    framework   TEXT   NOT NULL,
    ref         TEXT   NOT NULL,
    value       TEXT   NOT NULL, -- yes (はい), no (いいえ)
    checked_on  BIGINT NOT NULL,
    target_on   BIGINT NOT NULL DEFAULT 0,
    note        TEXT   NOT NULL DEFAULT '',
    answered_by TEXT   NOT NULL,
    answered_at BIGINT NOT NULL,
    PRIMARY KEY (facility, framework, ref)
);

CREATE TABLE compliance_snapshots (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    facility    BIGINT  NOT NULL,
    fiscal_year INTEGER NOT NULL,
    note        TEXT    NOT NULL DEFAULT '',
    taken_at    BIGINT  NOT NULL,
    taken_by    TEXT    NOT NULL,
    state       TEXT    NOT NULL, -- JSON: the whole State
    sha256      TEXT    NOT NULL  -- of state
);
CREATE INDEX compliance_snapshots_facility ON compliance_snapshots (facility, id);

CREATE TABLE compliance_day_scores (
    facility BIGINT NOT NULL,
    day      BIGINT NOT NULL,
    counts   TEXT   NOT NULL, -- JSON: readiness → items
    total    INTEGER NOT NULL,
    PRIMARY KEY (facility, day)
);

-- +goose Down
DROP TABLE compliance_day_scores;
DROP TABLE compliance_snapshots;
DROP TABLE compliance_answers;
DROP TABLE compliance_reminders;
DROP TABLE compliance_attestation_files;
DROP TABLE compliance_attestations;
DROP TABLE compliance_controls;
DROP TABLE compliance_check_latest;
DROP TABLE compliance_check_runs;
