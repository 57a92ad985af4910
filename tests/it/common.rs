//! Shared test harness: a fresh database per test on each backend, sample data, the binary.

#![allow(dead_code)]

use jalin_engine::store::Store;
use std::path::{Path, PathBuf};

/// Where the PostgreSQL server for tests is (a database is created per test).
pub fn pg_admin_url() -> String {
    std::env::var("JALIN_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A per-test scratch folder, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new() -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("jalin-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir).expect("mkdir");
        }
        std::fs::write(&p, text).expect("write scratch file");
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh, migrated database: an SQLite file or a new PostgreSQL database, dropped at the end.
pub struct TestDb {
    pub store: Store,
    pub url: String,
    pg_name: Option<String>,
    pub scratch: Scratch,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        let scratch = Scratch::new();
        let (url, pg_name) = match backend {
            Backend::Sqlite => (
                format!("sqlite://{}", scratch.path("jalin.db").display()),
                None,
            ),
            Backend::Postgres => {
                let name = format!("jalin_t_{}", uuid::Uuid::new_v4().simple());
                let admin = Store::connect_with(&pg_admin_url(), Some(1))
                    .await
                    .expect("PostgreSQL for tests is reachable");
                if let Store::Postgres(pool) = &admin {
                    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                        .execute(pool)
                        .await
                        .expect("create test database");
                }
                admin.close().await;
                let base = pg_admin_url();
                let url = match base.rfind('/') {
                    Some(i) => format!("{}/{name}", &base[..i]),
                    None => panic!("bad JALIN_TEST_PG_URL"),
                };
                (url, Some(name))
            }
        };
        let store = Store::connect(&url).await.expect("connect test database");
        store.migrate().await.expect("migrate test database");
        TestDb {
            store,
            url,
            pg_name,
            scratch,
        }
    }

    pub fn backend(&self) -> Backend {
        if self.pg_name.is_some() {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    /// How many rows a table holds.
    pub async fn count(&self, table: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        jalin_engine::with_pool!(&self.store, pool => sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(pool).await)
            .expect("count rows")
    }

    /// Runs a statement with no parameters.
    pub async fn exec(&self, sql: &str) {
        jalin_engine::with_pool!(&self.store, pool => sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).execute(pool).await.map(|_| ()))
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// A single i64 from a query with no parameters.
    pub async fn scalar(&self, sql: &str) -> i64 {
        jalin_engine::with_pool!(&self.store, pool => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned())).fetch_one(pool).await)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// A single optional string from a query with no parameters.
    pub async fn text(&self, sql: &str) -> Option<String> {
        jalin_engine::with_pool!(&self.store, pool => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned())).fetch_optional(pool).await)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        // Dropping needs async I/O; do it on a private runtime so it also runs after a panic.
        // FORCE ends this test's own pooled connections, which cannot be closed from here.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(admin) = Store::connect_with(&pg_admin_url(), Some(1)).await {
                    if let Store::Postgres(pool) = &admin {
                        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .execute(pool)
                        .await;
                    }
                    admin.close().await;
                }
            });
        })
        .join();
    }
}

/// Runs the same async test body against SQLite and against PostgreSQL.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = $crate::common::TestDb::new($crate::common::Backend::Sqlite).await;
                super::$body(&db).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let db = $crate::common::TestDb::new($crate::common::Backend::Postgres).await;
                super::$body(&db).await;
            }
        }
    };
}

/// The `jalin` binary built for this test run.
pub fn jalin_bin() -> &'static str {
    env!("CARGO_BIN_EXE_jalin")
}

/// Runs `jalin ARGS` against a database URL, returning (exit code, stdout, stderr).
pub fn run_jalin(db_url: &str, dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(jalin_bin())
        .args(args)
        .env("JALIN_DATABASE_URL", db_url)
        .env(
            "JALIN_QUEUE_URL",
            format!("sqlite://{}", dir.join("queue.db").display()),
        )
        .env_remove("JALIN_CONFIG")
        .current_dir(dir)
        .output()
        .expect("run jalin");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Generates the deterministic sample (as of a fixed day) and imports every file.
pub async fn load_sample(db: &TestDb, customers: u64) -> jalin_engine::sample::SampleSummary {
    use jalin_engine::import::{ImportKind, ImportOptions, import_file};
    use jalin_engine::sample::{FILES, SampleParams, generate};
    let dir = db.scratch.path("sample");
    let params = SampleParams {
        customers,
        as_of: fixed_as_of(),
        ..SampleParams::default()
    };
    let summary = generate(&dir, &params, &|_| {}).expect("generate sample");
    for (kind, file) in FILES {
        let kind: ImportKind = kind.parse().expect("kind");
        let report = import_file(
            &db.store,
            kind,
            &dir.join(file),
            &ImportOptions::default(),
            fixed_as_of().timestamp(),
            &|_| {},
        )
        .await
        .expect("import sample");
        assert_eq!(
            report.rejected,
            0,
            "{file}: {:?}",
            report.rejections.first()
        );
    }
    summary
}

/// The day the test sample ends: fixed, so tests never depend on today's date.
pub fn fixed_as_of() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z")
        .expect("date")
        .to_utc()
}
