-- The hospital's reference tables (staff roster, patient attributes,
-- flagged-patient lists, care teams, vendors' maintenance windows), one
-- row per facility and kind, each replaced whole by a load: data holds
-- the rows as JSON. generation counts the loads, so that every instance
-- can tell cheaply that its snapshot of the tables is out of date.

-- +goose Up
CREATE TABLE detect_tables (
    facility   INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    row_count  INTEGER NOT NULL,
    data       BLOB    NOT NULL,
    loaded     INTEGER NOT NULL,
    loaded_by  TEXT    NOT NULL,
    generation INTEGER NOT NULL,
    PRIMARY KEY (facility, kind)
);
CREATE TABLE detect_tables_generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL
);
INSERT INTO detect_tables_generation (id, n) VALUES (1, 0);

-- +goose Down
DROP TABLE detect_tables_generation;
DROP TABLE detect_tables;
