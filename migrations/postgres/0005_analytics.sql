-- Model fits of `jalin metrics recompute`: the latest parameters of each model, so reports can
-- show them and the next fit can start from them.
CREATE TABLE analytics_fits (
    model           TEXT PRIMARY KEY,
    params          TEXT             NOT NULL,
    log_likelihood  DOUBLE PRECISION,
    customers       BIGINT           NOT NULL,
    iterations      INTEGER          NOT NULL,
    converged       BOOLEAN          NOT NULL,
    problem         TEXT,
    computed_at     BIGINT           NOT NULL
);

-- Points earned in the last 12 months (what the tier is based on) and the expected order value.
ALTER TABLE customer_scores ADD COLUMN points_12m BIGINT;
ALTER TABLE customer_scores ADD COLUMN expected_spend DOUBLE PRECISION;
CREATE INDEX loyalty_ledger_kind_time ON loyalty_ledger (entry_kind, occurred_at);
