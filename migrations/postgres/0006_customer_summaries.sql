-- Per-customer purchase and points totals, kept up to date incrementally by
-- `jalin metrics recompute`: only customers whose orders or points changed since the last pass
-- are summed again. Derived data, rewritten in bulk: no foreign key to check per row (the
-- recompute only writes customers that exist).
CREATE TABLE customer_summaries (
    customer_id  BIGINT PRIMARY KEY,
    orders       BIGINT NOT NULL DEFAULT 0,
    first_at     BIGINT,
    last_at      BIGINT,
    revenue      BIGINT NOT NULL DEFAULT 0,
    cogs         BIGINT NOT NULL DEFAULT 0,
    discount     BIGINT NOT NULL DEFAULT 0,
    points       BIGINT NOT NULL DEFAULT 0,
    points_12m   BIGINT NOT NULL DEFAULT 0
);
-- Finds the orders an import run wrote or updated.
CREATE INDEX orders_import_run ON orders (import_run);
-- Scores are replaced in bulk every night; a per-row foreign-key check costs more than the
-- rest of the write.
ALTER TABLE customer_scores DROP CONSTRAINT customer_scores_customer_id_fkey;
