-- Finding the open alert a rule's new match joins (GroupWindow): by rule,
-- group and facility, the newest last.

-- +goose Up
CREATE INDEX detect_alerts_group ON detect_alerts (rule_id, grp, facility, last_time);

-- +goose Down
DROP INDEX detect_alerts_group;
