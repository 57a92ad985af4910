//! The outbox seen by delivery: claiming rows under a lease, settling them with the outcome,
//! and finding rows that are due but not (or no longer) in the queue.

use crate::error::{Error, Result};
use crate::store::{Store, in_list};
use crate::with_pool;
use sqlx::QueryBuilder;

/// A row a worker now owns until it settles it or its lease runs out.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claimed {
    /// The outbox id (also the message id in links and headers).
    pub id: i64,
    /// The run.
    pub run_id: i64,
    /// The campaign.
    pub campaign: String,
    /// The customer.
    pub customer_id: i64,
    /// email, sms or webhook.
    pub channel: String,
    /// The A/B variant.
    pub variant: String,
    /// The address chosen at planning time.
    pub address: Option<String>,
    /// The recipient's offer code, if the campaign gives one.
    pub offer_code: Option<String>,
    /// Attempts so far, this one included.
    pub attempts: i32,
}

/// Claims the rows of `ids` that are due and free (queued, or sending with an expired lease).
/// Rows settled, claimed by a live worker or not yet due are left alone, so a job delivered
/// twice by the queue sends nothing twice.
pub async fn claim(
    store: &Store,
    ids: &[i64],
    now: i64,
    lease_seconds: i64,
) -> Result<Vec<Claimed>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    with_pool!(store, pool, DB => {
        let mut qb = QueryBuilder::<DB>::new("UPDATE outbox SET status = 'sending', claimed_at = ");
        qb.push_bind(now);
        qb.push(", attempts = attempts + 1 WHERE id IN (");
        in_list!(qb, ids);
        qb.push(" AND ((status = 'queued' AND (not_before IS NULL OR not_before <= ");
        qb.push_bind(now);
        qb.push(")) OR (status = 'sending' AND claimed_at < ");
        qb.push_bind(now - lease_seconds);
        qb.push(")) RETURNING id, run_id, campaign, customer_id, channel, variant, address, offer_code, attempts");
        qb.build_query_as::<Claimed>().fetch_all(pool).await
    })
    .map_err(Error::db("claiming outbox rows"))
}

/// How a claimed row ends.
#[derive(Debug, Clone)]
pub enum Settle {
    /// Accepted by the channel.
    Sent {
        /// The provider's id.
        provider_id: Option<String>,
    },
    /// Try again at `retry_at` (Unix seconds).
    Retry {
        /// Why it failed this time.
        reason: String,
        /// When to try again.
        retry_at: i64,
    },
    /// Failed for good.
    Failed {
        /// Why.
        reason: String,
        /// A machine-readable code (RFC 3463 status, provider code, `render`).
        code: Option<String>,
    },
}

/// Records the outcome of one claimed row, and a `message.sent` or `message.failed` event.
/// Only a row still `sending` is settled, so a late worker whose lease expired cannot undo the
/// outcome recorded by the worker that took over.
pub async fn settle(store: &Store, row: &Claimed, outcome: &Settle, now: i64) -> Result<()> {
    let what = Error::db("recording a delivery outcome");
    let (status, provider_id, error, code, not_before, event) = match outcome {
        Settle::Sent { provider_id } => (
            "sent",
            provider_id.clone(),
            None,
            None,
            None,
            Some("message.sent"),
        ),
        Settle::Retry { reason, retry_at } => (
            "queued",
            None,
            Some(reason.clone()),
            None,
            Some(*retry_at),
            None,
        ),
        Settle::Failed { reason, code } => (
            "failed",
            None,
            Some(reason.clone()),
            code.clone(),
            None,
            Some("message.failed"),
        ),
    };
    with_pool!(store, pool => {
        let mut tx = pool.begin().await.map_err(what)?;
        let changed = sqlx::query(
            "UPDATE outbox SET status = $1, provider_id = COALESCE($2, provider_id), error = $3,
               error_code = $4, not_before = COALESCE($5, not_before),
               sent_at = CASE WHEN $1 = 'sent' THEN $6 ELSE sent_at END,
               enqueued_at = CASE WHEN $1 = 'queued' THEN NULL ELSE enqueued_at END
             WHERE id = $7 AND status = 'sending'")
            .bind(status).bind(provider_id).bind(&error).bind(code).bind(not_before).bind(now).bind(row.id)
            .execute(&mut *tx).await.map_err(Error::db("recording a delivery outcome"))?
            .rows_affected();
        if changed == 1 && let Some(event) = event {
            let payload = serde_json::json!({
                "channel": row.channel, "variant": row.variant, "run_id": row.run_id,
                "attempts": row.attempts, "error": error,
            });
            sqlx::query(
                "INSERT INTO events (event_type, occurred_at, customer_id, campaign, message_id, idempotency_key, payload, recorded_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $2) ON CONFLICT (idempotency_key) DO NOTHING")
                .bind(event).bind(now).bind(row.customer_id).bind(&row.campaign).bind(row.id)
                .bind(format!("{event}:{}", row.id)).bind(sqlx::types::Json(payload))
                .execute(&mut *tx).await.map_err(Error::db("recording a delivery event"))?;
        }
        tx.commit().await.map_err(Error::db("recording a delivery outcome"))?;
    });
    Ok(())
}

/// Ids of queued rows that are due and not in the queue: never pushed, pushed longer than
/// `lease_seconds` ago without being claimed, or settled for a retry. `run` narrows to one run.
pub async fn due_for_enqueue(
    store: &Store,
    run: Option<i64>,
    now: i64,
    lease_seconds: i64,
    limit: i64,
) -> Result<Vec<i64>> {
    with_pool!(store, pool => sqlx::query_scalar::<_, i64>(
        "SELECT id FROM outbox WHERE status = 'queued' AND (not_before IS NULL OR not_before <= $1)
           AND (enqueued_at IS NULL OR enqueued_at < $2) AND ($3 IS NULL OR run_id = $3)
         ORDER BY id LIMIT $4")
        .bind(now).bind(now - lease_seconds).bind(run).bind(limit).fetch_all(pool).await)
    .map_err(Error::db("finding due outbox rows"))
}

/// Notes that a queue job now carries these rows.
pub async fn mark_enqueued(store: &Store, ids: &[i64], now: i64) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    with_pool!(store, pool, DB => {
        let mut qb = QueryBuilder::<DB>::new("UPDATE outbox SET enqueued_at = ");
        qb.push_bind(now);
        // By id alone: with `status = 'queued'` PostgreSQL may walk the partial index of every
        // queued row instead of the primary key, which makes planning quadratic.
        qb.push(" WHERE id IN (");
        in_list!(qb, ids);
        qb.build().execute(pool).await.map(|r| r.rows_affected())
    })
    .map_err(Error::db("marking outbox rows queued"))?;
    Ok(())
}

/// Rows whose worker died: `sending` with a lease older than `lease_seconds` go back to
/// `queued` (their message may have gone out; the receiver sees it again at most once per
/// crash). Returns how many.
pub async fn release_expired(store: &Store, now: i64, lease_seconds: i64) -> Result<u64> {
    with_pool!(store, pool => sqlx::query(
        "UPDATE outbox SET status = 'queued', enqueued_at = NULL
         WHERE status = 'sending' AND claimed_at < $1")
        .bind(now - lease_seconds).execute(pool).await.map(|r| r.rows_affected()))
    .map_err(Error::db("releasing expired outbox claims"))
}

/// Puts an address on the suppression list (a hard bounce, a complaint to the mailbox
/// provider): nothing is sent to it on that channel again, whatever the consent says.
pub async fn suppress(
    store: &Store,
    channel: &str,
    address: &str,
    reason: &str,
    now: i64,
) -> Result<()> {
    with_pool!(store, pool => sqlx::query(
        "INSERT INTO suppressions (channel, address, reason, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (channel, address) DO NOTHING")
        .bind(channel).bind(address).bind(reason).bind(now).execute(pool).await.map(|r| r.rows_affected()))
    .map_err(Error::db("suppressing an address"))?;
    Ok(())
}

/// Messages due and not settled at `now`: queued and due, or being sent (of one run, or all).
pub async fn unsettled(store: &Store, run: Option<i64>, now: i64) -> Result<i64> {
    with_pool!(store, pool => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM outbox WHERE ((status = 'queued' AND (not_before IS NULL OR not_before <= $1))
           OR status = 'sending') AND ($2 IS NULL OR run_id = $2)").bind(now).bind(run).fetch_one(pool).await)
    .map_err(Error::db("counting unsettled messages"))
}

/// Outbox rows by campaign and status.
pub async fn outbox_summary(store: &Store) -> Result<Vec<(String, String, i64)>> {
    with_pool!(store, pool => sqlx::query_as::<_, (String, String, i64)>(
        "SELECT campaign, status, CAST(COUNT(*) AS BIGINT) FROM outbox GROUP BY campaign, status
         ORDER BY campaign, status").fetch_all(pool).await)
    .map_err(Error::db("summarising the outbox"))
}

/// Ids of sent messages on a channel, oldest first (at most `limit`).
pub async fn sent_messages(store: &Store, channel: &str, limit: i64) -> Result<Vec<i64>> {
    with_pool!(store, pool => sqlx::query_scalar::<_, i64>(
        "SELECT id FROM outbox WHERE status = 'sent' AND channel = $1 ORDER BY id LIMIT $2")
        .bind(channel).bind(limit).fetch_all(pool).await)
    .map_err(Error::db("listing sent messages"))
}

/// Events of each type recorded since `since` (Unix seconds, by recording time).
pub async fn event_counts(store: &Store, since: i64) -> Result<Vec<(String, i64)>> {
    with_pool!(store, pool => sqlx::query_as::<_, (String, i64)>(
        "SELECT event_type, CAST(COUNT(*) AS BIGINT) FROM events WHERE recorded_at >= $1
         GROUP BY event_type ORDER BY event_type").bind(since).fetch_all(pool).await)
    .map_err(Error::db("counting events"))
}
