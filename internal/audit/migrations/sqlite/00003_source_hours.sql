-- Events received per source system and hour, kept by the search index with
-- audit_sources, so that the dashboard and the sources page show the last
-- 24 hours without counting the index. Derived data, like audit_sources.

-- +goose Up
CREATE TABLE audit_source_hours (
    facility_id BIGINT NOT NULL,
    source      TEXT   NOT NULL,
    hour        BIGINT NOT NULL, -- received / 3,600,000: hours since 1970 (UTC)
    events      BIGINT NOT NULL,
    PRIMARY KEY (facility_id, source, hour)
);
CREATE INDEX audit_source_hours_hour ON audit_source_hours (hour);
INSERT INTO audit_source_hours (facility_id, source, hour, events)
    SELECT facility_id, source, received / 3600000, COUNT(*) FROM audit_index
    GROUP BY facility_id, source, received / 3600000;

-- +goose Down
DROP TABLE audit_source_hours;
