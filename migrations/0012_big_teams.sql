-- +goose Up
-- Indexes for teams of thousands of resources with millions of events.
-- Plain CREATE INDEX, in the migration's transaction: CONCURRENTLY would
-- wait for every other transaction of the database (every replica's, and
-- every parallel test schema's), and on 5 million events these build in a
-- few seconds, during which writes to the tables wait.

-- A page of a team's resources walks this index in list order (newest
-- first, the id breaking ties) from the cursor's key, and the page's
-- counts (total, rows before it) are index-only scans of the team's
-- entries: the filters list applies (state, environment, requester,
-- service) are included so that no row is read to count.
CREATE INDEX resources_team_page_idx
    ON resources (team, created_at DESC, id DESC) INCLUDE (state, environment, requester_id, service);

-- The approval decisions audit always shows, whatever page of the history
-- it shows: a few rows per resource instead of a scan of all its events.
CREATE INDEX events_decisions_idx
    ON events (resource_id, id)
    WHERE kind = 'approval' OR kind = 'transition' AND from_state = 'awaiting_approval';

-- +goose Down
DROP INDEX events_decisions_idx;
DROP INDEX resources_team_page_idx;
