//! Opens and clicks, written in batches (group commit). A tracking request hands its hit to
//! [`HitWriter`] and waits for the commit, so a 2xx answer still means the hit is stored; the
//! database sees one statement per batch — everything that arrived while the previous batch
//! was being written — instead of one transaction per request.
//!
//! On SQLite, under load, a batch is staged (`staged_hits`: one row and one unique key per hit,
//! a few pages per commit) instead of going into `events`, whose table and four indexes take
//! about one page per hit because the index by customer is written at random places. Staged
//! hits are moved into `events` every few thousand, sorted, a slice after each batch (see
//! [`stage`]), so each page of that index is written once for many hits. A quiet server writes
//! straight into `events`. The WAL is checkpointed beside the writer, not in its way (see
//! [`checkpoints`]).

mod checkpoints;
mod stage;
mod write;

use crate::error::{Error, Result};
use crate::store::Store;
use checkpoints::checkpoints;
use stage::Stage;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{Mutex, mpsc, oneshot};
use write::{Target, write};

/// The most hits one statement writes (4 bound values each, well under either database's
/// parameter limit).
const MAX_BATCH: usize = 1000;

/// PostgreSQL writers: while one waits for its commit to reach the disk, others fill and write
/// the next batches, and the server flushes their commits together.
const WRITERS_POSTGRES: usize = 4;

/// When nothing has come for this long, whatever is staged is moved into `events`.
const QUIET: Duration = Duration::from_millis(10);

/// What a tracking request saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hit {
    /// The open pixel was fetched.
    Open,
    /// A tracked link was followed to this URL.
    Click(String),
}

/// What recording a hit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// A new event was stored.
    New,
    /// The same hit was stored before (a mail client fetching the pixel twice in a minute, a
    /// double click in the same second): nothing new.
    Repeat,
    /// The message does not exist (the database was reset since the token was signed).
    NoMessage,
}

struct Pending {
    message_id: i64,
    hit: Hit,
    at: i64,
    reply: oneshot::Sender<Result<Recorded>>,
}

/// Hands hits to the writer tasks. Cheap to clone; the writers stop when every clone is gone.
#[derive(Debug, Clone)]
pub struct HitWriter {
    tx: mpsc::Sender<Pending>,
    shared: Arc<Shared>,
}

impl HitWriter {
    /// Starts the writer tasks on the current Tokio runtime: for SQLite one writer on its own
    /// connection and a checkpointer; for PostgreSQL [`WRITERS_POSTGRES`] writers.
    pub fn start(store: &Store) -> HitWriter {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        let rx = Arc::new(Mutex::new(rx));
        let shared = Arc::new(Shared::default());
        match store {
            Store::Sqlite(pool) => {
                // The writer's own connection never checkpoints: a checkpoint copies every
                // page changed since the last one back into the database and syncs the file,
                // and the requests waiting on the batch would wait for that too. `checkpoints`
                // does it on another connection, beside the writer. The writer's page cache is
                // small: SQLite walks the whole cache at the end of every write transaction,
                // and a writer's working set is the pages it appends to.
                let options = (*pool.connect_options())
                    .clone()
                    .pragma("wal_autocheckpoint", "0")
                    .pragma("cache_size", "-8192");
                // One connection, kept for good: a merge's sorted copy is a temporary table.
                let writer = sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .connect_lazy_with(options);
                let stage = Stage::new(writer.clone(), shared.clone());
                tokio::spawn(checkpoints(pool.clone(), tx.downgrade(), shared.clone()));
                tokio::spawn(run(Store::Sqlite(writer), Some(stage), rx, shared.clone()));
            }
            Store::Postgres(_) => {
                for _ in 0..WRITERS_POSTGRES {
                    tokio::spawn(run(store.clone(), None, rx.clone(), shared.clone()));
                }
            }
        }
        HitWriter { tx, shared }
    }

    /// How many transactions the writers have committed or tried (for `/metrics`).
    pub fn batches(&self) -> u64 {
        self.shared.batches.load(Ordering::Relaxed)
    }

    /// How many staged hits have been moved into `events` (for `/metrics`; SQLite only).
    pub fn merged(&self) -> u64 {
        self.shared.merged.load(Ordering::Relaxed)
    }

    /// Records `hit` on message `message_id` at `at` (Unix seconds); returns once it is
    /// committed.
    pub async fn record(&self, message_id: i64, hit: Hit, at: i64) -> Result<Recorded> {
        let (reply, answer) = oneshot::channel();
        let stopped = || Error::Batch("the event writer has stopped".into());
        self.tx
            .send(Pending {
                message_id,
                hit,
                at,
                reply,
            })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// What the writers and the checkpointer share.
#[derive(Debug, Default)]
struct Shared {
    /// Transactions tried.
    batches: AtomicU64,
    /// Staged hits moved into `events`.
    merged: AtomicU64,
    /// Set when the SQLite WAL has grown past [`checkpoints::RESTART_FRAMES`]: the writer restarts it.
    restart_wal: AtomicBool,
}

/// Writes batches until every sender is gone, staging them on SQLite when `stage` says so. A
/// staged batch's replies go out before the merge step that follows it.
async fn run(
    store: Store,
    mut stage: Option<Stage>,
    rx: Arc<Mutex<mpsc::Receiver<Pending>>>,
    shared: Arc<Shared>,
) {
    // What a crash left staged goes into `events` before anything new comes.
    if let Some(stage) = stage.as_mut() {
        stage.drain().await;
    }
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        {
            let mut rx = rx.lock().await;
            let mut received = None;
            if let Some(stage) = stage.as_mut().filter(|s| s.busy()) {
                received = tokio::time::timeout(QUIET, rx.recv_many(&mut batch, MAX_BATCH))
                    .await
                    .ok();
                if received.is_none() && !stage.drain().await {
                    // Failed: try again after the next batch, not every QUIET.
                    received = Some(rx.recv_many(&mut batch, MAX_BATCH).await);
                }
            }
            let received = match received {
                Some(n) => n,
                None => rx.recv_many(&mut batch, MAX_BATCH).await,
            };
            if received == 0 {
                if let Some(stage) = stage.as_mut() {
                    stage.drain().await;
                }
                return;
            }
            // Let the requests already read off their sockets join this batch.
            tokio::task::yield_now().await;
            while batch.len() < MAX_BATCH
                && let Ok(p) = rx.try_recv()
            {
                batch.push(p);
            }
        }
        shared.batches.fetch_add(1, Ordering::Relaxed);
        let target = match &stage {
            Some(s) if s.takes(batch.len()) => Target::Staged,
            _ => Target::Events,
        };
        match write(&store, &batch, target).await {
            Ok(outcomes) => {
                if let (Target::Staged, Some(stage)) = (target, stage.as_mut()) {
                    stage.staged(outcomes.iter().filter(|o| **o == Recorded::New).count());
                }
                for (p, outcome) in batch.drain(..).zip(outcomes) {
                    // The requester may have gone (client hung up); the event stays recorded.
                    let _ = p.reply.send(Ok(outcome));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, hits = batch.len(), "writing opens and clicks failed");
                let reason = e.to_string();
                for p in batch.drain(..) {
                    let _ = p.reply.send(Err(Error::Batch(reason.clone())));
                }
            }
        }
        if let Some(stage) = stage.as_mut() {
            stage.after_batch().await;
        }
        if let Store::Sqlite(pool) = &store
            && shared.restart_wal.swap(false, Ordering::AcqRel)
            && let Err(e) = sqlx::query("PRAGMA wal_checkpoint(RESTART)")
                .execute(pool)
                .await
        {
            tracing::warn!(error = %e, "restarting the database's WAL failed");
        }
    }
}
