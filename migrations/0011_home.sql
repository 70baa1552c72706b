-- +goose Up
-- Who opened the bot's home (Slack's Home tab), per chat platform, so that
-- whichever replica delivers a change of their resources publishes their
-- home again; people who never opened it cost no API calls.
CREATE TABLE home_openers (
    platform  text        NOT NULL,
    user_id   text        NOT NULL,
    opened_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (platform, user_id)
);

-- +goose Down
DROP TABLE home_openers;
