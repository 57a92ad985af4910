//! Storage: one logical schema on SQLite (embedded default) or PostgreSQL (at scale).
//!
//! Queries are written once in the SQL both databases accept (`$1` placeholders, epoch-second
//! timestamps, `CAST(… AS BIGINT)` around aggregates) and run through [`with_pool!`], which
//! expands the same code for either pool. Where the dialects really differ (JSON access, bulk
//! loading, array parameters) the code matches on [`Store`] explicitly.
//!
//! ```no_run
//! # async fn f() -> jalin_engine::Result<()> {
//! let store = jalin_engine::store::Store::connect("sqlite://var/jalin.db").await?;
//! store.migrate().await?;
//! # Ok(()) }
//! ```

pub(crate) mod columns;
mod url;

pub use url::redact_url;

use crate::error::{Error, Result};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions as _, Connection as _, PgPool, SqlitePool};
use std::str::FromStr;
use std::time::Duration;

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, embedded.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// A connection pool to the customer database.
#[derive(Debug, Clone)]
pub enum Store {
    /// The embedded database.
    Sqlite(SqlitePool),
    /// A PostgreSQL server.
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to whichever pool the store holds; the body is compiled
/// once per backend, so it may use any sqlx API generic over the database.
/// The second form also names the database type, for `QueryBuilder::<DB>` and friends.
#[macro_export]
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite($pool) => $body,
            $crate::store::Store::Postgres($pool) => $body,
        }
    };
    ($store:expr, $pool:ident, $db:ident => $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite($pool) => {
                #[allow(dead_code)]
                type $db = ::sqlx::Sqlite;
                $body
            }
            $crate::store::Store::Postgres($pool) => {
                #[allow(dead_code)]
                type $db = ::sqlx::Postgres;
                $body
            }
        }
    };
}

/// Pushes `v1, v2, …)` onto a `QueryBuilder` — one bound parameter per value, then the closing
/// parenthesis of an `IN (` the caller wrote. Works for either database's builder.
macro_rules! in_list {
    ($qb:expr, $values:expr) => {{
        let mut list = $qb.separated(", ");
        for v in $values {
            list.push_bind(v.clone());
        }
        $qb.push(")");
    }};
}
pub(crate) use in_list;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

impl Store {
    /// Opens a pool for `sqlite://…` or `postgres://…`, creating an SQLite file (and its
    /// directory) on first use. Fails fast with the URL (password removed) when unreachable.
    pub async fn connect(url: &str) -> Result<Store> {
        Store::connect_with(url, None).await
    }

    /// Like [`Store::connect`], with an explicit maximum pool size.
    pub async fn connect_with(url: &str, max_connections: Option<u32>) -> Result<Store> {
        let shown = redact_url(url);
        let fail = |reason: String| Error::Connect {
            url: shown.clone(),
            reason,
        };
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| fail(e.to_string()))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(30))
                .pragma("cache_size", "-65536")
                .pragma("temp_store", "memory")
                .log_statements(tracing::log::LevelFilter::Off)
                .log_slow_statements(tracing::log::LevelFilter::Off, Duration::from_secs(3600));
            let path = options.get_filename().to_path_buf();
            if let Some(dir) = path.parent()
                && !dir.as_os_str().is_empty()
                && path.as_os_str() != ":memory:"
            {
                std::fs::create_dir_all(dir)
                    .map_err(|e| fail(format!("cannot create {}: {e}", dir.display())))?;
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(max_connections.unwrap_or(4))
                .min_connections(1)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(options)
                .await
                .map_err(|e| fail(e.to_string()))?;
            Ok(Store::Sqlite(pool))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            // Statement logging would flood the logs with bulk SQL; errors are reported anyway.
            let options = PgConnectOptions::from_str(url)
                .map_err(|e| fail(e.to_string()))?
                .log_statements(tracing::log::LevelFilter::Off)
                .log_slow_statements(tracing::log::LevelFilter::Off, Duration::from_secs(3600));
            // One direct connection first: it fails at once with the real reason (refused,
            // unknown database, bad password) where the pool would only report a timeout.
            let probe = sqlx::PgConnection::connect_with(&options)
                .await
                .map_err(|e| fail(e.to_string()))?;
            probe.close().await.map_err(|e| fail(e.to_string()))?;
            let pool = PgPoolOptions::new()
                .max_connections(max_connections.unwrap_or(10))
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await
                .map_err(|e| fail(e.to_string()))?;
            Ok(Store::Postgres(pool))
        } else {
            Err(fail(
                "unsupported scheme (expected sqlite://PATH or postgres://…)".into(),
            ))
        }
    }

    /// Applies every pending migration of this backend.
    pub async fn migrate(&self) -> Result<()> {
        match self {
            Store::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await?,
            Store::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// Checks the database answers.
    pub async fn ping(&self) -> Result<()> {
        let _: i64 = with_pool!(self, pool => sqlx::query_scalar("SELECT CAST(1 AS BIGINT)").fetch_one(pool).await)
            .map_err(Error::db("checking the database"))?;
        Ok(())
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        match self {
            Store::Sqlite(_) => Backend::Sqlite,
            Store::Postgres(_) => Backend::Postgres,
        }
    }

    /// Closes every connection (flushes SQLite's WAL).
    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await);
    }
}
