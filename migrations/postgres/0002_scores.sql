-- Per-customer scores written by `jalin metrics recompute`; segments read them.
CREATE TABLE customer_scores (
    customer_id         BIGINT PRIMARY KEY REFERENCES customers (id) ON DELETE CASCADE,
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
    computed_at         BIGINT NOT NULL
);
CREATE INDEX customer_scores_tier ON customer_scores (tier);
