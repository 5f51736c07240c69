-- Behaviour baselines (baseline*.go): what each user did each Japan day
-- (Asia/Tokyo), written with the baseline reader's cursor in one
-- transaction; and an alert's explanation (a message id and its
-- parameters, JSON) and score, for the alerts the baselines raise.

-- +goose Up
CREATE TABLE detect_baseline_days (
    facility   BIGINT  NOT NULL,
    actor      TEXT    NOT NULL,
    day        INTEGER NOT NULL, -- days since 1970-01-01 in Japan time
    profession TEXT    NOT NULL DEFAULT '',
    department TEXT    NOT NULL DEFAULT '',
    events     INTEGER NOT NULL,
    patients   INTEGER NOT NULL, -- distinct patients (at most the cap; saturated says more)
    saturated  INTEGER NOT NULL DEFAULT 0,
    outside    INTEGER NOT NULL DEFAULT 0, -- of them, outside the actor's department
    output     INTEGER NOT NULL DEFAULT 0, -- prints and exports
    hours      TEXT    NOT NULL, -- events per hour of the day, 24 numbers
    first_seq  BIGINT  NOT NULL,
    last_seq   BIGINT  NOT NULL,
    first_time BIGINT  NOT NULL,
    last_time  BIGINT  NOT NULL,
    seqs       TEXT    NOT NULL, -- the day's first events
    patient_set BYTEA NOT NULL, -- 64-bit hashes of the patients' ids
    PRIMARY KEY (facility, actor, day)
);
CREATE INDEX detect_baseline_days_day ON detect_baseline_days (day);
ALTER TABLE detect_alerts ADD COLUMN explanation TEXT NOT NULL DEFAULT '';
ALTER TABLE detect_alerts ADD COLUMN score DOUBLE PRECISION NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE detect_alerts DROP COLUMN score;
ALTER TABLE detect_alerts DROP COLUMN explanation;
DROP TABLE detect_baseline_days;
