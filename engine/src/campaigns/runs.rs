//! Campaign runs: one row per firing, unique per (campaign, trigger key), so a cron tick, a
//! one-shot time or an event starts a run exactly once however many schedulers race for it.

use super::definition::Campaign;
use crate::error::{Error, Result};
use crate::store::Store;
use crate::with_pool;
use serde::Serialize;

/// What [`start_run`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStart {
    /// This call created the run: plan it.
    New(i64),
    /// The run already exists; `planned` says whether its planning finished (if not, planning
    /// it again resumes where a crashed planner stopped: outbox rows are unique).
    Exists {
        /// The run's id.
        id: i64,
        /// Whether it was planned to the end.
        planned: bool,
    },
}

impl RunStart {
    /// The run's id.
    pub fn id(self) -> i64 {
        match self {
            RunStart::New(id) | RunStart::Exists { id, .. } => id,
        }
    }
}

/// Creates the run for (campaign, trigger key) unless it exists.
pub async fn start_run(
    store: &Store,
    campaign: &Campaign,
    trigger_key: &str,
    scheduled_for: i64,
    customer: Option<(i64, i64)>,
    now: i64,
) -> Result<RunStart> {
    let (customer_id, event_id) = customer.map_or((None, None), |(c, e)| (Some(c), Some(e)));
    let inserted: Option<i64> = with_pool!(store, pool => sqlx::query_scalar(
        "INSERT INTO campaign_runs (campaign, trigger_key, kind, scheduled_for, created_at, status, customer_id, event_id)
         VALUES ($1, $2, $3, $4, $5, 'planning', $6, $7)
         ON CONFLICT (campaign, trigger_key) DO NOTHING RETURNING id")
        .bind(&campaign.name).bind(trigger_key).bind(campaign.kind.as_str()).bind(scheduled_for)
        .bind(now).bind(customer_id).bind(event_id)
        .fetch_optional(pool).await)
    .map_err(Error::db("starting a campaign run"))?;
    if let Some(id) = inserted {
        return Ok(RunStart::New(id));
    }
    let (id, status): (i64, String) = with_pool!(store, pool => sqlx::query_as(
        "SELECT id, status FROM campaign_runs WHERE campaign = $1 AND trigger_key = $2")
        .bind(&campaign.name).bind(trigger_key).fetch_one(pool).await)
    .map_err(Error::db("reading a campaign run"))?;
    Ok(RunStart::Exists {
        id,
        planned: status == "planned",
    })
}

/// Marks a run planned (or failed, with the reason) and stores its statistics.
pub async fn finish_run(
    store: &Store,
    run_id: i64,
    stats: &serde_json::Value,
    error: Option<&str>,
    now: i64,
) -> Result<()> {
    let status = if error.is_some() { "failed" } else { "planned" };
    with_pool!(store, pool => sqlx::query(
        "UPDATE campaign_runs SET status = $1, stats = $2, error = $3, planned_at = $4 WHERE id = $5")
        .bind(status).bind(stats.to_string()).bind(error).bind(now).bind(run_id)
        .execute(pool).await.map(|r| r.rows_affected()))
    .map_err(Error::db("finishing a campaign run"))?;
    Ok(())
}

/// One run, as listed.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct RunInfo {
    /// The run's id.
    pub id: i64,
    /// The campaign.
    pub campaign: String,
    /// What started it.
    pub trigger_key: String,
    /// `planning`, `planned` or `failed`.
    pub status: String,
    /// When it was due (Unix seconds).
    pub scheduled_for: i64,
}

/// The most recent runs, newest first.
pub async fn list_runs(store: &Store, campaign: Option<&str>, limit: i64) -> Result<Vec<RunInfo>> {
    with_pool!(store, pool => sqlx::query_as::<_, RunInfo>(
        "SELECT id, campaign, trigger_key, status, scheduled_for FROM campaign_runs
         WHERE ($1 IS NULL OR campaign = $1) ORDER BY id DESC LIMIT $2")
        .bind(campaign).bind(limit).fetch_all(pool).await)
    .map_err(Error::db("listing campaign runs"))
}

/// Outbox rows of a campaign (one run, or all), counted by status.
pub async fn campaign_funnel(
    store: &Store,
    campaign: &str,
    run_id: Option<i64>,
) -> Result<Vec<(String, i64)>> {
    with_pool!(store, pool => sqlx::query_as::<_, (String, i64)>(
        "SELECT status, CAST(COUNT(*) AS BIGINT) FROM outbox
         WHERE campaign = $1 AND ($2 IS NULL OR run_id = $2) GROUP BY status ORDER BY status")
        .bind(campaign).bind(run_id).fetch_all(pool).await)
    .map_err(Error::db("counting outbox rows"))
}
