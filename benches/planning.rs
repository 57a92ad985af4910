//! Planning a campaign for every customer with email consent: outbox rows (with holdout,
//! variants, cap and offer codes) and queued batches, on SQLite with the SQLite queue and on
//! PostgreSQL with Redis. The reference is one hand-written `INSERT … SELECT` of the same rows
//! (no decisions, no codes, no queue): the floor the planner is measured against.
//!
//! ```sh
//! cargo bench --bench planning -- 1000000
//! ```
//! Loads `generate-sample --customers N` (customers and consent only) into `.bench/plan.db` and
//! the PostgreSQL database `jalin_bench_plan` the first time.

use jalin_engine::campaigns::{Audience, CampaignDefaults, PlanOptions, parse_campaign};
use jalin_engine::config::SourceFile;
use jalin_engine::import::{ImportKind, ImportOptions, import_file};
use jalin_engine::sample::{SampleParams, generate};
use jalin_engine::segments::{SegmentSet, parse_segment};
use jalin_engine::store::Store;
use jalin_engine::with_pool;
use jalin_workers::queue::Queue;
use jalin_workers::scheduler::Planner;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

const CAMPAIGN: &str = r#"
segment = "email-consent"
channels = ["email", "sms"]
template = "win-back"
holdout_percent = 10
variants = [{ name = "a", weight = 50 }, { name = "b", weight = 50 }]
offer = { percent = 10 }
quiet_hours = { start = "00:00", end = "00:00" }
[schedule]
manual = true
"#;

async fn count(store: &Store, sql: &str) -> i64 {
    with_pool!(store, pool => sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_owned())).fetch_one(pool).await)
        .expect("count")
}

async fn exec(store: &Store, sql: &str) {
    with_pool!(store, pool => sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).execute(pool).await.map(|_| ()))
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn load(store: &Store, n: u64) {
    if count(store, "SELECT COUNT(*) FROM customers").await >= n as i64 {
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(".bench/plan-{n}"));
    if !dir.join("consent.csv").exists() {
        eprintln!("generating {n} sample customers into {}", dir.display());
        let params = SampleParams {
            customers: n,
            ..SampleParams::default()
        };
        generate(&dir, &params, &|_| {}).expect("generate");
    }
    for (kind, file) in [
        (ImportKind::Customers, "customers.csv"),
        (ImportKind::Consent, "consent.csv"),
    ] {
        eprintln!("importing {file}");
        import_file(
            store,
            kind,
            &dir.join(file),
            &ImportOptions::default(),
            chrono::Utc::now().timestamp(),
            &|_| {},
        )
        .await
        .expect("import");
    }
}

async fn reset(store: &Store) {
    match store {
        Store::Postgres(_) => exec(store, "TRUNCATE offer_codes, outbox, campaign_runs").await,
        Store::Sqlite(_) => {
            for t in ["offer_codes", "outbox", "campaign_runs"] {
                exec(store, &format!("DELETE FROM {t}")).await;
            }
        }
    }
}

/// Seconds for the planner to plan the run, and the rows it wrote.
async fn ours(
    store: &Store,
    queue: Queue,
    campaign: &jalin_engine::campaigns::Campaign,
    segments: &SegmentSet,
) -> (f64, i64) {
    reset(store).await;
    let planner = Planner {
        store: store.clone(),
        segments: segments.clone(),
        campaigns: jalin_engine::campaigns::CampaignSet::from_campaigns([campaign.clone()]),
        queue,
        options: PlanOptions {
            offer_salt: b"bench".to_vec(),
            ..PlanOptions::default()
        },
        clock: Arc::new(jalin_engine::clock::SystemClock),
    };
    let start = Instant::now();
    planner
        .fire(
            campaign,
            "bench",
            chrono::Utc::now(),
            Audience::Segment,
            None,
            false,
            &|_| {},
        )
        .await
        .expect("plan");
    (
        start.elapsed().as_secs_f64(),
        count(store, "SELECT COUNT(*) FROM outbox").await,
    )
}

/// Seconds for one `INSERT … SELECT` writing the same audience's rows.
async fn reference(store: &Store) -> (f64, i64) {
    reset(store).await;
    let now = chrono::Utc::now().timestamp();
    exec(store, &format!(
        "INSERT INTO campaign_runs (id, campaign, trigger_key, kind, scheduled_for, created_at, status) VALUES (1, 'ref', 'ref', 'marketing', {now}, {now}, 'planned')")).await;
    let start = Instant::now();
    exec(store, &format!(
        "INSERT INTO outbox (run_id, campaign, kind, customer_id, channel, variant, status, address, created_at)
         SELECT 1, 'ref', 'marketing', c.id, 'email', 'a', 'queued', c.email, {now} FROM customers c
         WHERE c.erased_at IS NULL AND c.email IS NOT NULL
           AND EXISTS (SELECT 1 FROM consents k WHERE k.customer_id = c.id AND k.channel = 'email' AND k.opted_in)")).await;
    (
        start.elapsed().as_secs_f64(),
        count(store, "SELECT COUNT(*) FROM outbox").await,
    )
}

async fn run(label: &str, store: Store, queue: Queue, n: u64) {
    load(&store, n).await;
    let segment = parse_segment(
        &SourceFile::new("email-consent.toml", "[rule]\nconsent = \"email\"\n"),
        "email-consent",
    )
    .expect("segment");
    let segments = SegmentSet::from_segments([segment]);
    let campaign = parse_campaign(
        &SourceFile::new("bench.toml", CAMPAIGN),
        "bench",
        &CampaignDefaults::default(),
    )
    .expect("campaign");
    let (t_ref, rows_ref) = reference(&store).await;
    let (t_ours, rows_ours) = ours(&store, queue, &campaign, &segments).await;
    let queued = count(
        &store,
        "SELECT COUNT(*) FROM outbox WHERE status = 'queued'",
    )
    .await;
    println!(
        "{label:<22} planner {:>6.1} s {:>9.0} rows/s ({rows_ours} rows, {queued} queued)   INSERT…SELECT {:>5.1} s {:>9.0} rows/s ({rows_ref} rows)   ratio {:.1}×",
        t_ours,
        rows_ours as f64 / t_ours,
        t_ref,
        rows_ref as f64 / t_ref,
        t_ours / t_ref
    );
}

fn main() {
    let args: Vec<String> = std::env::args().filter(|a| !a.starts_with('-')).collect();
    let n: u64 = args
        .get(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let bench = Path::new(env!("CARGO_MANIFEST_DIR")).join(".bench");
        std::fs::create_dir_all(&bench).expect("mkdir .bench");
        let sqlite = Store::connect(&format!(
            "sqlite://{}",
            bench.join(format!("plan-{n}.db")).display()
        ))
        .await
        .expect("sqlite");
        sqlite.migrate().await.expect("migrate");
        let queue_file = bench.join("plan-queue.db");
        let _ = std::fs::remove_file(&queue_file);
        let queue = Queue::connect_named(&format!("sqlite://{}", queue_file.display()), "bench")
            .await
            .expect("queue");
        run("SQLite + SQLite queue", sqlite, queue, n).await;

        let admin = std::env::var("JALIN_BENCH_PG_ADMIN")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let db = format!("jalin_bench_plan_{n}");
        if let Ok(Store::Postgres(pool)) = Store::connect(&admin).await {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
                .execute(&pool)
                .await;
        }
        let url = format!("{}/{db}", &admin[..admin.rfind('/').unwrap_or(admin.len())]);
        let pg = Store::connect(&url).await.expect("PostgreSQL");
        pg.migrate().await.expect("migrate");
        let queue = Queue::connect_named(
            "redis://127.0.0.1:6379",
            &format!("jalin.bench.plan.{}", std::process::id()),
        )
        .await
        .expect("Redis");
        run("PostgreSQL + Redis", pg, queue, n).await;
    });
}
