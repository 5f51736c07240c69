-- The reports to the authorities: when and how each was submitted (or
-- judged not required, with the reason), the drafts of their fields, and
-- the reminders mailed before a deadline and when it passed, one row per
-- reminder so that each is sent once. Times are Unix milliseconds (UTC).

-- +goose Up
CREATE TABLE incident_submissions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id BIGINT  NOT NULL REFERENCES incident_incidents (id),
    facility    BIGINT  NOT NULL,
    recipient   TEXT    NOT NULL,  -- vendor, mhlw, ppc-preliminary, ppc-final, police, individuals
    status      TEXT    NOT NULL,  -- submitted, not_required
    at          BIGINT  NOT NULL,  -- when it was submitted, or the judgement made
    channel     TEXT    NOT NULL DEFAULT '', -- web, mail, phone, fax, in_person
    reference   TEXT    NOT NULL DEFAULT '', -- the authority's reference or receipt number
    note        TEXT    NOT NULL DEFAULT '', -- for not_required: the reason
    by_login    TEXT    NOT NULL,
    created     BIGINT  NOT NULL
);
CREATE INDEX incident_submissions_incident ON incident_submissions (incident_id, recipient, at);

CREATE TABLE incident_report_drafts (
    incident_id BIGINT  NOT NULL REFERENCES incident_incidents (id),
    recipient   TEXT    NOT NULL,
    fields      TEXT    NOT NULL DEFAULT '{}', -- JSON object: field → text as the CSIRT wrote it
    updated     BIGINT  NOT NULL,
    updated_by  TEXT    NOT NULL,
    PRIMARY KEY (incident_id, recipient)
);

CREATE TABLE incident_reminders (
    subject   TEXT   NOT NULL,  -- duty:<incident>:<recipient> or task:<id>
    kind      TEXT   NOT NULL,  -- before, overdue
    due       BIGINT NOT NULL,  -- the deadline reminded of: a moved deadline is reminded of again
    facility  BIGINT NOT NULL,
    sent      BIGINT NOT NULL,
    PRIMARY KEY (subject, kind, due)
);

-- +goose Down
DROP TABLE incident_reminders;
DROP TABLE incident_report_drafts;
DROP TABLE incident_submissions;
