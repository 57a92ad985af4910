//! Opens and clicks, written in batches (group commit). A tracking request hands its hit to
//! [`HitWriter`] and waits for the commit, so a 2xx answer still means the event is stored;
//! the database sees one statement per batch — everything that arrived while the previous
//! batch was being written — instead of one transaction per request. On SQLite the WAL is
//! checkpointed beside the writer, not in its way (see [`checkpoints`]).

use crate::error::{Error, Result};
use crate::store::{Store, in_list};
use crate::with_pool;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{Mutex, mpsc, oneshot};

/// The most hits one statement writes (4 bound values each, well under either database's
/// parameter limit).
const MAX_BATCH: usize = 1000;

/// PostgreSQL writers: while one waits for its commit to reach the disk, others fill and write
/// the next batches, and the server flushes their commits together.
const WRITERS_POSTGRES: usize = 4;

/// How often the SQLite WAL is checkpointed while hits are being written.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// The WAL length (4 KiB frames, so 32 MiB) past which the SQLite writer restarts it.
const RESTART_FRAMES: i64 = 8192;

/// The restart copies what the passive checkpoints have not and syncs the database file while
/// the requests wait, so it should find little left: past [`RESTART_FRAMES`], passive
/// checkpoints run back to back until the writer added fewer than this many frames during one
/// (or [`CATCH_UP_PASSES`] have run), and only then is the writer asked to restart.
const TAIL_FRAMES: i64 = 512;
const CATCH_UP_PASSES: u32 = 8;

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
                let writer = Store::Sqlite(
                    sqlx::sqlite::SqlitePoolOptions::new()
                        .max_connections(1)
                        .connect_lazy_with(options),
                );
                tokio::spawn(checkpoints(pool.clone(), tx.downgrade(), shared.clone()));
                tokio::spawn(run(writer, rx, shared.clone()));
            }
            Store::Postgres(_) => {
                for _ in 0..WRITERS_POSTGRES {
                    tokio::spawn(run(store.clone(), rx.clone(), shared.clone()));
                }
            }
        }
        HitWriter { tx, shared }
    }

    /// How many transactions the writers have committed or tried (for `/metrics`).
    pub fn batches(&self) -> u64 {
        self.shared.batches.load(Ordering::Relaxed)
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
    /// Set when the SQLite WAL has grown past [`RESTART_FRAMES`]: the writer restarts it.
    restart_wal: AtomicBool,
}

/// Checkpoints the SQLite WAL every [`CHECKPOINT_EVERY`] while batches are being written, until
/// the writer is gone. A passive checkpoint copies pages without stopping the writer. It cannot
/// shorten the WAL while writes keep coming, so once the WAL is long the writer is asked to
/// restart it itself between two batches, after the passive checkpoints have caught up: only
/// the frames added since the last of them remain to copy, and the writer never waits on a lock
/// for it.
async fn checkpoints(
    pool: sqlx::SqlitePool,
    writer: mpsc::WeakSender<Pending>,
    shared: Arc<Shared>,
) {
    let mut seen = shared.batches.load(Ordering::Relaxed);
    // While catching up: the WAL's length at the previous pass, and the passes so far.
    let mut catching_up: Option<(i64, u32)> = None;
    loop {
        if catching_up.is_none() {
            tokio::time::sleep(CHECKPOINT_EVERY).await;
        }
        if writer.upgrade().is_none() {
            return;
        }
        let now = shared.batches.load(Ordering::Relaxed);
        if now == seen && catching_up.is_none() {
            continue;
        }
        seen = now;
        // (busy, frames in the WAL, frames copied)
        match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&pool)
            .await
        {
            Ok((_, frames, _)) if frames >= RESTART_FRAMES => {
                catching_up = match catching_up {
                    Some((before, passes))
                        if (0..TAIL_FRAMES).contains(&(frames - before))
                            || passes >= CATCH_UP_PASSES =>
                    {
                        shared.restart_wal.store(true, Ordering::Release);
                        None
                    }
                    Some((_, passes)) => Some((frames, passes + 1)),
                    None => Some((frames, 1)),
                };
            }
            Ok(_) => catching_up = None,
            Err(e) => {
                catching_up = None;
                tracing::warn!(error = %e, "checkpointing the database failed");
            }
        }
    }
}

/// Writes batches until every sender is gone.
async fn run(store: Store, rx: Arc<Mutex<mpsc::Receiver<Pending>>>, shared: Arc<Shared>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        {
            let mut rx = rx.lock().await;
            if rx.recv_many(&mut batch, MAX_BATCH).await == 0 {
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
        match write(&store, &batch).await {
            Ok(outcomes) => {
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

/// The idempotency key of a hit: opens count once per message per minute, clicks once per
/// message, link and second.
fn key(p: &Pending) -> String {
    match &p.hit {
        Hit::Open => format!("open:{}:{}", p.message_id, p.at / 60),
        Hit::Click(url) => {
            let link_hash = crate::campaigns::fnv1a(&[url.as_bytes()]);
            format!("click:{}:{link_hash:x}:{}", p.message_id, p.at)
        }
    }
}

/// One statement, committed on its own: each hit joined to its message (the customer, the
/// campaign, and the channel that names a click `sms.clicked` or `email.clicked`) and inserted
/// unless its key is stored already. Only when some hit was not inserted does a second query
/// tell a repeat from a message that does not exist.
async fn write(store: &Store, batch: &[Pending]) -> Result<Vec<Recorded>> {
    let keys: Vec<String> = batch.iter().map(key).collect();
    let context = "recording opens and clicks";
    let mut inserted: HashSet<String> = with_pool!(store, pool, Db => {
        let mut qb = sqlx::QueryBuilder::<Db>::new(
            "INSERT INTO events (event_type, occurred_at, customer_id, campaign, message_id, link, idempotency_key, recorded_at)
             SELECT CASE WHEN h.column3 IS NULL THEN 'email.opened' WHEN o.channel = 'sms' THEN 'sms.clicked' ELSE 'email.clicked' END,
                    h.column2, o.customer_id, o.campaign, o.id, h.column3, h.column4, h.column2
             FROM (",
        );
        qb.push_values(batch.iter().zip(&keys), |mut b, (p, key)| {
            let link = match &p.hit {
                Hit::Open => None,
                Hit::Click(url) => Some(url.as_str()),
            };
            b.push_bind(p.message_id)
                .push_bind(p.at)
                .push_bind(link)
                .push_bind(key.as_str());
        });
        // `WHERE TRUE` keeps SQLite from reading ON CONFLICT as part of the join.
        qb.push(
            ") AS h JOIN outbox o ON o.id = h.column1 WHERE TRUE
             ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key",
        );
        qb.build_query_scalar::<String>()
            .fetch_all(pool)
            .await
            .map_err(Error::db(context))?
            .into_iter()
            .collect()
    });
    let mut known: Option<HashSet<i64>> = None;
    if inserted.len() < batch.len() {
        let ids: HashSet<i64> = batch.iter().map(|p| p.message_id).collect();
        let found: Vec<i64> = with_pool!(store, pool, Db => {
            let mut qb = sqlx::QueryBuilder::<Db>::new("SELECT id FROM outbox WHERE id IN (");
            in_list!(qb, ids.iter());
            qb.build_query_scalar().fetch_all(pool).await
        })
        .map_err(Error::db(context))?;
        known = Some(found.into_iter().collect());
    }
    // The first hit with a new key is the one recorded; the same key again is a repeat.
    Ok(batch
        .iter()
        .zip(keys)
        .map(|(p, key)| {
            if inserted.remove(&key) {
                Recorded::New
            } else if known.as_ref().is_some_and(|k| !k.contains(&p.message_id)) {
                Recorded::NoMessage
            } else {
                Recorded::Repeat
            }
        })
        .collect())
}
