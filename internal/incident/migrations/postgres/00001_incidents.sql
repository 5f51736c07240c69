-- Incidents and what a CSIRT keeps of each: the timeline (an entry for
-- every change, made by anzen, and the handlers' own notes), the tasks
-- (also a drill's follow-up tasks, incident_id NULL), the observables,
-- the evidence with its chain of custody, and the links to audit entries
-- and alerts. Times are Unix milliseconds (UTC); 0 means not set.

-- +goose Up
CREATE TABLE incident_incidents (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    facility         BIGINT  NOT NULL,
    kind             TEXT    NOT NULL,
    severity         TEXT    NOT NULL,
    state            TEXT    NOT NULL DEFAULT 'new',
    title            TEXT    NOT NULL,
    summary          TEXT    NOT NULL DEFAULT '',
    aware_at         BIGINT  NOT NULL,             -- when the hospital became aware: the reporting clocks start here
    occurred_at      BIGINT  NOT NULL DEFAULT 0,
    created          BIGINT  NOT NULL,
    created_by       TEXT    NOT NULL,
    updated          BIGINT  NOT NULL,
    closed           BIGINT  NOT NULL DEFAULT 0,
    resolution       TEXT    NOT NULL DEFAULT '',
    commander        TEXT    NOT NULL DEFAULT '',  -- login of who leads the response
    affected_systems TEXT    NOT NULL DEFAULT '',
    affected_data    TEXT    NOT NULL DEFAULT '',
    people           BIGINT  NOT NULL DEFAULT 0,   -- estimated number of people whose data is affected
    medical_data     INTEGER NOT NULL DEFAULT 0,   -- medical (special care-required) personal data is involved
    leak             TEXT    NOT NULL DEFAULT 'none', -- none, possible, confirmed
    malicious        INTEGER NOT NULL DEFAULT 0,   -- caused with malicious intent (PPC final report: 60 days)
    crime            INTEGER NOT NULL DEFAULT 0,   -- a crime is suspected (police)
    cyberattack      INTEGER NOT NULL DEFAULT 0,   -- a cyberattack is suspected (vendor, MHLW)
    care_impact      INTEGER NOT NULL DEFAULT 0,   -- the delivery of care is or may be impaired (MHLW)
    encrypted        INTEGER NOT NULL DEFAULT 0,   -- the data was under advanced encryption (PPC exemption)
    source_alert     BIGINT  UNIQUE                -- the alert it was escalated from
);
CREATE INDEX incident_incidents_facility ON incident_incidents (facility, id);
CREATE INDEX incident_incidents_state ON incident_incidents (state, id);

CREATE TABLE incident_timeline (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id BIGINT  NOT NULL REFERENCES incident_incidents (id),
    at          BIGINT  NOT NULL,
    actor       TEXT    NOT NULL,
    auto        INTEGER NOT NULL,   -- 1: written by anzen for a change; 0: a handler's entry
    action      TEXT    NOT NULL,   -- what changed (state, severity, task.done, ...) or "note"
    text        TEXT    NOT NULL DEFAULT '',
    detail      TEXT    NOT NULL DEFAULT '{}' -- JSON: the values before and after
);
CREATE INDEX incident_timeline_incident ON incident_timeline (incident_id, at, id);

CREATE TABLE incident_tasks (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    facility    BIGINT  NOT NULL,
    incident_id BIGINT  REFERENCES incident_incidents (id),
    drill_id    BIGINT,
    phase       TEXT    NOT NULL DEFAULT '',  -- the incident state it belongs to
    title       TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    owner       TEXT    NOT NULL DEFAULT '',  -- login
    due         BIGINT  NOT NULL DEFAULT 0,
    state       TEXT    NOT NULL DEFAULT 'open', -- open, done, cancelled
    done_at     BIGINT  NOT NULL DEFAULT 0,
    done_by     TEXT    NOT NULL DEFAULT '',
    source      TEXT    NOT NULL DEFAULT 'manual', -- manual, playbook:<kind>, lesson
    position    INTEGER NOT NULL DEFAULT 0,
    created     BIGINT  NOT NULL,
    reminded    BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX incident_tasks_incident ON incident_tasks (incident_id, position, id);
CREATE INDEX incident_tasks_due ON incident_tasks (state, due);

CREATE TABLE incident_observables (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id BIGINT  NOT NULL REFERENCES incident_incidents (id),
    kind        TEXT    NOT NULL,   -- ip, domain, url, sha256, sha1, md5, email, account, host, file, other
    value       TEXT    NOT NULL,
    note        TEXT    NOT NULL DEFAULT '',
    ioc         INTEGER NOT NULL DEFAULT 0,
    created     BIGINT  NOT NULL,
    created_by  TEXT    NOT NULL,
    UNIQUE (incident_id, kind, value)
);
CREATE INDEX incident_observables_value ON incident_observables (kind, value);

CREATE TABLE incident_evidence (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id  BIGINT  NOT NULL REFERENCES incident_incidents (id),
    name         TEXT    NOT NULL,
    media_type   TEXT    NOT NULL,
    size         BIGINT  NOT NULL,
    sha256       TEXT    NOT NULL,
    content      BYTEA   NOT NULL,
    description  TEXT    NOT NULL DEFAULT '',
    collected_at BIGINT  NOT NULL,
    collected_by TEXT    NOT NULL,
    holder       TEXT    NOT NULL,  -- who holds the original now
    created      BIGINT  NOT NULL
);
CREATE INDEX incident_evidence_incident ON incident_evidence (incident_id, id);

CREATE TABLE incident_custody (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    evidence_id BIGINT  NOT NULL REFERENCES incident_evidence (id),
    at          BIGINT  NOT NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,   -- collected, transferred, downloaded, verified
    from_holder TEXT    NOT NULL DEFAULT '',
    to_holder   TEXT    NOT NULL DEFAULT '',
    note        TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX incident_custody_evidence ON incident_custody (evidence_id, id);

CREATE TABLE incident_links (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id BIGINT  NOT NULL REFERENCES incident_incidents (id),
    kind        TEXT    NOT NULL,   -- alert, audit (an audit-log sequence number)
    target      BIGINT  NOT NULL,
    note        TEXT    NOT NULL DEFAULT '',
    at          BIGINT  NOT NULL,
    by_login    TEXT    NOT NULL,
    UNIQUE (incident_id, kind, target)
);

-- +goose Down
DROP TABLE incident_links;
DROP TABLE incident_custody;
DROP TABLE incident_evidence;
DROP TABLE incident_observables;
DROP TABLE incident_tasks;
DROP TABLE incident_timeline;
DROP TABLE incident_incidents;
