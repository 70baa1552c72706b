-- +goose Up
-- resource_drift is the last known live condition of each resource the
-- periodic drift check reads: what its driver found, since when it has
-- been drifted (or healthy), and when it was last read. The check records
-- a note in the resource's thread only when drifted flips, with a
-- conditional write, so that two replicas never note the same change twice.
CREATE TABLE resource_drift (
    resource_id bigint      PRIMARY KEY REFERENCES resources (id) ON DELETE CASCADE,
    health      text        NOT NULL CHECK (health IN ('healthy', 'degraded', 'missing', 'changed')),
    drifted     boolean     NOT NULL,
    summary     text        NOT NULL DEFAULT '',
    checks      jsonb       NOT NULL DEFAULT '[]',
    checked_at  timestamptz NOT NULL,
    since       timestamptz NOT NULL
);
CREATE INDEX resource_drift_drifted ON resource_drift (resource_id) WHERE drifted;

-- +goose Down
DROP TABLE resource_drift;
