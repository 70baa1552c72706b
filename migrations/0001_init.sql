-- +goose Up

-- resources are recorded requests and the things they provision.
CREATE TABLE resources (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service         text        NOT NULL,
    service_type    text        NOT NULL DEFAULT '',
    name            text        NOT NULL,
    team            text        NOT NULL,
    environment     text        NOT NULL,
    parameters      jsonb       NOT NULL DEFAULT '{}',
    state           text        NOT NULL CHECK (state IN (
                        'pending', 'awaiting_approval', 'provisioning', 'ready', 'failed',
                        'deleting', 'deleted', 'rejected', 'expired')),
    reason          text        NOT NULL DEFAULT '',
    requester_id    text        NOT NULL,
    requester_name  text        NOT NULL DEFAULT '',
    requester_email text        NOT NULL DEFAULT '',
    self_service    boolean     NOT NULL DEFAULT true,
    origin_platform text        NOT NULL DEFAULT '',
    origin_channel  text        NOT NULL DEFAULT '',
    -- idempotency_key identifies the chat delivery a request came from, so
    -- that a retried delivery finds the resource instead of making another.
    idempotency_key text,
    outputs         jsonb       NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    ready_at        timestamptz,
    expires_at      timestamptz
);

-- A name is held by at most one active resource of a service, team and
-- environment; ended resources (failed, deleted, rejected, expired) release it.
CREATE UNIQUE INDEX resources_active_name_key ON resources (service, team, environment, name)
    WHERE state IN ('pending', 'awaiting_approval', 'provisioning', 'ready', 'deleting');

CREATE UNIQUE INDEX resources_idempotency_key_key ON resources (idempotency_key)
    WHERE idempotency_key IS NOT NULL;

CREATE INDEX resources_team_state_created_idx ON resources (team, state, created_at DESC);
CREATE INDEX resources_team_service_state_idx ON resources (team, service, state);
CREATE INDEX resources_created_idx ON resources (created_at DESC, id DESC);
CREATE INDEX resources_requester_created_idx ON resources (requester_id, created_at DESC);
CREATE INDEX resources_name_idx ON resources (name);
CREATE INDEX resources_expires_idx ON resources (expires_at) WHERE expires_at IS NOT NULL;

-- events are the audit log of every resource and the source of its thread.
CREATE TABLE events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resource_id bigint      NOT NULL REFERENCES resources (id) ON DELETE CASCADE,
    at          timestamptz NOT NULL DEFAULT now(),
    actor_id    text        NOT NULL,
    actor_name  text        NOT NULL DEFAULT '',
    kind        text        NOT NULL,
    from_state  text        NOT NULL DEFAULT '',
    to_state    text        NOT NULL DEFAULT '',
    message     text        NOT NULL DEFAULT '',
    -- sealed holds encrypted connection details until they are delivered.
    sealed      bytea
);

CREATE INDEX events_resource_id_idx ON events (resource_id, id);

-- deliveries is the outbox cursor: the last event of a resource delivered to
-- a chat platform.
CREATE TABLE deliveries (
    resource_id   bigint NOT NULL REFERENCES resources (id) ON DELETE CASCADE,
    platform      text   NOT NULL,
    last_event_id bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (resource_id, platform)
);

-- threads remembers where a chat adapter posted a resource's root message.
CREATE TABLE threads (
    resource_id bigint NOT NULL REFERENCES resources (id) ON DELETE CASCADE,
    platform    text   NOT NULL,
    channel     text   NOT NULL DEFAULT '',
    thread_ref  text   NOT NULL DEFAULT '',
    root_ref    text   NOT NULL DEFAULT '',
    PRIMARY KEY (resource_id, platform)
);

-- +goose Down
DROP TABLE threads;
DROP TABLE deliveries;
DROP TABLE events;
DROP TABLE resources;
