-- +goose Up

-- surveys are NPS surveys, one per chat channel and schedule slot: the
-- unique key is what makes a slot post once however many replicas run it.
CREATE TABLE surveys (
    id                 bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    platform           text        NOT NULL,
    channel            text        NOT NULL,
    message_ref        text        NOT NULL DEFAULT '',
    slot               timestamptz NOT NULL,
    opened_at          timestamptz NOT NULL,
    closes_at          timestamptz NOT NULL,
    closed_at          timestamptz,
    opened_by          text        NOT NULL DEFAULT '',
    -- The result, set when the survey closes; score is NULL without answers.
    score              double precision,
    promoters          integer     NOT NULL DEFAULT 0,
    passives           integer     NOT NULL DEFAULT 0,
    detractors         integer     NOT NULL DEFAULT 0,
    responses          integer     NOT NULL DEFAULT 0,
    members            integer     NOT NULL DEFAULT 0,
    result_posted_at   timestamptz,
    comments_posted_at timestamptz,
    CHECK (closes_at > opened_at),
    UNIQUE (platform, channel, slot)
);

CREATE INDEX surveys_closed_idx ON surveys (closed_at DESC, id DESC)
    WHERE closed_at IS NOT NULL AND responses > 0;
CREATE INDEX surveys_open_idx ON surveys (platform, channel, closes_at)
    WHERE closed_at IS NULL;
CREATE INDEX surveys_platform_opened_idx ON surveys (platform, opened_at DESC, id DESC);

-- survey_responses hold one answer per person and survey; answering again
-- replaces it until the survey closes.
CREATE TABLE survey_responses (
    survey_id   bigint      NOT NULL REFERENCES surveys (id) ON DELETE CASCADE,
    user_id     text        NOT NULL,
    score       smallint    NOT NULL CHECK (score BETWEEN 0 AND 10),
    comment     text        NOT NULL DEFAULT '',
    answered_at timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (survey_id, user_id)
);

-- digest_posts remembers which digest slot was posted to which channel, so
-- a retried or duplicated digest job posts each channel once.
CREATE TABLE digest_posts (
    platform  text        NOT NULL,
    channel   text        NOT NULL,
    slot      timestamptz NOT NULL,
    posted_at timestamptz NOT NULL,
    PRIMARY KEY (platform, channel, slot)
);

-- Indexes of the usage digest (digest.Load), each covering its query so
-- that a week of a million-request history is read from the index alone.
-- Requests of a period, grouped by service, team and environment.
CREATE INDEX resources_digest_created_idx ON resources (created_at)
    INCLUDE (service, team, environment, self_service);
-- Time to provision of the resources that became ready in a period.
CREATE INDEX resources_digest_ready_idx ON resources (ready_at)
    INCLUDE (service, created_at) WHERE ready_at IS NOT NULL;
-- Resources ready now, the base of "active resources" at a period's end.
CREATE INDEX resources_digest_active_idx ON resources (id) WHERE state = 'ready';
-- The transitions the digest counts: outcomes of provisioning, approval
-- decisions, and resources entering and leaving ready.
CREATE INDEX events_digest_idx ON events (at)
    INCLUDE (resource_id, from_state, to_state)
    WHERE kind = 'transition'
      AND (to_state IN ('ready', 'failed') OR from_state IN ('awaiting_approval', 'ready'));
-- Failure reasons: the few failed provisionings, without visiting the
-- other transitions (message is read from the table: a long message must
-- never make an index row too large to insert).
CREATE INDEX events_digest_failed_idx ON events (at)
    WHERE kind = 'transition' AND to_state = 'failed' AND from_state <> 'deleting';
-- Approval wait: when a request entered awaiting_approval.
CREATE INDEX events_awaiting_idx ON events (resource_id, id) INCLUDE (at)
    WHERE to_state = 'awaiting_approval';

-- +goose Down
DROP INDEX events_awaiting_idx;
DROP INDEX events_digest_failed_idx;
DROP INDEX events_digest_idx;
DROP INDEX resources_digest_active_idx;
DROP INDEX resources_digest_ready_idx;
DROP INDEX resources_digest_created_idx;
DROP TABLE digest_posts;
DROP TABLE survey_responses;
DROP TABLE surveys;
