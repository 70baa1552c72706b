-- +goose Up
-- Where each approval card (and reminder card) of a request was posted, so
-- that the cards can show the decision and lose their buttons once the
-- request is decided.
CREATE TABLE approval_cards (
    resource_id bigint      NOT NULL REFERENCES resources (id) ON DELETE CASCADE,
    platform    text        NOT NULL,
    channel     text        NOT NULL,
    ref         text        NOT NULL,
    posted_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (platform, channel, ref)
);
CREATE INDEX approval_cards_resource ON approval_cards (resource_id);

-- +goose Down
DROP TABLE approval_cards;
