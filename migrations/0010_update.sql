-- +goose Up
-- Changes of a ready resource's parameters (issue 12, update): the
-- complete parameters before and after, and where the change stands. A
-- change that needs approval waits here as pending while the resource
-- stays ready; a resource has at most one open change.
CREATE TABLE resource_changes (
    id          bigserial PRIMARY KEY,
    resource_id bigint NOT NULL REFERENCES resources (id) ON DELETE CASCADE,
    actor_id    text NOT NULL,
    actor_name  text NOT NULL DEFAULT '',
    actor_email text NOT NULL DEFAULT '',
    old_parameters jsonb NOT NULL,
    new_parameters jsonb NOT NULL,
    status      text NOT NULL CHECK (status IN ('pending', 'applying', 'failed', 'applied', 'rejected', 'dropped')),
    needed      integer NOT NULL DEFAULT 0,
    approvers   jsonb NOT NULL DEFAULT '[]',
    reason      text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX resource_changes_open_key ON resource_changes (resource_id)
    WHERE status IN ('pending', 'applying', 'failed');

-- +goose Down
DROP TABLE resource_changes;
