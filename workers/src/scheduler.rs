//! Starting runs and keeping the queue fed: `jalin send` starts one run; the scheduler fires
//! cron and one-shot campaigns on time, starts triggered campaigns from recorded events, and
//! re-queues outbox rows that are due but in no queue (retries, deferred messages, rows of a
//! crashed worker).
//!
//! Every run is unique per (campaign, trigger key) in the database, so two schedulers racing
//! for the same tick start it once: the loser sees the run exists and moves on.

use crate::queue::{DeliverBatch, Queue};
use chrono::{DateTime, Utc};
use jalin_engine::campaigns::{
    Audience, Campaign, CampaignSet, PlanOptions, PlanStats, RunStart, Schedule, due_for_enqueue,
    finish_run, mark_enqueued, plan_run, read_cursor, release_expired, scan_triggers, start_run,
    write_cursor,
};
use jalin_engine::clock::SharedClock;
use jalin_engine::segments::SegmentSet;
use jalin_engine::store::Store;
use serde::Serialize;

/// Plans runs and pushes their batches.
#[derive(Debug, Clone)]
pub struct Planner {
    /// The customer database.
    pub store: Store,
    /// Segments.
    pub segments: SegmentSet,
    /// Campaigns.
    pub campaigns: CampaignSet,
    /// The delivery queue.
    pub queue: Queue,
    /// Planning options.
    pub options: PlanOptions,
    /// The time.
    pub clock: SharedClock,
}

/// One run started (or found already started).
#[derive(Debug, Clone, Serialize)]
pub struct Fired {
    /// The campaign.
    pub campaign: String,
    /// The run id.
    pub run_id: i64,
    /// What started it.
    pub trigger_key: String,
    /// What planning did (none when another process had already planned it).
    pub stats: Option<PlanStats>,
}

/// Errors of planning and scheduling.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] jalin_engine::Error),
    /// The queue failed.
    #[error(transparent)]
    Queue(#[from] crate::queue::QueueError),
}

impl Planner {
    /// Starts the run (campaign, `trigger_key`) unless it exists, and plans it. With `resume`
    /// an existing run is planned again (a run left half-planned by a crash): rows already in
    /// the outbox are kept as they are, so nothing is written or sent twice.
    #[allow(clippy::too_many_arguments)]
    pub async fn fire(
        &self,
        campaign: &Campaign,
        trigger_key: &str,
        at: DateTime<Utc>,
        audience: Audience,
        event: Option<i64>,
        resume: bool,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Fired, ScheduleError> {
        let now = self.clock.now();
        let customer = match (audience, event) {
            (Audience::Customer(c), Some(e)) => Some((c, e)),
            _ => None,
        };
        let start = start_run(
            &self.store,
            campaign,
            trigger_key,
            at.timestamp(),
            customer,
            now.timestamp(),
        )
        .await?;
        let run_id = match start {
            RunStart::New(id) => id,
            RunStart::Exists { id, .. } if resume => id,
            RunStart::Exists { id, .. } => {
                return Ok(Fired {
                    campaign: campaign.name.clone(),
                    run_id: id,
                    trigger_key: trigger_key.to_owned(),
                    stats: None,
                });
            }
        };
        let queue = self.queue.clone();
        let enqueue = async |ids: Vec<i64>| -> jalin_engine::Result<()> {
            queue
                .push(DeliverBatch { ids })
                .await
                .map_err(|e| jalin_engine::Error::Invalid(e.to_string()))
        };
        let result = plan_run(
            &self.store,
            &self.segments,
            campaign,
            run_id,
            audience,
            at,
            now,
            &self.options,
            enqueue,
            progress,
        )
        .await;
        let finished = self.clock.now().timestamp();
        match result {
            Ok(stats) => {
                let json = serde_json::to_value(&stats).unwrap_or_default();
                finish_run(&self.store, run_id, &json, None, finished).await?;
                tracing::info!(campaign = %campaign.name, run_id, queued = stats.queued, held_out = stats.held_out, "run planned");
                Ok(Fired {
                    campaign: campaign.name.clone(),
                    run_id,
                    trigger_key: trigger_key.to_owned(),
                    stats: Some(stats),
                })
            }
            Err(e) => {
                // Rows already written stay and are delivered; the run shows why it stopped.
                finish_run(
                    &self.store,
                    run_id,
                    &serde_json::json!({}),
                    Some(&e.to_string()),
                    finished,
                )
                .await?;
                Err(e.into())
            }
        }
    }

    /// Pushes due rows that are in no queue; first returns rows of dead workers to the queue.
    pub async fn sweep(&self) -> Result<u64, ScheduleError> {
        let now = self.clock.now().timestamp();
        let lease = self.options.lease_seconds;
        let released = release_expired(&self.store, now, lease).await?;
        if released > 0 {
            tracing::warn!(
                released,
                "outbox rows of a stopped worker returned to the queue"
            );
        }
        let mut pushed = 0;
        loop {
            let ids = due_for_enqueue(&self.store, None, now, lease, 10_000).await?;
            if ids.is_empty() {
                break;
            }
            for chunk in ids.chunks(self.options.batch.max(1)) {
                self.queue
                    .push(DeliverBatch {
                        ids: chunk.to_vec(),
                    })
                    .await?;
                mark_enqueued(&self.store, chunk, now).await?;
                pushed += chunk.len() as u64;
            }
            if ids.len() < 10_000 {
                break;
            }
        }
        Ok(pushed)
    }

    /// One scheduler step: due cron and one-shot runs, triggers from new events, the sweep.
    pub async fn tick(&self) -> Result<Vec<Fired>, ScheduleError> {
        let now = self.clock.now();
        let mut fired = Vec::new();
        // Time-based runs: the ticks since the last step (only the latest one of each campaign
        // when the scheduler was down for a while: a missed Monday mailing is sent once, late).
        let last = read_cursor(&self.store, "schedule").await?;
        let since = if last == 0 {
            now - chrono::Duration::seconds(1)
        } else {
            DateTime::from_timestamp(last, 0).unwrap_or(now)
        };
        for c in self.campaigns.iter() {
            if let Some(t) = c.schedule.due_between(since, now).last() {
                let key = match c.schedule {
                    Schedule::Once { .. } => format!("at:{}", t.timestamp()),
                    _ => format!("cron:{}", t.timestamp()),
                };
                match self
                    .fire(c, &key, *t, Audience::Segment, None, false, &|_| {})
                    .await
                {
                    Ok(f) if f.stats.is_some() => fired.push(f),
                    Ok(_) => {}
                    Err(e) => tracing::error!(campaign = %c.name, error = %e, "run failed"),
                }
            }
        }
        write_cursor(&self.store, "schedule", now.timestamp()).await?;
        // Triggered runs.
        let cursor = read_cursor(&self.store, "triggers").await?;
        let (fires, next) = scan_triggers(
            &self.store,
            &self.campaigns,
            cursor,
            now.timestamp(),
            30,
            5_000,
        )
        .await?;
        for t in fires {
            let Some(c) = self.campaigns.get(&t.campaign) else {
                continue;
            };
            let key = format!("event:{}", t.event_id);
            let at = t.due_at.max(now);
            match self
                .fire(
                    c,
                    &key,
                    at,
                    Audience::Customer(t.customer_id),
                    Some(t.event_id),
                    false,
                    &|_| {},
                )
                .await
            {
                Ok(f) if f.stats.is_some() => fired.push(f),
                Ok(_) => {}
                Err(e) => tracing::error!(campaign = %c.name, error = %e, "triggered run failed"),
            }
        }
        write_cursor(&self.store, "triggers", next).await?;
        self.sweep().await?;
        Ok(fired)
    }
}

impl Planner {
    /// Plans `campaign` for its segment now without writing or queueing anything.
    pub async fn dry_run(
        &self,
        campaign: &Campaign,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<PlanStats, ScheduleError> {
        let now = self.clock.now();
        let options = PlanOptions {
            dry_run: true,
            ..self.options.clone()
        };
        let nothing = async |_: Vec<i64>| -> jalin_engine::Result<()> { Ok(()) };
        Ok(plan_run(
            &self.store,
            &self.segments,
            campaign,
            0,
            Audience::Segment,
            now,
            now,
            &options,
            nothing,
            progress,
        )
        .await?)
    }
}
