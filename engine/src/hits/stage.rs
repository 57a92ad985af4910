//! SQLite's stage: opens and clicks written under load wait in `staged_hits` (one row and one
//! unique key each) and are moved into `events` a slice at a time, sorted like the index by
//! customer, so each page of that index is written once for all the hits it takes instead of
//! once per batch.

use super::Shared;
use crate::error::{Error, Result};
use sqlx::SqlitePool;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Batches of at least this many hits are staged (a busy server); smaller ones go straight into
/// `events`, unless hits are staged already.
const STAGE_FROM: usize = 8;

/// A merge starts once this many hits are staged (more write each page of the index by
/// customer for more hits; fewer merges less often), once the first of them has waited
/// [`MERGE_AFTER`], or when the server is quiet.
const MERGE_ROWS: usize = 8192;
const MERGE_AFTER: Duration = Duration::from_secs(1);

/// Hits moved into `events` per step of a merge: one step runs after each batch, so the
/// requests of the next batch wait for one step, not for the whole merge.
const MERGE_STEP: i64 = 1024;

/// What is staged and what is being moved.
#[derive(Debug)]
pub(super) struct Stage {
    pool: SqlitePool,
    /// Where the hits moved are counted.
    shared: Arc<Shared>,
    /// Hits staged since the last merge began, and when the first of them was. Starts at one:
    /// a crash may have left some, and the writer's first drain finds out.
    waiting: usize,
    since: Instant,
    merge: Option<Merge>,
}

/// A merge under way: the staged hits with ids up to `upto`, copied in the order of the index
/// by customer into `temp.hits_merging` (rowids 1..=`last`); those up to `done` are in `events`.
#[derive(Debug, Clone, Copy)]
struct Merge {
    upto: i64,
    done: i64,
    last: i64,
}

impl Stage {
    /// The stage of the writer's connection: `pool` holds that one connection and never
    /// replaces it, so the temporary table of a merge under way stays.
    pub(super) fn new(pool: SqlitePool, shared: Arc<Shared>) -> Stage {
        Stage {
            pool,
            shared,
            waiting: 1,
            since: Instant::now(),
            merge: None,
        }
    }

    /// Whether a batch of `hits` is staged. While anything is staged or being moved, every
    /// batch is: a key must be looked up where its earlier copy may be.
    pub(super) fn takes(&self, hits: usize) -> bool {
        self.busy() || hits >= STAGE_FROM
    }

    /// Whether some hits are not in `events` yet.
    pub(super) fn busy(&self) -> bool {
        self.waiting > 0 || self.merge.is_some()
    }

    /// Counts `hits` newly staged.
    pub(super) fn staged(&mut self, hits: usize) {
        if self.waiting == 0 {
            self.since = Instant::now();
        }
        self.waiting += hits;
    }

    /// The work due after a batch: starts a merge if one is due, and moves the next step of the
    /// merge under way.
    pub(super) async fn after_batch(&mut self) {
        let due =
            self.waiting >= MERGE_ROWS || (self.waiting > 0 && self.since.elapsed() >= MERGE_AFTER);
        let result = async {
            if self.merge.is_none() && due {
                self.begin().await?;
            }
            self.step().await
        }
        .await;
        self.settle(result);
    }

    /// Moves everything staged into `events` (a quiet server, or one stopping); false if a
    /// statement failed.
    pub(super) async fn drain(&mut self) -> bool {
        let result = async {
            while self.busy() {
                if self.merge.is_none() {
                    self.begin().await?;
                }
                self.step().await?;
            }
            Ok(())
        }
        .await;
        self.settle(result)
    }

    /// After a failed statement: logs it, and whatever was under way starts again from what is
    /// staged (the hits stay staged until the step that moved them commits, and those already
    /// moved are skipped by their keys, so nothing is lost or doubled).
    fn settle(&mut self, result: Result<()>) -> bool {
        let Err(e) = result else {
            return true;
        };
        tracing::error!(error = %e, "moving staged opens and clicks into events failed");
        self.merge = None;
        self.waiting = self.waiting.max(1);
        false
    }

    /// Copies every staged hit, sorted, into the temporary table the steps read.
    async fn begin(&mut self) -> Result<()> {
        let context = "sorting staged opens and clicks";
        let upto: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM staged_hits")
            .fetch_one(&self.pool)
            .await
            .map_err(Error::db(context))?;
        self.waiting = 0;
        if upto == 0 {
            return Ok(());
        }
        let mut tx = self.pool.begin().await.map_err(Error::db(context))?;
        for sql in [
            "CREATE TEMP TABLE IF NOT EXISTS hits_merging (event_type TEXT, occurred_at BIGINT,
               customer_id BIGINT, campaign TEXT, message_id BIGINT, link TEXT, idempotency_key TEXT)",
            "DELETE FROM temp.hits_merging",
        ] {
            sqlx::query(sql)
                .execute(&mut *tx)
                .await
                .map_err(Error::db(context))?;
        }
        let last = sqlx::query(
            "INSERT INTO temp.hits_merging
             SELECT event_type, occurred_at, customer_id, campaign, message_id, link, idempotency_key
             FROM staged_hits WHERE id <= ? ORDER BY customer_id, event_type, occurred_at",
        )
        .bind(upto)
        .execute(&mut *tx)
        .await
        .map_err(Error::db(context))?
        .rows_affected();
        tx.commit().await.map_err(Error::db(context))?;
        self.merge = Some(Merge {
            upto,
            done: 0,
            last: i64::try_from(last).unwrap_or(i64::MAX),
        });
        Ok(())
    }

    /// Moves the next [`MERGE_STEP`] hits of the merge under way into `events` in one
    /// transaction; the last step also deletes the merged hits from the stage. A hit whose
    /// customer was deleted while it was staged goes with the customer.
    async fn step(&mut self) -> Result<()> {
        let Some(m) = self.merge else {
            return Ok(());
        };
        let context = "moving staged opens and clicks into events";
        let end = m.done.saturating_add(MERGE_STEP);
        let mut tx = self.pool.begin().await.map_err(Error::db(context))?;
        let moved = sqlx::query(
            "INSERT INTO events (event_type, occurred_at, customer_id, campaign, message_id, link, idempotency_key, recorded_at)
             SELECT event_type, occurred_at, customer_id, campaign, message_id, link, idempotency_key, occurred_at
             FROM temp.hits_merging m
             WHERE m.rowid > ? AND m.rowid <= ?
               AND (m.customer_id IS NULL OR m.customer_id IN (SELECT id FROM customers))
             ORDER BY m.rowid
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(m.done)
        .bind(end)
        .execute(&mut *tx)
        .await
        .map_err(Error::db(context))?
        .rows_affected();
        let finished = end >= m.last;
        if finished {
            sqlx::query("DELETE FROM staged_hits WHERE id <= ?")
                .bind(m.upto)
                .execute(&mut *tx)
                .await
                .map_err(Error::db(context))?;
            sqlx::query("DELETE FROM temp.hits_merging")
                .execute(&mut *tx)
                .await
                .map_err(Error::db(context))?;
        }
        tx.commit().await.map_err(Error::db(context))?;
        self.shared.merged.fetch_add(moved, Ordering::Relaxed);
        self.merge = (!finished).then_some(Merge { done: end, ..m });
        Ok(())
    }
}
