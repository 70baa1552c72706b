-- +goose Up
-- Where each approval card (and reminder card) of a request was posted, so
-- that the cards can show the decision and lose their buttons once the
-- request is decided.
-- A card is its request's message at (platform, channel, ref): the
-- console numbers its posts per process, so a ref alone is not unique.
CREATE TABLE approval_cards (
    resource_id bigint      NOT NULL REFERENCES resources (id) ON DELETE CASCADE,
    platform    text        NOT NULL,
    channel     text        NOT NULL,
    ref         text        NOT NULL,
    posted_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (resource_id, platform, channel, ref)
);

-- +goose Down
DROP TABLE approval_cards;
