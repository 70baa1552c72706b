-- +goose Up

-- support_tickets are the requests for help people make with
-- /idp support <category> <text>; each is posted to the support channels.
CREATE TABLE support_tickets (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    category        text        NOT NULL,
    body            text        NOT NULL,
    requester_id    text        NOT NULL,
    requester_name  text        NOT NULL DEFAULT '',
    requester_email text        NOT NULL DEFAULT '',
    -- teams are the requester's teams when the ticket was made.
    teams           text[]      NOT NULL DEFAULT '{}',
    platform        text        NOT NULL DEFAULT '',
    channel         text        NOT NULL DEFAULT '',
    -- idempotency_key identifies the chat delivery, so that a redelivered
    -- command records one ticket.
    idempotency_key text,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX support_tickets_idempotency_key_key ON support_tickets (idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX support_tickets_created_idx ON support_tickets (created_at DESC, id DESC);
CREATE INDEX support_tickets_category_created_idx ON support_tickets (category, created_at DESC);

-- The governance sweep reads the requests awaiting approval, oldest first;
-- expiring resources come from resources_expires_idx.
CREATE INDEX resources_awaiting_created_idx ON resources (created_at)
    WHERE state = 'awaiting_approval';

-- +goose Down
DROP INDEX resources_awaiting_created_idx;
DROP TABLE support_tickets;
