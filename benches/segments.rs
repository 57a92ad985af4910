//! Segment evaluation against the same rules written by hand in SQL, side by side, on a loaded
//! database (generate-sample --customers N and every file imported).
//!
//! ```sh
//! cargo bench --bench segments -- [N]
//! JALIN_BENCH_DATABASE_URL=postgres://… cargo bench --bench segments   # one database you loaded
//! ```
//! Without a URL it runs on PostgreSQL (`jalin_bench_segments_N` on 127.0.0.1) and on SQLite
//! (`.bench/segments-N.db`), generating the sample (`.bench/sample-N`) and importing every file
//! the first time (about 50 minutes for a million customers).
//!
//! For each rule: COUNT(*) and the full member stream (every id, one query read incrementally)
//! for the compiled rule and for the hand-written query, best of three runs each.

mod common;

use jalin_engine::config::SourceFile;
use jalin_engine::import::ImportKind;
use jalin_engine::sample::SampleParams;
use jalin_engine::segments::{SegmentSet, count_members, members, parse_segment};
use jalin_engine::store::{Backend, Store};
use jalin_engine::with_pool;
use sqlx::AssertSqlSafe;
use std::path::Path;
use std::time::Instant;

const DAY: i64 = 86_400;

struct Case {
    name: &'static str,
    rule: &'static str,
    /// `{c}` is replaced by the customer condition's SELECT list; `$1` is now.
    hand: &'static str,
}

const CASES: &[Case] = &[
    Case {
        name: "lapsed distributors",
        rule: r#"[rule]
all = [
  { field = "kind", eq = "distributor" },
  { orders = { count = { gte = 3 }, within_days = 365 } },
  { days_since_last_order = { gte = 90 } },
  { consent = "email" },
]"#,
        hand: "SELECT {c} FROM customers c WHERE c.erased_at IS NULL AND c.kind = 'distributor'
  AND c.id IN (SELECT customer_id FROM orders WHERE status NOT IN ('quoted', 'cancelled') AND placed_at >= $1 - 365 * 86400 GROUP BY customer_id HAVING COUNT(*) >= 3)
  AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id AND o.status NOT IN ('quoted', 'cancelled') AND o.placed_at > $1 - 90 * 86400)
  AND EXISTS (SELECT 1 FROM consents k WHERE k.customer_id = c.id AND k.channel = 'email' AND k.opted_in)",
    },
    Case {
        name: "sofa, never cushions",
        rule: r#"[rule]
all = [
  { bought = { category = "sofa", within_days = 180 } },
  { not_bought = { category = ["cushion", "cover"] } },
  { no_event = { type = "message.sent", within_days = 14 } },
  { consent = "email" },
]"#,
        hand: "SELECT {c} FROM customers c WHERE c.erased_at IS NULL
  AND EXISTS (SELECT 1 FROM orders o JOIN order_lines l ON l.order_id = o.id JOIN products p ON p.id = l.product_id
              WHERE o.customer_id = c.id AND o.status NOT IN ('quoted', 'cancelled') AND o.placed_at >= $1 - 180 * 86400 AND p.category = 'sofa')
  AND NOT EXISTS (SELECT 1 FROM orders o JOIN order_lines l ON l.order_id = o.id JOIN products p ON p.id = l.product_id
              WHERE o.customer_id = c.id AND o.status NOT IN ('quoted', 'cancelled') AND p.category IN ('cushion', 'cover'))
  AND NOT EXISTS (SELECT 1 FROM events e WHERE e.customer_id = c.id AND e.event_type = 'message.sent' AND e.occurred_at >= $1 - 14 * 86400)
  AND EXISTS (SELECT 1 FROM consents k WHERE k.customer_id = c.id AND k.channel = 'email' AND k.opted_in)",
    },
    Case {
        name: "big spenders (sum)",
        rule: r#"[rule]
orders = { sum = { gte = 50000000 }, within_days = 365 }"#,
        hand: "SELECT {c} FROM customers c WHERE c.erased_at IS NULL
  AND c.id IN (SELECT customer_id FROM orders WHERE status NOT IN ('quoted', 'cancelled') AND placed_at >= $1 - 365 * 86400
               GROUP BY customer_id HAVING SUM(value - discount) >= 5000000000)",
    },
    Case {
        name: "Jakarta clickers",
        rule: r#"[rule]
all = [
  { field = "kind", eq = "consumer" },
  { field = "city", eq = "Jakarta" },
  { consent = "email" },
  { event = { type = "email.clicked", within_days = 30 } },
]"#,
        hand: "SELECT {c} FROM customers c WHERE c.erased_at IS NULL AND c.kind = 'consumer' AND c.city = 'Jakarta'
  AND EXISTS (SELECT 1 FROM consents k WHERE k.customer_id = c.id AND k.channel = 'email' AND k.opted_in)
  AND EXISTS (SELECT 1 FROM events e WHERE e.customer_id = c.id AND e.event_type = 'email.clicked' AND e.occurred_at >= $1 - 30 * 86400)",
    },
    Case {
        name: "new or complaining dealers",
        rule: r#"[rule]
any = [
  { first_order_within_days = 30 },
  { all = [ { field = "attributes.price_list", eq = "dealer" }, { open_complaint = true } ] },
]"#,
        hand: "SELECT {c} FROM customers c WHERE c.erased_at IS NULL AND (
  c.id IN (SELECT customer_id FROM orders WHERE status NOT IN ('quoted', 'cancelled') GROUP BY customer_id HAVING MIN(placed_at) >= $1 - 30 * 86400)
  OR (c.attributes->>'price_list' = 'dealer' AND EXISTS (SELECT 1 FROM complaints k WHERE k.customer_id = c.id AND k.resolved_at IS NULL)))",
    },
];

fn hand_sql(case: &Case, backend: Backend, what: &str) -> String {
    let sql = case.hand.replace("{c}", what);
    match backend {
        Backend::Postgres => sql,
        Backend::Sqlite => sql
            .replace(
                "c.attributes->>'price_list'",
                "json_extract(c.attributes, '$.price_list')",
            )
            .replace("k.opted_in", "k.opted_in = 1"),
    }
}

async fn best_of<F, Fut>(n: usize, mut f: F) -> (f64, i64)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = i64>,
{
    let mut best = f64::MAX;
    let mut result = 0;
    for _ in 0..n {
        let started = Instant::now();
        result = f().await;
        best = best.min(started.elapsed().as_secs_f64());
    }
    (best, result)
}

async fn stream_hand(store: &Store, sql: &str, now: i64) -> i64 {
    // One query read incrementally, as the compiled stream reads.
    use futures::TryStreamExt;
    let sql = format!("{sql} ORDER BY c.id");
    with_pool!(store, pool => {
        let mut rows = sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql)).bind(now).fetch(pool);
        let mut n = 0i64;
        while rows.try_next().await.expect("hand row").is_some() {
            n += 1;
        }
        n
    })
}

async fn count(store: &Store, sql: &'static str) -> i64 {
    with_pool!(store, pool => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await)
        .expect("count")
}

/// Generates the sample once and imports every file into `store` unless it holds it already.
async fn load(store: &Store, n: u64) {
    if count(store, "SELECT COUNT(*) FROM customers").await >= n as i64
        && count(store, "SELECT COUNT(*) FROM events").await > 0
    {
        return;
    }
    let as_of = chrono::DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
        .expect("date")
        .to_utc();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(".bench/sample-{n}"));
    let params = SampleParams {
        customers: n,
        as_of,
        ..SampleParams::default()
    };
    common::ensure_sample(&dir, &params);
    common::import_all(
        store,
        &dir,
        &[
            ImportKind::Customers,
            ImportKind::Products,
            ImportKind::Orders,
            ImportKind::OrderLines,
            ImportKind::Complaints,
            ImportKind::Consent,
            ImportKind::Events,
        ],
        as_of.timestamp(),
    )
    .await;
}

async fn bench(store: &Store, shown: &str) {
    let backend = store.backend();
    // The data ends at the sample's as-of day; measure "now" from the newest order so the
    // windows select what they would on the day of the export.
    let now: i64 = with_pool!(store, pool => sqlx::query_scalar::<_, i64>("SELECT CAST(MAX(placed_at) AS BIGINT) FROM orders").fetch_one(pool).await).expect("max") + DAY;
    let customers = count(store, "SELECT COUNT(*) FROM customers").await;
    let orders = count(store, "SELECT COUNT(*) FROM orders").await;
    println!("\n{customers} customers, {orders} orders on {shown}");
    println!(
        "{:<28} {:>9} {:>10} {:>10} {:>6} {:>10} {:>10} {:>6}",
        "rule", "members", "count", "by hand", "ratio", "stream", "by hand", "ratio"
    );
    for case in CASES {
        let segment =
            parse_segment(&SourceFile::new(case.name, case.rule), "bench").expect("rule parses");
        let set = SegmentSet::from_segments([segment.clone()]);
        let (count_ours, n_ours) = best_of(3, || async {
            count_members(store, &set, &segment.rule, now)
                .await
                .expect("count")
        })
        .await;
        let count_sql = hand_sql(case, backend, "COUNT(*)");
        let (count_hand, n_hand) = best_of(3, || async {
            with_pool!(store, pool => sqlx::query_scalar::<_, i64>(AssertSqlSafe(count_sql.clone())).bind(now).fetch_one(pool).await).expect("hand count")
        })
        .await;
        assert_eq!(
            n_ours, n_hand,
            "{}: compiled and hand-written counts differ",
            case.name
        );
        let (stream_ours, s_ours) = best_of(3, || async {
            members(
                store,
                &set,
                &segment.rule,
                now,
                10_000,
                async |_: &[i64]| Ok(()),
            )
            .await
            .expect("stream") as i64
        })
        .await;
        let ids_sql = hand_sql(case, backend, "c.id");
        let (stream_hand_s, s_hand) =
            best_of(3, || async { stream_hand(store, &ids_sql, now).await }).await;
        assert_eq!(s_ours, s_hand);
        println!(
            "{:<28} {:>9} {:>9.3}s {:>9.3}s {:>6.2} {:>9.3}s {:>9.3}s {:>6.2}",
            case.name,
            n_ours,
            count_ours,
            count_hand,
            count_ours / count_hand,
            stream_ours,
            stream_hand_s,
            stream_ours / stream_hand_s
        );
    }
}

fn main() {
    let n: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        if let Ok(url) = std::env::var("JALIN_BENCH_DATABASE_URL") {
            let store = Store::connect(&url).await.expect("connect");
            bench(&store, &jalin_engine::store::redact_url(&url)).await;
            store.close().await;
            return;
        }
        let admin = "postgres://postgres@127.0.0.1:5432/postgres";
        let db = format!("jalin_bench_segments_{n}");
        if let Ok(Store::Postgres(pool)) = Store::connect(admin).await {
            let _ = sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {db}")))
                .execute(&pool)
                .await;
        }
        let sqlite = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(".bench/segments-{n}.db"));
        for url in [
            format!("postgres://postgres@127.0.0.1:5432/{db}"),
            format!("sqlite://{}", sqlite.display()),
        ] {
            let store = Store::connect(&url).await.expect("connect");
            store.migrate().await.expect("migrate");
            load(&store, n).await;
            bench(&store, &url).await;
            store.close().await;
        }
    });
}
