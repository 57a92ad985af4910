//! A full score recompute (`jalin metrics recompute`) for N customers on PostgreSQL, and the
//! BG/NBD fit against the `lifetimes` reference implementation on the same customers' data
//! (time ratio and parameter agreement).
//!
//! ```sh
//! cargo bench --bench analytics -- 1000000
//! ```
//! Loads `generate-sample --customers N` (customers, orders, complaints; about ten orders per
//! customer) into the PostgreSQL database `jalin_bench_analytics_N` the first time. Three
//! recomputes follow: from scratch (summaries built from every order, loyalty entries checked
//! for every order, cold fit), a nightly one (incremental summaries, warm-started fit) and one
//! with a cold fit (everyone rescored, the fit from a neutral start).

mod common;

use jalin_engine::analytics::bgnbd::BgNbd;
use jalin_engine::analytics::{AnalyticsSettings, purchase_histories, recompute};
use jalin_engine::import::ImportKind;
use jalin_engine::sample::SampleParams;
use jalin_engine::store::Store;
use jalin_engine::with_pool;
use std::io::Write as _;
use std::path::Path;
use std::time::Instant;

async fn count(store: &Store, sql: &str) -> i64 {
    with_pool!(store, pool => sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_owned())).fetch_one(pool).await)
        .expect("count")
}

async fn load(store: &Store, n: u64, as_of: chrono::DateTime<chrono::Utc>) {
    if count(store, "SELECT COUNT(*) FROM customers").await >= n as i64 {
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(".bench/analytics-{n}"));
    let params = SampleParams {
        customers: n,
        as_of,
        // A little busier than the default sample: ten orders per customer on average.
        alpha: 7.5,
        ..SampleParams::default()
    };
    common::ensure_sample(&dir, &params);
    common::import_all(
        store,
        &dir,
        &[
            ImportKind::Customers,
            ImportKind::Orders,
            ImportKind::Complaints,
        ],
        as_of.timestamp(),
    )
    .await;
    with_pool!(store, pool => sqlx::query("VACUUM ANALYZE").execute(pool).await.map(|_| ()))
        .expect("analyze");
}

fn main() {
    let n: u64 = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    // A fixed day, so the sample and the scores are the same on every run.
    let as_of = chrono::DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
        .expect("date")
        .to_utc();
    let now = as_of.timestamp();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let admin = std::env::var("JALIN_BENCH_PG_ADMIN")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let db = format!("jalin_bench_analytics_{n}");
        if let Ok(Store::Postgres(pool)) = Store::connect(&admin).await {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}"))).execute(&pool).await;
        }
        let url = format!("{}/{db}", &admin[..admin.rfind('/').unwrap_or(admin.len())]);
        let store = Store::connect(&url).await.expect("PostgreSQL");
        store.migrate().await.expect("migrate");
        load(&store, n, as_of).await;
        let customers = count(&store, "SELECT COUNT(*) FROM customers").await;
        let orders = count(&store, "SELECT COUNT(*) FROM orders").await;
        println!("PostgreSQL: {customers} customers, {orders} orders");
        let settings = AnalyticsSettings::default();

        let mut runs = Vec::new();
        let labels: &[&str] = if std::env::var_os("JALIN_BENCH_FIT_ONLY").is_some() { &[] } else { &["from scratch", "nightly (warm start)", "cold fit"] };
        for &label in labels {
            if label == "from scratch" {
                // As after a first import: no summaries, no cursors, no previous fit.
                for sql in [
                    "DELETE FROM customer_summaries",
                    "DELETE FROM scheduler_state WHERE name LIKE 'summary_%' OR name LIKE 'loyalty_%'",
                    "DELETE FROM analytics_fits",
                ] {
                    with_pool!(&store, pool => sqlx::query(sql).execute(pool).await.map(|_| ())).expect("reset");
                }
            }
            if label == "cold fit" {
                with_pool!(&store, pool => sqlx::query("DELETE FROM analytics_fits").execute(pool).await.map(|_| ())).expect("reset fits");
            }
            let started = Instant::now();
            let r = recompute(&store, &settings, now).await.expect("recompute");
            let secs = started.elapsed().as_secs_f64();
            let steps: Vec<String> = r.timings.iter().map(|(k, v)| format!("{k} {v:.2}")).collect();
            println!(
                "recompute, {label}: {secs:.2} s ({}; BG/NBD {} iterations; {} loyalty entries)",
                steps.join(", "),
                r.bgnbd.iterations,
                r.loyalty.purchases + r.loyalty.bonuses + r.loyalty.expired
            );
            runs.push((label, secs, r));
        }
        println!("peak RSS of this process: {:.0} MB", common::peak_rss_mb());

        // The reference: lifetimes' BetaGeoFitter on the same (x, t_x, T) in weeks.
        let histories = purchase_histories(&store, now).await.expect("histories");
        let started = Instant::now();
        let ours = BgNbd::fit(&histories, None);
        let our_secs = started.elapsed().as_secs_f64();
        let csv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".bench/analytics-histories.csv");
        let mut f = std::io::BufWriter::new(std::fs::File::create(&csv).expect("csv"));
        writeln!(f, "frequency,recency,T").expect("write");
        for h in &histories {
            writeln!(f, "{},{},{}", h.x, h.t_x, h.t).expect("write");
        }
        drop(f);
        let script = format!(
            "import time, warnings; warnings.filterwarnings('ignore')
import pandas as pd
from lifetimes import BetaGeoFitter
d = pd.read_csv('{}')
t = time.perf_counter()
b = BetaGeoFitter().fit(d.frequency.values, d.recency.values, d['T'].values)
s = time.perf_counter() - t
p = b.params_
print(s, p['r'], p['alpha'], p['a'], p['b'])",
            csv.display()
        );
        let out = std::process::Command::new("python3").args(["-c", &script]).output().expect("python3");
        if !out.status.success() {
            panic!("lifetimes failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let v: Vec<f64> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|s| s.parse().ok())
            .collect();
        let (ref_secs, rp) = (v[0], [v[1], v[2], v[3], v[4]]);
        let p = ours.params;
        let mine = [p.r, p.alpha, p.a, p.b];
        let worst = mine
            .iter()
            .zip(&rp)
            .map(|(a, b)| ((a - b) / b).abs())
            .fold(0.0f64, f64::max);
        println!("BG/NBD fit on {} buyers:", histories.len());
        println!("  jalin     {our_secs:8.2} s  r {:.4} α {:.4} a {:.4} b {:.4} ({} iterations)", p.r, p.alpha, p.a, p.b, ours.iterations);
        println!("  lifetimes {ref_secs:8.2} s  r {:.4} α {:.4} a {:.4} b {:.4}", rp[0], rp[1], rp[2], rp[3]);
        println!("  jalin is {:.1}× faster; largest parameter difference {:.4}%", ref_secs / our_secs, worst * 100.0);
        if let Some((_, _, r)) = runs.last() {
            let f = r.bgnbd.params;
            println!("  (the recompute's own cold fit: r {:.4} α {:.4} a {:.4} b {:.4})", f.r, f.alpha, f.a, f.b);
        }
    });
}
