//! The loyalty ledger: points earned for purchases (1 per Rp 10,000) and for answering a
//! campaign, spent by redemption, lost by expiry (oldest points first). Every entry has an
//! idempotency key, so each step here can run again without posting twice, and no step can
//! take a balance below zero.

use super::LoyaltySettings;
use crate::campaigns::{read_cursor, write_cursor};
use crate::error::{Error, Result};
use crate::store::Store;
use crate::with_pool;

/// What one loyalty pass posted.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LoyaltyPass {
    /// Purchase entries posted for orders that had none (imported orders).
    pub purchases: u64,
    /// Campaign-response bonuses posted.
    pub bonuses: u64,
    /// Customers whose old points expired.
    pub expired: u64,
}

/// Seconds in the average month.
const MONTH: i64 = 2_629_746;

/// Posts what is due: purchase points for orders without them (orders arrive by import as well
/// as by the orders webhook, which earns at once), the campaign bonus for attributed orders,
/// and expiry of points older than `expiry_months`. Orders older than the expiry window earn
/// nothing: their points would have expired already.
///
/// Each step only looks at what is new since the last pass (cursors in `scheduler_state`):
/// orders added since, orders whose time has come since (placed in the future before),
/// conversions recorded since, and customers whose points crossed the expiry age since.
pub async fn post_due(store: &Store, rules: &LoyaltySettings, now: i64) -> Result<LoyaltyPass> {
    let cutoff = now - i64::from(rules.expiry_months) * MONTH;
    let last_order = read_cursor(store, "loyalty_order_id").await?;
    let last_now = read_cursor(store, "loyalty_order_at").await?;
    let max_order: i64 = with_pool!(store, pool => sqlx::query_scalar(
        "SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM orders").fetch_one(pool).await)
    .map_err(Error::db("reading orders"))?;
    let pg = store.backend() == crate::store::Backend::Postgres;
    let purchases = with_pool!(store, pool => async {
        let mut tx = pool.begin().await?;
        if pg {
            // After a large import every order is new: room for one hash anti-join.
            sqlx::query("SET LOCAL work_mem = '256MB'").execute(&mut *tx).await?;
        }
        let n = sqlx::query(
            "INSERT INTO loyalty_ledger (customer_id, entry_kind, points, occurred_at, reason, order_id, idempotency_key)
             SELECT o.customer_id, 'earn', o.value / 1000000, o.placed_at, 'purchase', o.id, 'earn:' || o.external_ref
             FROM orders o
             WHERE ((o.id > $3 AND o.id <= $4) OR (o.placed_at > $5 AND o.placed_at <= $2))
               AND o.status NOT IN ('quoted', 'cancelled') AND o.value >= 1000000
               AND o.placed_at > $1 AND o.placed_at <= $2
               AND NOT EXISTS (SELECT 1 FROM loyalty_ledger l WHERE l.idempotency_key = 'earn:' || o.external_ref)
             ON CONFLICT (idempotency_key) DO NOTHING")
            .bind(cutoff).bind(now).bind(last_order).bind(max_order).bind(last_now)
            .execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        Ok::<_, sqlx::Error>(n)
    }.await)
    .map_err(Error::db("posting purchase points"))?;
    write_cursor(store, "loyalty_order_id", max_order).await?;
    write_cursor(store, "loyalty_order_at", now).await?;

    let last_event = read_cursor(store, "loyalty_event_id").await?;
    let max_event: i64 = with_pool!(store, pool => sqlx::query_scalar(
        "SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM events").fetch_one(pool).await)
    .map_err(Error::db("reading events"))?;
    let bonuses = if rules.campaign_bonus > 0 {
        with_pool!(store, pool => sqlx::query(
            "INSERT INTO loyalty_ledger (customer_id, entry_kind, points, occurred_at, reason, campaign, idempotency_key)
             SELECT e.customer_id, 'earn', $1, e.occurred_at, 'campaign response', e.campaign, 'bonus:' || e.idempotency_key
             FROM events e
             WHERE e.id > $4 AND e.id <= $5
               AND e.event_type = 'conversion.attributed' AND e.customer_id IS NOT NULL
               AND e.occurred_at > $2 AND e.occurred_at <= $3
             ON CONFLICT (idempotency_key) DO NOTHING")
            .bind(rules.campaign_bonus).bind(cutoff).bind(now).bind(last_event).bind(max_event)
            .execute(pool).await.map(|r| r.rows_affected()))
        .map_err(Error::db("posting campaign bonuses"))?
    } else {
        0
    };
    write_cursor(store, "loyalty_event_id", max_event).await?;

    // Oldest points are spent first, so what expires is what was earned before the cutoff and
    // not yet spent or expired; the balance after expiry is what was earned since, never < 0.
    // Only customers with points that crossed the cutoff since the last pass can owe expiry.
    let last_cutoff = read_cursor(store, "loyalty_expiry_cutoff").await?;
    let day = chrono::DateTime::from_timestamp(now, 0)
        .map(|t| t.format(":%Y-%m-%d").to_string())
        .unwrap_or_default();
    let expired = with_pool!(store, pool => sqlx::query(
        "INSERT INTO loyalty_ledger (customer_id, entry_kind, points, occurred_at, reason, idempotency_key)
         SELECT customer_id, 'expire', consumed - earned_before, $2, 'points older than the expiry period',
                'expire:' || CAST(customer_id AS TEXT) || $3
         FROM (SELECT customer_id,
                      SUM(CASE WHEN points > 0 AND occurred_at <= $1 THEN points ELSE 0 END) AS earned_before,
                      -SUM(CASE WHEN points < 0 THEN points ELSE 0 END) AS consumed
               FROM loyalty_ledger
               WHERE customer_id IN (SELECT customer_id FROM loyalty_ledger
                                     WHERE entry_kind IN ('earn', 'adjust') AND occurred_at > $4 AND occurred_at <= $1)
               GROUP BY customer_id) t
         WHERE earned_before > consumed
         ON CONFLICT (idempotency_key) DO NOTHING")
        .bind(cutoff).bind(now).bind(day).bind(last_cutoff).execute(pool).await.map(|r| r.rows_affected()))
    .map_err(Error::db("expiring points"))?;
    write_cursor(store, "loyalty_expiry_cutoff", cutoff).await?;
    Ok(LoyaltyPass {
        purchases,
        bonuses,
        expired,
    })
}

/// A customer's points balance.
pub async fn balance(store: &Store, customer_id: i64) -> Result<i64> {
    with_pool!(store, pool => sqlx::query_scalar::<_, i64>(
        "SELECT CAST(COALESCE(SUM(points), 0) AS BIGINT) FROM loyalty_ledger WHERE customer_id = $1")
        .bind(customer_id).fetch_one(pool).await)
    .map_err(Error::db("reading the points balance"))
}

/// Spends `points` of a customer's balance. Refused (nothing posted) when the balance is
/// smaller; `key` makes a repeated request a no-op. Returns the balance afterwards.
pub async fn redeem(
    store: &Store,
    customer_id: i64,
    points: i64,
    reason: &str,
    key: &str,
    now: i64,
) -> Result<i64> {
    if points <= 0 {
        return Err(Error::Invalid(
            "points to redeem must be more than 0".into(),
        ));
    }
    let key = format!("redeem:{key}");
    // One statement on SQLite (writes are serialised); on PostgreSQL a per-customer advisory
    // lock makes the balance check and the insert one step for concurrent redemptions.
    let sql = "INSERT INTO loyalty_ledger (customer_id, entry_kind, points, occurred_at, reason, idempotency_key)
               SELECT $1, 'redeem', -$2, $3, $4, $5
               WHERE (SELECT COALESCE(SUM(points), 0) FROM loyalty_ledger WHERE customer_id = $1) >= $2
               ON CONFLICT (idempotency_key) DO NOTHING";
    let posted = match store {
        Store::Sqlite(pool) => sqlx::query(sql)
            .bind(customer_id)
            .bind(points)
            .bind(now)
            .bind(reason)
            .bind(&key)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()),
        Store::Postgres(pool) => {
            async {
                let mut tx = pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(customer_id)
                    .execute(&mut *tx)
                    .await?;
                let n = sqlx::query(sql)
                    .bind(customer_id)
                    .bind(points)
                    .bind(now)
                    .bind(reason)
                    .bind(&key)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok(n)
            }
            .await
        }
    }
    .map_err(Error::db("redeeming points"))?;
    let after = balance(store, customer_id).await?;
    if posted == 0 {
        let replay: Option<i64> = with_pool!(store, pool => sqlx::query_scalar(
            "SELECT id FROM loyalty_ledger WHERE idempotency_key = $1").bind(&key).fetch_optional(pool).await)
        .map_err(Error::db("redeeming points"))?;
        if replay.is_none() {
            return Err(Error::Invalid(format!(
                "cannot redeem {points} points: the balance is {after}"
            )));
        }
    }
    Ok(after)
}
