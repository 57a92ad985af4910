-- Campaign runs and the outbox: one row per (run, customer, channel), written before anything
-- is sent, so a crash never loses a message and a re-run never sends one twice.

CREATE TABLE campaign_runs (
    id             BIGSERIAL PRIMARY KEY,
    campaign       TEXT   NOT NULL,
    -- What started the run: "cron:<time>", "at:<time>", "send:<id>", "event:<idempotency key>".
    -- Unique per campaign, so each tick or event fires exactly once however many schedulers run.
    trigger_key    TEXT   NOT NULL,
    kind           TEXT   NOT NULL CHECK (kind IN ('marketing', 'transactional')),
    scheduled_for  BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    status         TEXT   NOT NULL CHECK (status IN ('planning', 'planned', 'failed')),
    planned_at     BIGINT,
    -- For triggered runs: the one customer and the event.
    customer_id    BIGINT REFERENCES customers (id) ON DELETE CASCADE,
    event_id       BIGINT,
    stats          TEXT   NOT NULL DEFAULT '{}',
    error          TEXT,
    UNIQUE (campaign, trigger_key)
);
CREATE INDEX campaign_runs_status ON campaign_runs (status);

CREATE TABLE outbox (
    id           BIGSERIAL PRIMARY KEY,
    run_id       BIGINT  NOT NULL REFERENCES campaign_runs (id) ON DELETE CASCADE,
    campaign     TEXT    NOT NULL,
    kind         TEXT    NOT NULL CHECK (kind IN ('marketing', 'transactional')),
    customer_id  BIGINT  NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    channel      TEXT    NOT NULL CHECK (channel IN ('email', 'sms', 'webhook')),
    variant      TEXT    NOT NULL,
    status       TEXT    NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'held_out', 'cancelled')),
    not_before   BIGINT,
    attempts     INTEGER NOT NULL DEFAULT 0,
    -- When a queue job was last pushed for the row, and when a worker claimed it (its lease).
    enqueued_at  BIGINT,
    claimed_at   BIGINT,
    address      TEXT,
    offer_code   TEXT,
    provider_id  TEXT,
    error        TEXT,
    error_code   TEXT,
    created_at   BIGINT  NOT NULL,
    sent_at      BIGINT,
    UNIQUE (run_id, customer_id, channel)
);
CREATE INDEX outbox_run_status ON outbox (run_id, status);
CREATE INDEX outbox_pending ON outbox (status, not_before) WHERE status IN ('queued', 'sending');
CREATE INDEX outbox_customer_created ON outbox (customer_id, created_at);
CREATE INDEX outbox_campaign_status ON outbox (campaign, status);

CREATE TABLE offer_codes (
    code         TEXT   PRIMARY KEY,
    campaign     TEXT   NOT NULL,
    customer_id  BIGINT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    outbox_id    BIGINT REFERENCES outbox (id) ON DELETE CASCADE,
    percent      INTEGER NOT NULL,
    valid_until  BIGINT NOT NULL,
    redeemed_at  BIGINT,
    order_id     BIGINT REFERENCES orders (id) ON DELETE SET NULL
);
CREATE INDEX offer_codes_customer ON offer_codes (customer_id);

-- Where the trigger processor has read the events table up to.
CREATE TABLE scheduler_state (
    name   TEXT PRIMARY KEY,
    value  BIGINT NOT NULL
);
