-- What prepares the hospital for an incident (guideline 6.10): the
-- playbooks a facility has edited (the built-in ones live in the
-- program), the information-system BCP in versions with its offline
-- procedures, the backup attestations and the drills. A drill's lessons
-- are tasks in incident_tasks (drill_id set, incident_id NULL).
-- Times are Unix milliseconds (UTC); 0 means not set.

-- +goose Up
CREATE TABLE incident_playbooks (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    facility   BIGINT NOT NULL,
    kind       TEXT   NOT NULL,
    tasks      TEXT   NOT NULL,   -- JSON: the task templates, in order
    updated    BIGINT NOT NULL,
    updated_by TEXT   NOT NULL,
    UNIQUE (facility, kind)
);

CREATE TABLE incident_bcp_versions (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    facility    BIGINT NOT NULL,
    version     BIGINT NOT NULL,
    sections    TEXT   NOT NULL,   -- JSON: section key -> text
    created     BIGINT NOT NULL,
    created_by  TEXT   NOT NULL,
    note        TEXT   NOT NULL DEFAULT '',
    approved_by TEXT   NOT NULL DEFAULT '',
    approved_at BIGINT NOT NULL DEFAULT 0,
    UNIQUE (facility, version)
);

CREATE TABLE incident_offline_procedures (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    facility   BIGINT NOT NULL,
    department TEXT   NOT NULL,
    title      TEXT   NOT NULL,
    body       TEXT   NOT NULL DEFAULT '',
    updated    BIGINT NOT NULL,
    updated_by TEXT   NOT NULL
);
CREATE INDEX incident_offline_procedures_facility ON incident_offline_procedures (facility, department, id);

CREATE TABLE incident_backups (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    facility          BIGINT  NOT NULL,
    system            TEXT    NOT NULL,
    generation        BIGINT  NOT NULL,
    taken_at          BIGINT  NOT NULL,
    method            TEXT    NOT NULL,   -- disk, tape, cloud, optical, other
    offline           INTEGER NOT NULL DEFAULT 0,
    immutable         INTEGER NOT NULL DEFAULT 0,
    restore_tested_at BIGINT  NOT NULL DEFAULT 0,
    restore_result    TEXT    NOT NULL DEFAULT '',  -- '', ok, partial, failed
    note              TEXT    NOT NULL DEFAULT '',
    attested_by       TEXT    NOT NULL,
    created           BIGINT  NOT NULL
);
CREATE INDEX incident_backups_facility ON incident_backups (facility, system, taken_at);

CREATE TABLE incident_drills (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    facility      BIGINT NOT NULL,
    held_at       BIGINT NOT NULL,
    kind          TEXT   NOT NULL,   -- tabletop, functional, full_scale
    title         TEXT   NOT NULL,
    scenario      TEXT   NOT NULL DEFAULT '',
    scenario_kind TEXT   NOT NULL DEFAULT '',  -- an incident kind, or ''
    participants  TEXT   NOT NULL DEFAULT '[]', -- JSON: [{name, role}]
    minutes       BIGINT NOT NULL DEFAULT 0,
    findings      TEXT   NOT NULL DEFAULT '',
    created       BIGINT NOT NULL,
    created_by    TEXT   NOT NULL
);
CREATE INDEX incident_drills_facility ON incident_drills (facility, held_at);
CREATE INDEX incident_tasks_drill ON incident_tasks (drill_id, id);

-- +goose Down
DROP INDEX incident_tasks_drill;
DROP TABLE incident_drills;
DROP TABLE incident_backups;
DROP TABLE incident_offline_procedures;
DROP TABLE incident_bcp_versions;
DROP TABLE incident_playbooks;
