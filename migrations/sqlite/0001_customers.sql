-- The customer database: who they are, what they may be sent, what they bought and said.
-- Times are UTC epoch seconds (BIGINT) so the same predicates compile for SQLite and PostgreSQL;
-- money is BIGINT minor units beside an ISO 4217 currency code.

CREATE TABLE customers (
    id            INTEGER PRIMARY KEY,
    external_ref  TEXT    NOT NULL UNIQUE,
    kind          TEXT    NOT NULL CHECK (kind IN ('consumer', 'retailer', 'distributor', 'project_buyer')),
    name          TEXT    NOT NULL,
    email         TEXT,
    phone         TEXT,
    locale        TEXT    NOT NULL CHECK (locale IN ('id', 'en')),
    time_zone     TEXT    NOT NULL,
    region        TEXT,
    city          TEXT,
    industry      TEXT,
    created_at    BIGINT  NOT NULL,
    attributes    TEXT    NOT NULL DEFAULT '{}',
    erased_at     BIGINT,
    import_run    BIGINT
);

-- Current consent per channel; every change is also kept in consent_history.
CREATE TABLE consents (
    customer_id  BIGINT  NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    channel      TEXT    NOT NULL CHECK (channel IN ('email', 'sms', 'webhook')),
    opted_in     BOOLEAN NOT NULL,
    source       TEXT    NOT NULL,
    changed_at   BIGINT  NOT NULL,
    PRIMARY KEY (customer_id, channel)
);

CREATE TABLE consent_history (
    id           INTEGER PRIMARY KEY,
    customer_id  BIGINT  NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    channel      TEXT    NOT NULL CHECK (channel IN ('email', 'sms', 'webhook')),
    opted_in     BOOLEAN NOT NULL,
    source       TEXT    NOT NULL,
    changed_at   BIGINT  NOT NULL,
    UNIQUE (customer_id, channel, changed_at, opted_in)
);

CREATE TABLE products (
    id             INTEGER PRIMARY KEY,
    sku            TEXT    NOT NULL UNIQUE,
    name           TEXT    NOT NULL,
    category       TEXT    NOT NULL,
    make_to_order  BOOLEAN NOT NULL,
    unit_cost      BIGINT  NOT NULL,
    list_price     BIGINT  NOT NULL,
    currency       TEXT    NOT NULL DEFAULT 'IDR',
    import_run     BIGINT
);
CREATE INDEX products_category ON products (category);

CREATE TABLE orders (
    id                INTEGER PRIMARY KEY,
    external_ref      TEXT    NOT NULL UNIQUE,
    customer_id       BIGINT  NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    status            TEXT    NOT NULL CHECK (status IN ('quoted', 'confirmed', 'in_production',
                                        'quality_check', 'shipped', 'delivered', 'cancelled')),
    placed_at         BIGINT  NOT NULL,
    confirmed_at      BIGINT,
    in_production_at  BIGINT,
    quality_check_at  BIGINT,
    shipped_at        BIGINT,
    delivered_at      BIGINT,
    cancelled_at      BIGINT,
    expected_at       BIGINT,
    value             BIGINT  NOT NULL,
    cost              BIGINT  NOT NULL,
    discount          BIGINT  NOT NULL DEFAULT 0,
    currency          TEXT    NOT NULL DEFAULT 'IDR',
    offer_code        TEXT,
    tracking_url      TEXT,
    import_run        BIGINT
);
CREATE INDEX orders_customer_placed ON orders (customer_id, placed_at);
CREATE INDEX orders_placed_at ON orders (placed_at);

CREATE TABLE order_lines (
    order_id    BIGINT  NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line_no     INTEGER NOT NULL,
    product_id  BIGINT  NOT NULL REFERENCES products (id),
    quantity    INTEGER NOT NULL CHECK (quantity > 0),
    unit_price  BIGINT  NOT NULL,
    import_run  BIGINT,
    PRIMARY KEY (order_id, line_no)
);
CREATE INDEX order_lines_product ON order_lines (product_id, order_id);

CREATE TABLE complaints (
    id            INTEGER PRIMARY KEY,
    external_ref  TEXT    NOT NULL UNIQUE,
    customer_id   BIGINT  NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    order_id      BIGINT  REFERENCES orders (id) ON DELETE SET NULL,
    category      TEXT    NOT NULL,
    severity      TEXT    NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    channel       TEXT    NOT NULL,
    opened_at     BIGINT  NOT NULL,
    resolved_at   BIGINT,
    summary       TEXT    NOT NULL DEFAULT '',
    import_run    BIGINT
);
CREATE INDEX complaints_customer ON complaints (customer_id);
CREATE INDEX complaints_open ON complaints (customer_id) WHERE resolved_at IS NULL;

CREATE TABLE loyalty_ledger (
    id               INTEGER PRIMARY KEY,
    customer_id      BIGINT  NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    entry_kind       TEXT    NOT NULL CHECK (entry_kind IN ('earn', 'redeem', 'expire', 'adjust')),
    points           BIGINT  NOT NULL,
    occurred_at      BIGINT  NOT NULL,
    reason           TEXT    NOT NULL,
    order_id         BIGINT  REFERENCES orders (id) ON DELETE SET NULL,
    campaign         TEXT,
    idempotency_key  TEXT    NOT NULL UNIQUE
);
CREATE INDEX loyalty_ledger_customer ON loyalty_ledger (customer_id, occurred_at);

-- Addresses never to be sent to again on a channel (hard bounces, complaints, STOP).
CREATE TABLE suppressions (
    channel     TEXT   NOT NULL CHECK (channel IN ('email', 'sms', 'webhook')),
    address     TEXT   NOT NULL,
    reason      TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (channel, address)
);

-- Everything that happened to or was done by a customer, recorded once per idempotency key.
CREATE TABLE events (
    id               INTEGER PRIMARY KEY,
    event_type       TEXT   NOT NULL,
    occurred_at      BIGINT NOT NULL,
    customer_id      BIGINT REFERENCES customers (id) ON DELETE CASCADE,
    campaign         TEXT,
    message_id       BIGINT,
    link             TEXT,
    idempotency_key  TEXT   NOT NULL UNIQUE,
    payload          TEXT   NOT NULL DEFAULT '{}',
    recorded_at      BIGINT NOT NULL
);
CREATE INDEX events_customer_type_time ON events (customer_id, event_type, occurred_at);
CREATE INDEX events_type_time ON events (event_type, occurred_at);
CREATE INDEX events_campaign ON events (campaign, event_type);

-- Which import run wrote a row, so a key that appears twice in one file is caught.
CREATE TABLE import_runs (
    id           INTEGER PRIMARY KEY,
    kind         TEXT   NOT NULL,
    file         TEXT   NOT NULL,
    started_at   BIGINT NOT NULL,
    finished_at  BIGINT,
    accepted     BIGINT NOT NULL DEFAULT 0,
    rejected     BIGINT NOT NULL DEFAULT 0
);
