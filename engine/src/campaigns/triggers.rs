//! Triggered campaigns: recorded events matched against every campaign's `trigger`.
//!
//! The scheduler reads the events table from a stored cursor. Events committed out of id order
//! (concurrent writers on PostgreSQL) are caught by also re-reading the last few seconds; a
//! re-read event fires nothing twice, because a run is unique per (campaign, `event:<id>`).

use super::CampaignSet;
use super::schedule::Schedule;
use crate::error::{Error, Result};
use crate::store::Store;
use crate::with_pool;
use chrono::{DateTime, Utc};

/// Events older than this (seconds) when first read start nothing.
const STALE_AFTER: i64 = 86_400;

/// Starts the trigger cursor at the newest event when it was never set, so a scheduler started
/// on a database with history does not fire for the past.
pub async fn init_trigger_cursor(store: &Store) -> Result<()> {
    with_pool!(store, pool => sqlx::query(
        "INSERT INTO scheduler_state (name, value) SELECT 'triggers', COALESCE(MAX(id), 0) FROM events WHERE TRUE
         ON CONFLICT (name) DO NOTHING").execute(pool).await.map(|r| r.rows_affected()))
    .map_err(Error::db("starting the trigger cursor"))?;
    Ok(())
}

/// One campaign to start for one customer because of one event.
#[derive(Debug, Clone)]
pub struct TriggerFire {
    /// The campaign.
    pub campaign: String,
    /// The event's id (the run's trigger key is `event:<id>`).
    pub event_id: i64,
    /// The customer.
    pub customer_id: i64,
    /// When the message is due: the event's time plus the campaign's delay.
    pub due_at: DateTime<Utc>,
}

/// Reads up to `limit` events after `cursor` (and those recorded in the last `lookback_seconds`)
/// and returns the runs they start and the new cursor. Events after the cursor come first: a
/// freshly imported history (recorded just now, below the cursor) must not crowd them out.
pub async fn scan_triggers(
    store: &Store,
    campaigns: &CampaignSet,
    cursor: i64,
    now: i64,
    lookback_seconds: i64,
    limit: i64,
) -> Result<(Vec<TriggerFire>, i64)> {
    let triggered: Vec<_> = campaigns
        .iter()
        .filter(|c| matches!(c.schedule, Schedule::Trigger { .. }))
        .collect();
    let rows: Vec<(i64, String, i64, Option<i64>, String)> =
        with_pool!(store, pool => sqlx::query_as(
        "SELECT id, event_type, occurred_at, customer_id, CAST(payload AS TEXT) FROM events
         WHERE id > $1 OR (recorded_at >= $2 AND id > $1 - 10000)
         ORDER BY CASE WHEN id > $1 THEN 0 ELSE 1 END, id LIMIT $3")
        .bind(cursor).bind(now - lookback_seconds).bind(limit).fetch_all(pool).await)
        .map_err(Error::db("reading events for triggers"))?;
    let mut next = cursor;
    let mut fires = Vec::new();
    for (id, event_type, occurred_at, customer_id, payload) in rows {
        next = next.max(id);
        // Only live events start campaigns: an imported history of old events does not.
        let Some(customer_id) = customer_id.filter(|_| occurred_at >= now - STALE_AFTER) else {
            continue;
        };
        let payload: serde_json::Value =
            serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null);
        for c in &triggered {
            if let Schedule::Trigger { delay, .. } = &c.schedule
                && c.schedule.matches(&event_type, &payload)
            {
                let at = DateTime::from_timestamp(occurred_at, 0).unwrap_or_default() + *delay;
                fires.push(TriggerFire {
                    campaign: c.name.clone(),
                    event_id: id,
                    customer_id,
                    due_at: at,
                });
            }
        }
    }
    Ok((fires, next))
}

/// The stored value of a scheduler cursor (0 when never written).
pub async fn read_cursor(store: &Store, name: &str) -> Result<i64> {
    let v: Option<i64> = with_pool!(store, pool => sqlx::query_scalar(
        "SELECT value FROM scheduler_state WHERE name = $1").bind(name).fetch_optional(pool).await)
    .map_err(Error::db("reading the scheduler state"))?;
    Ok(v.unwrap_or(0))
}

/// Moves a scheduler cursor forward (never back).
pub async fn write_cursor(store: &Store, name: &str, value: i64) -> Result<()> {
    with_pool!(store, pool => sqlx::query(
        "INSERT INTO scheduler_state (name, value) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET value = CASE WHEN excluded.value > scheduler_state.value
           THEN excluded.value ELSE scheduler_state.value END")
        .bind(name).bind(value).execute(pool).await.map(|r| r.rows_affected()))
    .map_err(Error::db("writing the scheduler state"))?;
    Ok(())
}
