-- +goose Up
-- What the governance sweep already did, on the row it locks, so that
-- concurrent or repeated sweeps remind once and warn once per expiry.
ALTER TABLE resources
    ADD COLUMN reminded_at timestamptz,
    ADD COLUMN warned_for  timestamptz;

-- +goose Down
ALTER TABLE resources
    DROP COLUMN reminded_at,
    DROP COLUMN warned_for;
