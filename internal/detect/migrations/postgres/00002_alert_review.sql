-- Reviewing alerts: who has taken an alert, and every change of its state
-- with the reviewer's comment (the alert's history).

-- +goose Up
ALTER TABLE detect_alerts ADD COLUMN assignee TEXT NOT NULL DEFAULT '';
ALTER TABLE detect_alerts ADD COLUMN updated BIGINT NOT NULL DEFAULT 0;
CREATE TABLE detect_alert_notes (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id    BIGINT  NOT NULL REFERENCES detect_alerts (id),
    at          BIGINT  NOT NULL,
    actor_id    BIGINT  NOT NULL,
    actor_login TEXT    NOT NULL,
    state_from  TEXT    NOT NULL,
    state_to    TEXT    NOT NULL,
    assignee    TEXT    NOT NULL DEFAULT '',
    comment     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX detect_alert_notes_alert ON detect_alert_notes (alert_id, id);

-- +goose Down
DROP TABLE detect_alert_notes;
ALTER TABLE detect_alerts DROP COLUMN updated;
ALTER TABLE detect_alerts DROP COLUMN assignee;
