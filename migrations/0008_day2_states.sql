-- +goose Up
-- Day-2 states: updating (a change of parameters being applied) and
-- forgotten (an admin's force-remove). A failed resource now holds its
-- name until it is retried, deleted or forgotten, because what it stands
-- for may exist in part.
ALTER TABLE resources DROP CONSTRAINT resources_state_check;
ALTER TABLE resources ADD CONSTRAINT resources_state_check CHECK (state IN (
    'pending', 'awaiting_approval', 'provisioning', 'ready', 'updating', 'failed',
    'deleting', 'deleted', 'rejected', 'expired', 'forgotten'));

-- A failed resource whose name was taken again while failed resources
-- released their names cannot hold it now: it is forgotten, with an audit
-- entry that says why.
WITH superseded AS (
    UPDATE resources f SET state = 'forgotten', updated_at = now(),
        reason = 'failed, and its name was reused before failed resources held their names'
    WHERE f.state = 'failed' AND EXISTS (
        SELECT 1 FROM resources o
        WHERE o.service = f.service AND o.team = f.team AND o.environment = f.environment
          AND o.name = f.name AND o.id <> f.id
          AND (o.state IN ('pending', 'awaiting_approval', 'provisioning', 'ready', 'deleting')
               OR (o.state = 'failed' AND o.id > f.id)))
    RETURNING f.id, f.reason)
INSERT INTO events (resource_id, actor_id, actor_name, kind, from_state, to_state, message)
SELECT id, 'system:idpbot', 'idpbot', 'transition', 'failed', 'forgotten', reason FROM superseded;

DROP INDEX resources_active_name_key;
CREATE UNIQUE INDEX resources_active_name_key ON resources (service, team, environment, name)
    WHERE state IN ('pending', 'awaiting_approval', 'provisioning', 'ready', 'updating', 'failed', 'deleting');

-- +goose Down
UPDATE resources SET state = 'failed' WHERE state IN ('updating', 'forgotten');
DROP INDEX resources_active_name_key;
CREATE UNIQUE INDEX resources_active_name_key ON resources (service, team, environment, name)
    WHERE state IN ('pending', 'awaiting_approval', 'provisioning', 'ready', 'deleting');
ALTER TABLE resources DROP CONSTRAINT resources_state_check;
ALTER TABLE resources ADD CONSTRAINT resources_state_check CHECK (state IN (
    'pending', 'awaiting_approval', 'provisioning', 'ready', 'failed',
    'deleting', 'deleted', 'rejected', 'expired'));
