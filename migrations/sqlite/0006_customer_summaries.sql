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
-- Scores are replaced in bulk every night, like the PostgreSQL schema without the foreign key.
CREATE TABLE customer_scores_next (
    customer_id         BIGINT PRIMARY KEY,
    rfm_recency         SMALLINT,
    rfm_frequency       SMALLINT,
    rfm_monetary        SMALLINT,
    rfm_cell            TEXT,
    p_alive             DOUBLE PRECISION,
    churn_probability   DOUBLE PRECISION,
    expected_purchases  DOUBLE PRECISION,
    clv                 DOUBLE PRECISION,
    profit              DOUBLE PRECISION,
    clv_percentile      DOUBLE PRECISION,
    profit_percentile   DOUBLE PRECISION,
    tier                TEXT,
    points              BIGINT,
    computed_at         BIGINT NOT NULL,
    points_12m          BIGINT,
    expected_spend      DOUBLE PRECISION
);
INSERT INTO customer_scores_next SELECT customer_id, rfm_recency, rfm_frequency, rfm_monetary, rfm_cell,
    p_alive, churn_probability, expected_purchases, clv, profit, clv_percentile, profit_percentile, tier,
    points, computed_at, points_12m, expected_spend FROM customer_scores;
DROP TABLE customer_scores;
ALTER TABLE customer_scores_next RENAME TO customer_scores;
CREATE INDEX customer_scores_tier ON customer_scores (tier);
