//! Segments end to end: the example segments, random rules on both databases against the
//! reference evaluator, and the validate / plan / preview commands.

use crate::both_backends;
use crate::common::{Backend, Scratch, TestDb, fixed_as_of, load_sample, run_jalin};
use jalin_engine::config::Location;
use jalin_engine::model::{Channel, OrderStatus};
use jalin_engine::segments::reference::Dataset;
use jalin_engine::segments::{
    Cmp, Column, EventFilter, Field, FieldOp, OrderFilter, OrderMeasure, Rule, Score, Segment,
    SegmentSet, Value, Window, count_members, members, preview,
};
use jalin_workers::project::Project;
use proptest::prelude::*;
use std::collections::BTreeSet;
use std::path::PathBuf;

pub fn repo_config() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config")
}

/// A small deterministic generator so both databases get the same extra data.
fn lcg(seed: u64) -> impl FnMut() -> u64 {
    let mut s = seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    move || {
        s = s
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        s >> 33
    }
}

/// Sample data plus what the sample does not have: scores, points and unusual attributes.
pub async fn sample_with_extras(db: &TestDb, customers: u64) {
    load_sample(db, customers).await;
    let odd = "external_ref,kind,name,email,phone,locale,time_zone,region,city,industry,created_at,attributes\n\
X1,consumer,Odd One,,,id,Asia/Jakarta,,,,2026-05-20,\"{\"\"vip\"\":true,\"\"credit_days\"\":\"\"30\"\"}\"\n\
X2,retailer,Odd Two,odd2@x.id,,en,Asia/Makassar,Bali,Denpasar,,2026-05-31,\"{\"\"vip\"\":false,\"\"credit_days\"\":null,\"\"price_list\"\":\"\"Retail\"\"}\"\n\
X3,distributor,Odd Three,,+6281299990000,en,Asia/Jayapura,Papua,Jayapura,mining,2026-06-01T00:00:00Z,\"{\"\"credit_days\"\":45.5}\"\n";
    let path = db.scratch.write("odd.csv", odd);
    let report = jalin_engine::import::import_file(
        &db.store,
        jalin_engine::import::ImportKind::Customers,
        &path,
        &Default::default(),
        0,
        &|_| {},
    )
    .await
    .expect("import odd customers");
    assert_eq!(report.rejected, 0);
    let refs: Vec<(i64, String)> = jalin_engine::with_pool!(&db.store, pool => sqlx::query_as("SELECT id, external_ref FROM customers ORDER BY external_ref").fetch_all(pool).await).expect("ids");
    let tiers = ["bronze", "silver", "gold"];
    for (id, external_ref) in refs {
        let mut r = lcg(external_ref
            .bytes()
            .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))));
        if r() % 10 < 7 {
            let q = |r: &mut dyn FnMut() -> u64| (r() % 5 + 1) as i64;
            let (rr, ff, mm) = (q(&mut r), q(&mut r), q(&mut r));
            let p_alive = (r() % 1000) as f64 / 1000.0;
            jalin_engine::with_pool!(&db.store, pool => sqlx::query(
                "INSERT INTO customer_scores (customer_id, rfm_recency, rfm_frequency, rfm_monetary, rfm_cell, p_alive, \
                 churn_probability, expected_purchases, clv, profit, clv_percentile, profit_percentile, tier, points, computed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 0)")
                .bind(id).bind(rr).bind(ff).bind(mm).bind(format!("{rr}{ff}{mm}"))
                .bind(p_alive).bind(1.0 - p_alive)
                .bind((r() % 50) as f64 / 10.0)
                .bind((r() % 100_000_000) as f64)
                .bind((r() % 60_000_000) as f64 - 10_000_000.0)
                .bind((r() % 101) as f64)
                .bind((r() % 101) as f64)
                .bind(if r().is_multiple_of(5) { None } else { Some(tiers[(r() % 3) as usize]) })
                .bind(0i64)
                .execute(pool).await.map(|_| ())).expect("insert scores");
        }
        let entries = r() % 3;
        for n in 0..entries {
            let points = (r() % 400) as i64 - 50;
            jalin_engine::with_pool!(&db.store, pool => sqlx::query(
                "INSERT INTO loyalty_ledger (customer_id, entry_kind, points, occurred_at, reason, idempotency_key) \
                 VALUES ($1, $2, $3, 0, 'test', $4)")
                .bind(id).bind(if points < 0 { "redeem" } else { "earn" }).bind(points).bind(format!("{external_ref}-{n}"))
                .execute(pool).await.map(|_| ())).expect("insert points");
        }
    }
}

async fn refs_of(db: &TestDb, ids: &BTreeSet<i64>) -> BTreeSet<String> {
    let all: Vec<(i64, String)> = jalin_engine::with_pool!(&db.store, pool => sqlx::query_as("SELECT id, external_ref FROM customers").fetch_all(pool).await).expect("refs");
    all.into_iter()
        .filter(|(id, _)| ids.contains(id))
        .map(|(_, r)| r)
        .collect()
}

async fn sql_members(db: &TestDb, set: &SegmentSet, rule: &Rule, now: i64) -> BTreeSet<i64> {
    let mut out = BTreeSet::new();
    let total = members(&db.store, set, rule, now, 97, async |ids: &[i64]| {
        out.extend(ids.iter().copied());
        Ok(())
    })
    .await
    .expect("member stream");
    assert_eq!(total as usize, out.len(), "pages do not overlap");
    let count = count_members(&db.store, set, rule, now)
        .await
        .expect("count");
    assert_eq!(count as usize, out.len(), "count agrees with the stream");
    out
}

async fn example_segments_agree_with_the_reference(db: &TestDb) {
    sample_with_extras(db, 400).await;
    let (project, errors) = Project::load(&repo_config());
    assert!(errors.is_empty(), "{errors:#?}");
    let now = fixed_as_of().timestamp();
    let data = Dataset::load(&db.store).await.expect("dataset");
    let mut non_empty = 0;
    for seg in project.segments.iter() {
        let got = sql_members(db, &project.segments, &seg.rule, now).await;
        let want = data.members(&project.segments, &seg.rule, now);
        assert_eq!(got, want, "segment {}", seg.name);
        non_empty += usize::from(!got.is_empty());
        let (labels, rows) = preview(&db.store, &project.segments, &seg.rule, now, 5)
            .await
            .expect("preview");
        assert!(!labels.is_empty());
        assert_eq!(rows.len(), got.len().min(5));
        assert!(
            rows.iter()
                .all(|r| got.contains(&r.id) && r.values.len() == labels.len())
        );
    }
    assert!(
        non_empty >= 6,
        "the sample data populates most example segments ({non_empty})"
    );
}
both_backends!(example_segments, example_segments_agree_with_the_reference);

fn cmp_strategy(values: Vec<f64>) -> impl Strategy<Value = Cmp> {
    let v = proptest::sample::select(values);
    (0..6usize, v.clone(), proptest::option::of((0..6usize, v))).prop_map(|(a, x, b)| {
        let mut c = Cmp::default();
        for (which, val) in std::iter::once((a, x)).chain(b) {
            match which {
                0 => c.eq = Some(val),
                1 => c.ne = Some(val),
                2 => c.lt = Some(val),
                3 => c.lte = Some(val),
                4 => c.gt = Some(val),
                _ => c.gte = Some(val),
            }
        }
        c
    })
}

fn window_strategy() -> impl Strategy<Value = Window> {
    let start = fixed_as_of().timestamp() - 400 * 86_400;
    prop_oneof![
        Just(Window::Ever),
        (1i64..400).prop_map(Window::LastDays),
        (0i64..300, 1i64..200).prop_map(move |(a, len)| Window::Between(
            start + a * 86_400,
            start + (a + len) * 86_400
        )),
    ]
}

fn text_values() -> impl Strategy<Value = Value> {
    proptest::sample::select(vec![
        "Jakarta",
        "Denpasar",
        "Jayapura",
        "consumer",
        "distributor",
        "id",
        "en",
        "retail",
        "Retail",
        "dealer",
        "Andi",
        "30",
        "Bali",
        "",
    ])
    .prop_map(|s| Value::Text(s.to_owned()))
}

fn field_strategy() -> impl Strategy<Value = Rule> {
    let columns = proptest::sample::select(vec![
        Column::Kind,
        Column::City,
        Column::Locale,
        Column::Region,
        Column::Industry,
        Column::Email,
        Column::Phone,
        Column::Name,
        Column::TimeZone,
    ]);
    let column_rule = (
        columns,
        0..7usize,
        text_values(),
        proptest::collection::vec(text_values(), 1..3),
        proptest::sample::select(vec!["Ja", "a", "Odd", "@", "+62", "Mebel"]),
        any::<bool>(),
    )
        .prop_map(|(c, op, v, vs, s, b)| {
            let op = match op {
                0 => FieldOp::Eq(v),
                1 => FieldOp::Ne(v),
                2 => FieldOp::In(vs),
                3 => FieldOp::NotIn(vs),
                4 => FieldOp::Contains(s.to_owned()),
                5 => FieldOp::StartsWith(s.to_owned()),
                _ => FieldOp::Exists(b),
            };
            Rule::Field(Field::Column(c), op)
        });
    let day = |d: i64| Value::Number((fixed_as_of().timestamp() - d * 86_400) as f64);
    let created = (0..6usize, 0i64..1200, 0i64..300).prop_map(move |(op, a, len)| {
        let op = match op {
            0 => FieldOp::Eq(day(a)),
            1 => FieldOp::Lt(day(a)),
            2 => FieldOp::Lte(day(a)),
            3 => FieldOp::Gt(day(a)),
            4 => FieldOp::Gte(day(a)),
            _ => FieldOp::Between(day(a + len), day(a)),
        };
        Rule::Field(Field::Column(Column::CreatedAt), op)
    });
    let key = proptest::sample::select(vec![
        "price_list",
        "credit_days",
        "sales_rep",
        "vip",
        "nope",
    ]);
    let value = prop_oneof![
        text_values(),
        proptest::sample::select(vec![0.0, 30.0, 45.5, 60.0, 90.0]).prop_map(Value::Number),
        any::<bool>().prop_map(Value::Bool),
    ];
    let attribute = (
        key,
        0..10usize,
        value.clone(),
        value,
        proptest::sample::select(vec!["re", "Re", "a"]),
        any::<bool>(),
    )
        .prop_map(|(k, op, v, w, s, b)| {
            let same_kind = std::mem::discriminant(&v) == std::mem::discriminant(&w);
            let op = match op {
                0 => FieldOp::Eq(v),
                1 => FieldOp::Ne(v),
                2 => FieldOp::In(if same_kind { vec![v, w] } else { vec![v] }),
                3 => FieldOp::NotIn(if same_kind { vec![v, w] } else { vec![v] }),
                4..=6 => {
                    let n = match v {
                        Value::Number(n) => n,
                        _ => 30.0,
                    };
                    match op {
                        4 => FieldOp::Lt(Value::Number(n)),
                        5 => FieldOp::Gte(Value::Number(n)),
                        _ => FieldOp::Between(Value::Number(n), Value::Number(n + 20.0)),
                    }
                }
                7 => FieldOp::Contains(s.to_owned()),
                8 => FieldOp::StartsWith(s.to_owned()),
                _ => FieldOp::Exists(b),
            };
            Rule::Field(Field::Attribute(k.to_owned()), op)
        });
    prop_oneof![column_rule, created, attribute]
}

fn order_filter_strategy() -> impl Strategy<Value = OrderFilter> {
    let statuses = prop_oneof![
        Just(
            OrderStatus::ALL
                .iter()
                .copied()
                .filter(|s| s.is_purchase())
                .collect::<Vec<_>>()
        ),
        proptest::sample::subsequence(OrderStatus::ALL.to_vec(), 1..4),
    ];
    let categories = proptest::sample::subsequence(
        vec![
            "sofa",
            "table",
            "cushion",
            "cover",
            "lamp",
            "appliance",
            "bed",
        ],
        0..3,
    );
    let products =
        proptest::sample::subsequence(vec!["SOF-JPR-3S", "CUS-SQ-45", "APL-FAN-ST", "NOPE"], 0..2);
    (statuses, window_strategy(), categories, products).prop_map(|(statuses, window, c, p)| {
        OrderFilter {
            statuses,
            window,
            categories: c.into_iter().map(str::to_owned).collect(),
            products: p.into_iter().map(str::to_owned).collect(),
        }
    })
}

fn leaf_strategy() -> BoxedStrategy<Rule> {
    let counts = vec![0.0, 1.0, 2.0, 3.0, 5.0, 8.0];
    let sums = vec![0.0, 1_000_000.0, 5_000_000.0, 20_000_000.0, 60_000_000.0];
    prop_oneof![
        4 => field_strategy(),
        2 => (order_filter_strategy(), cmp_strategy(counts)).prop_map(|(f, c)| Rule::Orders(f, OrderMeasure::Count, c)),
        1 => (order_filter_strategy(), cmp_strategy(sums)).prop_map(|(f, c)| Rule::Orders(f, OrderMeasure::Sum, c)),
        1 => (0..4usize, proptest::sample::select(vec![7.0, 30.0, 90.0, 180.0, 365.0])).prop_map(|(w, d)| {
            let mut c = Cmp::default();
            match w { 0 => c.gte = Some(d), 1 => c.gt = Some(d), 2 => c.lte = Some(d), _ => c.lt = Some(d) }
            Rule::DaysSinceLastOrder(c)
        }),
        1 => (1i64..400).prop_map(Rule::FirstOrderWithinDays),
        2 => order_filter_strategy().prop_filter("names a product", |f| !f.categories.is_empty() || !f.products.is_empty()).prop_map(Rule::Bought),
        1 => proptest::sample::subsequence(vec!["bronze", "silver", "gold", "platinum"], 1..3).prop_map(|t| Rule::Tier(t.into_iter().map(str::to_owned).collect())),
        1 => proptest::sample::subsequence(vec!["555", "111", "345", "123"], 1..3).prop_map(|t| Rule::RfmCell(t.into_iter().map(str::to_owned).collect())),
        1 => (proptest::sample::select(Score::ALL.iter().map(|(_, s)| *s).collect::<Vec<_>>()), cmp_strategy(vec![0.0, 0.3, 0.5, 1.0, 3.0, 50.0, 80.0, 1_000_000.0, 50_000_000.0])).prop_map(|(s, c)| Rule::Score(s, c)),
        1 => cmp_strategy(vec![-20.0, 0.0, 50.0, 150.0, 300.0]).prop_map(Rule::Points),
        1 => any::<bool>().prop_map(Rule::OpenComplaint),
        1 => proptest::sample::select(vec![Channel::Email, Channel::Sms, Channel::Webhook]).prop_map(Rule::Consent),
        2 => (
            proptest::sample::subsequence(vec!["email.opened", "email.clicked", "message.sent"], 1..3),
            window_strategy(),
            proptest::option::of(proptest::sample::select(vec!["newsletter-1", "newsletter-2", "other"])),
            proptest::option::of(Just("https://kayujaya.example/koleksi/ruang-tamu")),
            cmp_strategy(vec![0.0, 1.0, 2.0]),
        ).prop_map(|(t, window, campaign, link, c)| Rule::Event(
            EventFilter { types: t.into_iter().map(str::to_owned).collect(), window, campaign: campaign.map(str::to_owned), link: link.map(str::to_owned) },
            c,
        )),
        1 => proptest::sample::select(vec!["distributors", "recent-buyers"]).prop_map(|s| Rule::Segment(s.to_owned(), Location::default())),
    ]
    .boxed()
}

fn rule_strategy() -> impl Strategy<Value = Rule> {
    leaf_strategy().prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 1..4).prop_map(Rule::All),
            proptest::collection::vec(inner.clone(), 1..4).prop_map(Rule::Any),
            inner.prop_map(|r| Rule::Not(Box::new(r))),
        ]
    })
}

fn helper_segments() -> SegmentSet {
    let seg = |name: &str, rule: Rule| Segment {
        name: name.into(),
        description: String::new(),
        rule,
        file: String::new(),
    };
    SegmentSet::from_segments([
        seg(
            "distributors",
            Rule::Field(
                Field::Column(Column::Kind),
                FieldOp::Eq(Value::Text("distributor".into())),
            ),
        ),
        seg(
            "recent-buyers",
            Rule::All(vec![
                Rule::DaysSinceLastOrder(Cmp {
                    lte: Some(60.0),
                    ..Cmp::default()
                }),
                Rule::Segment("distributors".into(), Location::default()).negate(),
            ]),
        ),
    ])
}

trait Negate {
    fn negate(self) -> Rule;
}
impl Negate for Rule {
    fn negate(self) -> Rule {
        Rule::Not(Box::new(self))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_rules_agree_on_sqlite_postgres_and_the_reference() {
    let sqlite = TestDb::new(Backend::Sqlite).await;
    let postgres = TestDb::new(Backend::Postgres).await;
    sample_with_extras(&sqlite, 250).await;
    sample_with_extras(&postgres, 250).await;
    let data = Dataset::load(&sqlite.store).await.expect("dataset");
    let set = helper_segments();
    let now = fixed_as_of().timestamp();
    let handle = tokio::runtime::Handle::current();
    let cases: u32 = std::env::var("JALIN_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150);
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases,
        ..Default::default()
    });
    let sizes = std::sync::Mutex::new(Vec::new());
    let result = runner.run(&rule_strategy(), |rule| {
        let (a, b, want) = tokio::task::block_in_place(|| {
            handle.block_on(async {
                let a = sql_members(&sqlite, &set, &rule, now).await;
                let b = sql_members(&postgres, &set, &rule, now).await;
                let want = data.members(&set, &rule, now);
                (
                    refs_of(&sqlite, &a).await,
                    refs_of(&postgres, &b).await,
                    refs_of(&sqlite, &want).await,
                )
            })
        });
        sizes.lock().expect("sizes").push(want.len());
        prop_assert_eq!(
            &a,
            &want,
            "SQLite differs from the reference for {:?}",
            rule
        );
        prop_assert_eq!(
            &b,
            &want,
            "PostgreSQL differs from the reference for {:?}",
            rule
        );
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // The rules were not all trivially empty or everyone.
    let sizes = sizes.into_inner().expect("sizes");
    let total = 253;
    let interesting = sizes.iter().filter(|n| **n > 0 && **n < total).count();
    assert!(
        interesting * 3 >= sizes.len(),
        "{interesting} of {} rules selected some but not all",
        sizes.len()
    );
}

#[tokio::test]
async fn validate_plan_and_preview_commands() {
    let db = TestDb::new(Backend::Sqlite).await;
    load_sample(&db, 300).await;
    let dir = &db.scratch.0;
    let config = repo_config();
    let config = config.to_str().expect("utf-8 path");
    let (code, out, err) = run_jalin(&db.url, dir, &["--config", config, "validate"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("is valid"), "{out}");
    let (code, out, err) = run_jalin(&db.url, dir, &["--config", config, "plan", "--json"]);
    assert_eq!(code, 0, "{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    let segments = plan["segments"].as_array().expect("segments");
    assert!(segments.iter().any(|s| s["name"] == "lapsed-distributors"));
    // Every campaign, with its audience after consent etc. (a dry run) and its next runs.
    let campaigns = plan["campaigns"].as_array().expect("campaigns");
    let win_back = campaigns
        .iter()
        .find(|c| c["name"] == "win-back")
        .expect("win-back");
    let lapsed = segments
        .iter()
        .find(|s| s["name"] == "lapsed-distributors")
        .expect("segment");
    let stats = &win_back["stats"];
    assert_eq!(stats["audience"], lapsed["members"], "{win_back}");
    let accounted = [
        "queued",
        "held_out",
        "unreachable",
        "erased",
        "paused_complaint",
        "capped",
    ]
    .iter()
    .map(|k| stats[*k].as_u64().unwrap_or(0))
    .sum::<u64>();
    assert_eq!(
        Some(accounted),
        stats["audience"].as_u64(),
        "every member is accounted for"
    );
    assert_eq!(
        win_back["next_runs"].as_array().map(Vec::len),
        Some(3),
        "weekly cron"
    );
    let order_status = campaigns
        .iter()
        .find(|c| c["name"] == "order-status")
        .expect("order-status");
    assert_eq!(order_status["next"], "order.status_changed");
    assert_eq!(db.count("outbox").await, 0, "plan writes nothing");
    let (code, out, err) = run_jalin(
        &db.url,
        dir,
        &[
            "--config",
            config,
            "segment",
            "preview",
            "open-complaint",
            "--limit",
            "3",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let p: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert!(p["members"].as_i64().expect("members") > 0);
    assert_eq!(p["columns"][0], "open complaints");
    let (code, _, err) = run_jalin(
        &db.url,
        dir,
        &["--config", config, "segment", "preview", "nobody"],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("no segment \"nobody\"") && err.contains("lapsed-distributors"),
        "{err}"
    );

    // A broken config folder: every problem, located; exit 1; plan refuses to run.
    let bad = Scratch::new();
    bad.write("segments/a.toml", "[rule]\nall = [\n  { field = \"kind\", eq = 3 },\n  { orders = { count = { gte = 3 }, within_dayz = 90 } },\n]\n");
    bad.write("segments/b.toml", "[rule]\nsegment = \"b\"\n");
    bad.write("segments/c.toml", "[rule]\nany = []\n");
    let bad_dir = bad.0.to_str().expect("utf-8");
    let (code, out, _) = run_jalin(&db.url, dir, &["--config", bad_dir, "validate"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("segments/a.toml:3:") && out.contains("rule.all[0]"),
        "{out}"
    );
    assert!(
        out.contains("segments/a.toml:4:")
            && out.contains("within_dayz")
            && out.contains("within_days"),
        "{out}"
    );
    assert!(
        out.contains("segments/b.toml:2:") && out.contains("b → b"),
        "{out}"
    );
    assert!(
        out.contains("segments/c.toml:2:") && out.contains("at least one rule"),
        "{out}"
    );
    let (code, out, _) = run_jalin(&db.url, dir, &["--config", bad_dir, "validate", "--json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["valid"], false);
    assert!(
        v["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .all(|e| e["line"].as_u64().is_some() && e["file"].is_string())
    );
    let (code, _, err) = run_jalin(&db.url, dir, &["--config", bad_dir, "plan"]);
    assert_eq!(code, 1);
    assert!(err.contains("a.toml:3"), "{err}");
}
