-- +goose Up

-- webhook_callbacks holds one row per webhook delivery that waits for a
-- callback: the token in its callback URL, the request and action it is
-- for, and the latest state the receiver reported. Any replica may receive
-- a callback; the replica running the job polls this table.
CREATE TABLE webhook_callbacks (
    token      text        PRIMARY KEY,
    request_id bigint      NOT NULL,
    action     text        NOT NULL CHECK (action IN ('create', 'delete')),
    state      text        NOT NULL DEFAULT 'pending'
                           CHECK (state IN ('pending', 'provisioning', 'ready', 'failed')),
    message    text        NOT NULL DEFAULT '',
    outputs    jsonb       NOT NULL DEFAULT '{}',
    -- secrets are sealed (AES-256-GCM, bound to the request id), never plain.
    secrets    bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX webhook_callbacks_request_id ON webhook_callbacks (request_id);

-- webhook_callback_steps are the progress messages of callbacks, reported
-- once each into the request's thread.
CREATE TABLE webhook_callback_steps (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token       text        NOT NULL REFERENCES webhook_callbacks (token) ON DELETE CASCADE,
    message     text        NOT NULL,
    reported    boolean     NOT NULL DEFAULT false,
    received_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX webhook_callback_steps_unreported ON webhook_callback_steps (token, id) WHERE NOT reported;

-- +goose Down
DROP TABLE webhook_callback_steps;
DROP TABLE webhook_callbacks;
