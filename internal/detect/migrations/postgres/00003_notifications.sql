-- Notifications of alerts waiting to be sent (an outbox): a row per alert
-- and target, written in the transaction that writes the alert, so that a
-- crash loses none; sent is set when the target accepted it.

-- +goose Up
CREATE TABLE detect_notifications (
    alert_id   BIGINT  NOT NULL REFERENCES detect_alerts (id),
    target     TEXT    NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    next_at    BIGINT  NOT NULL,
    sent       BIGINT  NOT NULL DEFAULT 0,
    last_error TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (alert_id, target)
);
CREATE INDEX detect_notifications_due ON detect_notifications (sent, next_at);

-- +goose Down
DROP TABLE detect_notifications;
