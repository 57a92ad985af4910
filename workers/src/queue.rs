//! The delivery queue (apalis): embedded in its own SQLite file by default, or on Redis so any
//! number of `jalin worker` processes on any machines share it.
//!
//! A job carries only outbox ids; the outbox row is the truth (see
//! `jalin_engine::campaigns`). A job lost, duplicated or retried by the queue can therefore
//! neither lose a message nor send one twice: the scheduler re-pushes rows nobody claimed, and
//! a claim succeeds once.

use crate::delivery::Delivery;
use apalis::prelude::*;
use apalis_redis::RedisStorage;
use apalis_sqlite::SqliteStorage;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// The queue's name in either storage. Set explicitly: apalis defaults to the Rust type's
/// path, which would orphan queued jobs when a module is renamed.
pub const DELIVER_QUEUE: &str = "jalin.deliver";

/// Jobs a worker fetches per round trip to the queue.
const FETCH_BATCH: usize = 100;

/// One delivery job: outbox rows to claim, render and send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliverBatch {
    /// Outbox ids.
    pub ids: Vec<i64>,
}

/// Errors from the queue.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The URL is not a queue this build knows.
    #[error("unsupported queue URL {0} (expected sqlite://PATH or redis://HOST:PORT)")]
    Url(String),
    /// The storage could not be reached or set up.
    #[error("cannot open the queue at {url}: {reason}")]
    Connect {
        /// The URL without password.
        url: String,
        /// Why.
        reason: String,
    },
    /// Pushing a job failed.
    #[error("cannot push to the queue: {0}")]
    Push(String),
    /// A worker stopped with an error.
    #[error("worker failed: {0}")]
    Worker(String),
}

/// A connected queue.
#[derive(Clone)]
pub enum Queue {
    /// Embedded.
    Sqlite(SqliteStorage<DeliverBatch>),
    /// Redis, with a connection and the key names for [`promote`].
    Redis(
        RedisStorage<DeliverBatch>,
        redis::aio::ConnectionManager,
        Arc<apalis_redis::Config>,
    ),
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Queue::Sqlite(_) => "Queue::Sqlite",
            Queue::Redis(..) => "Queue::Redis",
        })
    }
}

impl Queue {
    /// Opens `sqlite://PATH` (created with its tables on first use) or `redis://…`.
    pub async fn connect(url: &str) -> Result<Queue, QueueError> {
        Queue::connect_named(url, DELIVER_QUEUE).await
    }

    /// Like [`Queue::connect`], with another queue name (several installations, or tests,
    /// sharing one Redis).
    pub async fn connect_named(url: &str, name: &str) -> Result<Queue, QueueError> {
        let shown = jalin_engine::store::redact_url(url);
        let fail = |reason: String| QueueError::Connect {
            url: shown.clone(),
            reason,
        };
        if url.starts_with("sqlite:") {
            // The same embedded-database setup as the customer database (folder created, WAL,
            // busy timeout), in a file of its own.
            let pool = match jalin_engine::store::Store::connect_with(url, Some(4)).await {
                Ok(jalin_engine::store::Store::Sqlite(pool)) => pool,
                Ok(_) => return Err(QueueError::Url(shown)),
                Err(e) => return Err(fail(e.to_string())),
            };
            // apalis's own tables and migration history live in this file, never in ours.
            SqliteStorage::setup(&pool)
                .await
                .map_err(|e| fail(e.to_string()))?;
            let config = apalis_sqlite::Config::default()
                .queue(name)
                .batch_size(FETCH_BATCH);
            Ok(Queue::Sqlite(SqliteStorage::new(&pool).with_config(config)))
        } else if url.starts_with("redis:") || url.starts_with("rediss:") {
            let conn = apalis_redis::connect(url)
                .await
                .map_err(|e| fail(e.to_string()))?;
            // No apalis lease per job: each lease is a round trip that serialises the worker
            // (about 850 jobs/s instead of 44,000), and the outbox row's own lease already
            // decides who sends a message.
            let config = apalis_redis::Config::default()
                .queue(name)
                .batch_size(FETCH_BATCH)
                .lock_tasks(false);
            Ok(Queue::Redis(
                RedisStorage::new(conn.clone()).with_config(config.clone()),
                conn,
                Arc::new(config),
            ))
        } else {
            Err(QueueError::Url(shown))
        }
    }

    /// Pushes one job.
    pub async fn push(&self, batch: DeliverBatch) -> Result<(), QueueError> {
        self.push_many(vec![batch]).await
    }

    /// Pushes many jobs in one round trip.
    pub async fn push_many(&self, batches: Vec<DeliverBatch>) -> Result<(), QueueError> {
        let failed = |e: &dyn std::fmt::Display| QueueError::Push(e.to_string());
        match self {
            Queue::Sqlite(s) => s.clone().push_bulk(batches).await.map_err(|e| failed(&e)),
            Queue::Redis(s, conn, config) => {
                s.clone().push_bulk(batches).await.map_err(|e| failed(&e))?;
                promote(conn.clone(), config).await
            }
        }
    }

    /// Removes finished jobs from the queue storage; returns how many.
    pub async fn vacuum(&self) -> Result<usize, QueueError> {
        use apalis_core::backend::Vacuum;
        match self {
            Queue::Sqlite(s) => s
                .clone()
                .vacuum()
                .await
                .map_err(|e| QueueError::Push(e.to_string())),
            Queue::Redis(s, ..) => s
                .clone()
                .vacuum()
                .await
                .map_err(|e| QueueError::Push(e.to_string())),
        }
    }

    /// Runs one delivery worker named `name` (unique across processes: host and pid) taking up
    /// to `concurrency` jobs at a time, until `shutdown` completes.
    pub async fn work<F>(
        self,
        name: String,
        concurrency: usize,
        delivery: Arc<Delivery>,
        shutdown: F,
    ) -> Result<(), QueueError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let handler = Handler::new(move |job: DeliverBatch| -> JobFuture {
            let delivery = delivery.clone();
            Box::pin(async move { deliver(job, delivery).await })
        });
        self.work_with(name, concurrency, handler, shutdown).await
    }

    /// Runs a worker with any job handler (the delivery handler, or a no-op one for measuring
    /// the queue itself).
    pub async fn work_with<F>(
        self,
        name: String,
        concurrency: usize,
        handler: Handler,
        shutdown: F,
    ) -> Result<(), QueueError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let signal = async move {
            shutdown.await;
            Ok::<(), std::io::Error>(())
        };
        let poll = Duration::from_millis(25);
        let result = match self {
            Queue::Sqlite(s) => {
                WorkerBuilder::new(name)
                    .backend(s.poll_with_interval(poll))
                    .data(handler.clone())
                    .concurrency(concurrency.max(1))
                    .build(handle)
                    .run_until(signal)
                    .await
            }
            Queue::Redis(s, ..) => {
                WorkerBuilder::new(name)
                    .backend(s.poll_with_interval(poll))
                    .data(handler.clone())
                    .concurrency(concurrency.max(1))
                    .build(handle)
                    .run_until(signal)
                    .await
            }
        };
        result.map_err(|e| QueueError::Worker(e.to_string()))
    }
}

type JobFuture = futures::future::BoxFuture<'static, Result<(), BoxDynError>>;

/// What a worker does with one job.
#[derive(Clone)]
pub struct Handler(Arc<dyn Fn(DeliverBatch) -> JobFuture + Send + Sync + 'static>);

impl Handler {
    /// A handler from a function returning the job's future.
    pub fn new<F>(f: F) -> Handler
    where
        F: Fn(DeliverBatch) -> JobFuture + Send + Sync + 'static,
    {
        Handler(Arc::new(f))
    }
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Handler")
    }
}

async fn handle(job: DeliverBatch, handler: Data<Handler>) -> Result<(), BoxDynError> {
    let Data(h) = handler;
    (h.0)(job).await
}

/// The delivery handler: claim, render, send, settle. A failure of one message is recorded on
/// its row; only a failure of the database itself fails the job (its rows return to the queue
/// when their lease runs out).
async fn deliver(job: DeliverBatch, delivery: Arc<Delivery>) -> Result<(), BoxDynError> {
    match delivery.process(&job.ids).await {
        Ok(report) => {
            tracing::debug!(
                claimed = report.claimed,
                sent = report.sent,
                retried = report.retried,
                failed = report.failed,
                "batch delivered"
            );
            Ok(())
        }
        Err(e) => {
            tracing::error!(error = %e, ids = job.ids.len(), "delivery batch failed; its messages are retried when their lease runs out");
            Err(Box::new(e) as BoxDynError)
        }
    }
}

/// Moves pushed jobs from apalis-redis's scheduled set to its active list, at most 1,000 per
/// script call.
///
/// apalis-redis 1.0 pushes every job, even an immediate one, into the scheduled set, and its
/// fetch script moves *all* due jobs in one Lua `unpack`, which fails beyond about 8,000
/// elements ("too many results to unpack"), stopping every worker. Planning a large campaign
/// pushes far more than that before a worker fetches, so we promote as we push. Jobs here are
/// always due at once (waiting is the outbox's business), so promoting early changes nothing.
async fn promote(
    mut conn: redis::aio::ConnectionManager,
    config: &apalis_redis::Config,
) -> Result<(), QueueError> {
    static SCRIPT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
        redis::Script::new(
            r"local ids = redis.call('zrangebyscore', KEYS[1], '-inf', '+inf', 'LIMIT', 0, 1000)
if #ids > 0 then
  redis.call('rpush', KEYS[2], unpack(ids))
  redis.call('zrem', KEYS[1], unpack(ids))
  redis.call('del', KEYS[3])
  redis.call('lpush', KEYS[3], 1)
end
return #ids",
        )
    });
    loop {
        let moved: i64 = SCRIPT
            .key(config.scheduled_jobs_set())
            .key(config.active_jobs_list())
            .key(config.signal_list())
            .invoke_async(&mut conn)
            .await
            .map_err(|e| QueueError::Push(e.to_string()))?;
        if moved < 1000 {
            return Ok(());
        }
    }
}

/// A worker name unique across processes and machines.
pub fn worker_name(role: &str) -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "host".into());
    format!("{role}-{host}-{}", std::process::id())
}
