-- Opens and clicks received under load, stored here first and moved into `events` in large
-- sorted batches by the hit writer (engine/src/hits): a row here is one B-tree insert and one
-- key, where `events` needs five. Empty whenever the writer is idle.
CREATE TABLE staged_hits (
    id               INTEGER PRIMARY KEY,
    event_type       TEXT   NOT NULL,
    occurred_at      BIGINT NOT NULL,
    customer_id      BIGINT,
    campaign         TEXT,
    message_id       BIGINT NOT NULL,
    link             TEXT,
    idempotency_key  TEXT   NOT NULL UNIQUE
);
