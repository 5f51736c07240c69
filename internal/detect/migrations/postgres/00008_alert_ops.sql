-- Handling alerts: suppressions (alerts like these are not raised for a
-- while, with the reason, and counted so that reviewers see them work),
-- and a generation number that tells every instance to read them again
-- when one changes them; and the incident an alert was escalated into
-- (by the incident part, through detect.Escalator), one per alert.

-- +goose Up
CREATE TABLE detect_suppressions (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    facility    BIGINT  NOT NULL,             -- 0: alerts of every facility
    rule_id     TEXT    NOT NULL DEFAULT '',  -- '': every rule
    conditions  TEXT    NOT NULL DEFAULT '[]', -- JSON [{"field": ..., "value": ...}], all must hold
    reason      TEXT    NOT NULL,
    created     BIGINT  NOT NULL,
    created_by  TEXT    NOT NULL,
    ends        BIGINT  NOT NULL,
    ended       BIGINT  NOT NULL DEFAULT 0,   -- ended early, by ended_by
    ended_by    TEXT    NOT NULL DEFAULT '',
    end_comment TEXT    NOT NULL DEFAULT '',
    hits        BIGINT  NOT NULL DEFAULT 0,
    last_hit    BIGINT  NOT NULL DEFAULT 0,
    last_seq    BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX detect_suppressions_facility ON detect_suppressions (facility, id);

CREATE TABLE detect_generations (
    name TEXT   PRIMARY KEY,
    gen  BIGINT NOT NULL
);
INSERT INTO detect_generations (name, gen) VALUES ('suppressions', 1);

CREATE TABLE detect_alert_incidents (
    alert_id BIGINT PRIMARY KEY REFERENCES detect_alerts (id),
    ref      TEXT   NOT NULL,
    url      TEXT   NOT NULL,
    at       BIGINT NOT NULL,
    by_login TEXT   NOT NULL
);

-- +goose Down
DROP TABLE detect_alert_incidents;
DROP TABLE detect_generations;
DROP TABLE detect_suppressions;
