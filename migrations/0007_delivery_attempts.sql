-- +goose Up
-- An event whose delivery to a platform has started: written (and
-- committed) before the chat API is called and removed with the cursor's
-- advance, so that a row left behind marks a delivery that was cut off
-- after the platform may have acted on it, and the next delivery of that
-- event looks for the message before posting it again.
CREATE TABLE delivery_attempts (
    resource_id bigint      NOT NULL REFERENCES resources (id) ON DELETE CASCADE,
    platform    text        NOT NULL,
    event_id    bigint      NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (resource_id, platform, event_id)
);

-- +goose Down
DROP TABLE delivery_attempts;
