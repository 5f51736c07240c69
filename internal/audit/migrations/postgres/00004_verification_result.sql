-- What each verification found, beyond its first bad position: the kind of
-- problem (missing, altered, moved, inserted, tree, checkpoint, index) and
-- the whole result as JSON (signatures checked, index compared, archived
-- positions, durations), so that the dashboard, the API and the compliance
-- evidence show the same facts as `anzen audit verify --json`.

-- +goose Up
ALTER TABLE audit_verifications ADD COLUMN kind TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_verifications ADD COLUMN result TEXT NOT NULL DEFAULT '';
CREATE INDEX audit_verifications_started ON audit_verifications (started);

-- +goose Down
DROP INDEX audit_verifications_started;
ALTER TABLE audit_verifications DROP COLUMN result;
ALTER TABLE audit_verifications DROP COLUMN kind;
