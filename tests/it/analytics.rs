//! Analytics end to end on both databases: scores against hand-computed values on a small
//! fixture, the fits on sample data, the loyalty ledger, campaign lift and the report commands.

use crate::both_backends;
use crate::common::{TestDb, fixed_as_of, load_sample, run_jalin};
use jalin_engine::analytics::aggregates::{campaign_report, cohorts, customers_report};
use jalin_engine::analytics::bgnbd::History;
use jalin_engine::analytics::stats::two_proportion;
use jalin_engine::analytics::{AnalyticsSettings, Tier, loyalty, recompute};
use jalin_engine::with_pool;

const DAY: i64 = 86_400;

async fn customer(db: &TestDb, r: &str) -> i64 {
    db.exec(&format!(
        "INSERT INTO customers (external_ref, kind, name, locale, time_zone, created_at) VALUES ('{r}', 'consumer', 'Customer {r}', 'id', 'Asia/Jakarta', 0)"
    )).await;
    db.scalar(&format!(
        "SELECT id FROM customers WHERE external_ref = '{r}'"
    ))
    .await
}

/// An order; `money` is (value, cost of goods, discount) in sen.
async fn order(db: &TestDb, r: &str, customer: i64, status: &str, at: i64, money: [i64; 3]) {
    db.exec(&format!(
        "INSERT INTO orders (external_ref, customer_id, status, placed_at, value, cost, discount) VALUES ('{r}', {customer}, '{status}', {at}, {}, {}, {})", money[0], money[1], money[2]
    )).await;
}

/// One text column of one customer's scores (None for NULL).
async fn text_column(db: &TestDb, column: &str, id: i64) -> Option<String> {
    let sql = format!("SELECT {column} FROM customer_scores WHERE customer_id = {id}");
    with_pool!(&db.store, pool => sqlx::query_scalar::<_, Option<String>>(sqlx::AssertSqlSafe(sql)).fetch_one(pool).await)
        .expect("a score row")
}

/// One score column of one customer (None for NULL).
async fn score(db: &TestDb, column: &str, id: i64) -> Option<f64> {
    let sql = format!(
        "SELECT CAST({column} AS DOUBLE PRECISION) FROM customer_scores WHERE customer_id = {id}"
    );
    with_pool!(&db.store, pool => sqlx::query_scalar::<_, Option<f64>>(sqlx::AssertSqlSafe(sql)).fetch_one(pool).await)
        .expect("a score row")
}

fn small_tiers() -> AnalyticsSettings {
    let mut s = AnalyticsSettings::default();
    s.loyalty.tiers = vec![
        Tier {
            name: "bronze".into(),
            points: 0,
        },
        Tier {
            name: "silver".into(),
            points: 40,
        },
        Tier {
            name: "gold".into(),
            points: 100,
        },
    ];
    s
}

async fn fixture_scores_match_hand_computed_values(db: &TestDb) {
    let now = fixed_as_of().timestamp();
    let c1 = customer(db, "C1").await;
    let c2 = customer(db, "C2").await;
    let c3 = customer(db, "C3").await;
    let c4 = customer(db, "C4").await;
    let c5 = customer(db, "C5").await;
    let c6 = customer(db, "C6").await;
    // Values in sen: 10,000,000 sen = Rp 100,000 = 10 points.
    order(
        db,
        "O1",
        c1,
        "delivered",
        now - 10 * DAY,
        [10_000_000, 6_000_000, 0],
    )
    .await;
    order(
        db,
        "O2",
        c2,
        "delivered",
        now - 100 * DAY,
        [50_000_000, 30_000_000, 5_000_000],
    )
    .await;
    order(db, "O3", c3, "delivered", now - 200 * DAY, [0, 0, 0]).await; // zero value
    order(db, "O4", c4, "confirmed", now + 5 * DAY, [70_000_000, 1, 0]).await; // in the future
    order(
        db,
        "O5",
        c4,
        "cancelled",
        now - 20 * DAY,
        [99_000_000, 1, 0],
    )
    .await; // cancelled
    order(
        db,
        "O6",
        c6,
        "shipped",
        now - 40 * DAY,
        [20_000_000, 10_000_000, 0],
    )
    .await;
    for k in 1..=2 {
        db.exec(&format!(
            "INSERT INTO complaints (external_ref, customer_id, category, severity, channel, opened_at) VALUES ('K{k}', {c5}, 'delivery', 'low', 'phone', {})", now - DAY
        )).await;
    }
    // Two emails and one SMS sent to C1: Rp 25 + 25 + 350 to serve.
    db.exec(&format!(
        "INSERT INTO campaign_runs (campaign, trigger_key, kind, scheduled_for, created_at, status) VALUES ('promo', 'at:1', 'marketing', {now}, {now}, 'planned')"
    )).await;
    let run = db.scalar("SELECT id FROM campaign_runs").await;
    for ch in ["email", "sms"] {
        db.exec(&format!(
            "INSERT INTO outbox (run_id, campaign, kind, customer_id, channel, variant, status, created_at, sent_at) VALUES ({run}, 'promo', 'marketing', {c1}, '{ch}', 'a', 'sent', {now}, {now})"
        )).await;
    }
    db.exec(&format!(
        "INSERT INTO campaign_runs (campaign, trigger_key, kind, scheduled_for, created_at, status) VALUES ('promo', 'at:2', 'marketing', {now}, {now}, 'planned')"
    )).await;
    let run2 = db.scalar("SELECT MAX(id) FROM campaign_runs").await;
    db.exec(&format!(
        "INSERT INTO outbox (run_id, campaign, kind, customer_id, channel, variant, status, created_at, sent_at) VALUES ({run2}, 'promo', 'marketing', {c1}, 'email', 'a', 'sent', {now}, {now})"
    )).await;
    // A previous night's model scores for C1: every buyer here has one purchase, so BG/NBD
    // cannot be fitted, and these must survive.
    db.exec(&format!(
        "INSERT INTO customer_scores (customer_id, p_alive, churn_probability, clv, tier, computed_at) VALUES ({c1}, 0.42, 0.58, 123.0, 'bronze', 1)"
    )).await;

    let r = recompute(&db.store, &small_tiers(), now)
        .await
        .expect("recompute");
    assert_eq!((r.customers, r.buyers), (6, 4));
    assert!(
        !r.bgnbd.converged && r.bgnbd.problem.is_some(),
        "{:?}",
        r.bgnbd
    );
    assert!(r.kept_previous_model_scores);
    assert_eq!(
        r.loyalty.purchases, 3,
        "C1, C2 and C6 earn; zero-value, future and cancelled do not"
    );

    // RFM among the four buyers (mid-rank quintiles; every F ties at one order → 3).
    let cell = |id| async move { text_column(db, "rfm_cell", id).await };
    assert_eq!(cell(c1).await.as_deref(), Some("532"));
    assert_eq!(cell(c2).await.as_deref(), Some("235"));
    assert_eq!(cell(c3).await.as_deref(), Some("131"));
    assert_eq!(cell(c6).await.as_deref(), Some("434"));
    assert_eq!(
        cell(c4).await,
        None,
        "an order in the future is not a purchase yet"
    );
    assert_eq!(cell(c5).await, None);

    // Profit in rupiah: revenue − cost − discount − messages − complaints.
    assert_eq!(score(db, "profit", c1).await, Some(40_000.0 - 400.0));
    assert_eq!(score(db, "profit", c2).await, Some(150_000.0));
    assert_eq!(score(db, "profit", c3).await, Some(0.0));
    assert_eq!(score(db, "profit", c4).await, Some(0.0));
    assert_eq!(score(db, "profit", c5).await, Some(-300_000.0));
    assert_eq!(score(db, "profit", c6).await, Some(100_000.0));
    // Percentiles: (below + half the ties) / 6.
    let pp = score(db, "profit_percentile", c2).await.expect("set");
    assert!((pp - 550.0 / 6.0).abs() < 1e-9, "{pp}");
    let tie = score(db, "profit_percentile", c3).await.expect("set");
    assert!(
        (tie - 200.0 / 6.0).abs() < 1e-9 && score(db, "profit_percentile", c4).await == Some(tie)
    );

    // The failed fit kept C1's previous model scores; nobody else had any.
    assert_eq!(score(db, "p_alive", c1).await, Some(0.42));
    assert_eq!(score(db, "clv", c1).await, Some(123.0));
    assert_eq!(score(db, "p_alive", c2).await, None);
    // A customer who never bought: CLV 0, no churn risk.
    assert_eq!(score(db, "clv", c5).await, Some(0.0));
    assert_eq!(score(db, "p_alive", c5).await, None);

    // Tiers from points earned in 12 months: C2 50 points → silver (≥ 40), C6 20 → bronze.
    assert_eq!(
        db.text(&format!(
            "SELECT tier FROM customer_scores WHERE customer_id = {c2}"
        ))
        .await
        .as_deref(),
        Some("silver")
    );
    assert_eq!(
        db.text(&format!(
            "SELECT tier FROM customer_scores WHERE customer_id = {c6}"
        ))
        .await
        .as_deref(),
        Some("bronze")
    );
    assert_eq!(score(db, "points", c2).await, Some(50.0));
    assert_eq!(
        r.tier_upgrades, 1,
        "C1 had a score row before, so C2 coming in at silver counts"
    );
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM events WHERE event_type = 'tier.upgraded'")
            .await,
        1
    );

    // Nothing non-finite anywhere.
    let bad = db.scalar("SELECT COUNT(*) FROM customer_scores WHERE profit <> profit OR clv <> clv OR p_alive <> p_alive").await;
    assert_eq!(bad, 0);

    // Every buyer here is a cohort of one: 100% in its first month, 0% after.
    let cs = cohorts(&db.store, now, 12).await.expect("cohorts");
    assert_eq!(
        cs.iter().map(|c| c.month.as_str()).collect::<Vec<_>>(),
        ["2025-11", "2026-02", "2026-04", "2026-05"]
    );
    assert!(cs.iter().all(|c| c.size == 1
        && c.retention[0] == 1.0
        && c.retention[1..].iter().all(|v| *v == 0.0)));
    // Total profit is negative: no Pareto share rather than a meaningless one.
    let report = customers_report(&db.store, now).await.expect("report");
    assert_eq!(report.pareto.top20_share, None);
    assert!(
        report
            .fits
            .iter()
            .any(|f| f.model == "bgnbd" && !f.converged)
    );

    // A second run posts nothing twice and leaves the tier events alone.
    let again = recompute(&db.store, &small_tiers(), now)
        .await
        .expect("again");
    assert_eq!((again.loyalty.purchases, again.tier_upgrades), (0, 0));
    assert_eq!(db.scalar("SELECT COUNT(*) FROM loyalty_ledger").await, 3);

    // The orders webhook cancels C6's only order: the next pass sums C6 again (and only C6).
    db.exec("UPDATE orders SET status = 'cancelled' WHERE external_ref = 'O6'")
        .await;
    db.exec(&format!(
        "INSERT INTO events (event_type, occurred_at, customer_id, idempotency_key, recorded_at) VALUES ('order.status_changed', {now}, {c6}, 'cancel-O6', {now})"
    )).await;
    let third = recompute(&db.store, &small_tiers(), now)
        .await
        .expect("third");
    assert_eq!(third.resummed, Some(1));
    assert_eq!(text_column(db, "rfm_cell", c6).await, None);
    assert_eq!(score(db, "profit", c6).await, Some(0.0));
}
both_backends!(fixture_scores, fixture_scores_match_hand_computed_values);

async fn sample_fit_scores_consistently(db: &TestDb) {
    load_sample(db, 1500).await;
    let now = fixed_as_of().timestamp();
    let s = AnalyticsSettings::default();
    let r = recompute(&db.store, &s, now).await.expect("recompute");
    assert!(
        r.bgnbd.converged && r.gamma_gamma.converged,
        "{:?} {:?}",
        r.bgnbd,
        r.gamma_gamma
    );
    // The sample is drawn from BG/NBD r 2, α 8, a 0.7, b 7 (Gamma-Gamma p 6, q 4, γ 1.5); 1,500
    // customers pin them down loosely.
    let p = r.bgnbd.params;
    assert!(
        (1.0..4.0).contains(&p.r) && (4.0..16.0).contains(&p.alpha),
        "{p:?}"
    );
    assert!(
        (0.3..1.5).contains(&p.a) && (3.0..15.0).contains(&p.b),
        "{p:?}"
    );
    let g = r.gamma_gamma.params;
    assert!(
        (3.0..12.0).contains(&g.p) && (2.0..8.0).contains(&g.q),
        "{g:?}"
    );
    // A stored P(alive) is the model's value for that customer's own history.
    let id = db.scalar("SELECT customer_id FROM orders WHERE status NOT IN ('quoted','cancelled') GROUP BY customer_id HAVING COUNT(*) >= 3 ORDER BY customer_id LIMIT 1").await;
    let (n, first, last): (i64, i64, i64) = with_pool!(&db.store, pool => sqlx::query_as(
        "SELECT CAST(COUNT(*) AS BIGINT), MIN(placed_at), MAX(placed_at) FROM orders WHERE customer_id = $1 AND status NOT IN ('quoted','cancelled') AND placed_at <= $2")
        .bind(id).bind(now).fetch_one(pool).await).expect("history");
    let h = History {
        x: (n - 1) as u32,
        t_x: ((last - first) / DAY) as f64 / 7.0,
        t: ((now - first) / DAY) as f64 / 7.0,
    };
    let stored = score(db, "p_alive", id).await.expect("p_alive");
    assert!(
        (stored - p.p_alive(&h)).abs() < 1e-9,
        "{stored} vs {}",
        p.p_alive(&h)
    );
    let churn = score(db, "churn_probability", id).await.expect("churn");
    assert!((churn - (1.0 - stored)).abs() < 1e-12);
    // Scores are in range for everyone.
    assert_eq!(db.scalar("SELECT COUNT(*) FROM customer_scores WHERE p_alive < 0 OR p_alive > 1 OR clv < -1e12 OR rfm_recency NOT BETWEEN 1 AND 5").await, 0);
    assert!(
        db.scalar("SELECT COUNT(*) FROM customer_scores WHERE clv_percentile >= 80")
            .await
            > 0
    );
    // The blue-chip example segment now has members.
    let (project, errors) = jalin_workers::project::Project::load(&crate::segments::repo_config());
    assert!(errors.is_empty(), "{errors:?}");
    let seg = project
        .segments
        .get("blue-chip")
        .expect("blue-chip segment");
    let members =
        jalin_engine::segments::count_members(&db.store, &project.segments, &seg.rule, now)
            .await
            .expect("count");
    assert!(members > 0);
    // The next night starts from these parameters and needs fewer iterations.
    let again = recompute(&db.store, &s, now).await.expect("again");
    assert!(
        again.bgnbd.iterations < r.bgnbd.iterations,
        "{} vs {}",
        again.bgnbd.iterations,
        r.bgnbd.iterations
    );
    // A big order lifts a bronze customer into a higher tier: tier.upgraded, for campaigns.
    let bronze = db.scalar("SELECT customer_id FROM customer_scores WHERE tier = 'bronze' ORDER BY customer_id LIMIT 1").await;
    order(
        db,
        "BIG-1",
        bronze,
        "confirmed",
        now - DAY,
        [10_000_000_000, 1, 0],
    )
    .await;
    let third = recompute(&db.store, &s, now).await.expect("third");
    assert!(third.tier_upgrades >= 1);
    let ev = db.text(&format!("SELECT CAST(payload AS TEXT) FROM events WHERE event_type = 'tier.upgraded' AND customer_id = {bronze}")).await.expect("event");
    assert!(ev.contains("\"to\"") && ev.contains("platinum"), "{ev}");
    // After three incremental passes the summaries equal a sum from scratch.
    let kept = db.scalar("SELECT CAST(SUM(orders) + SUM(revenue) + SUM(points) + SUM(points_12m) AS BIGINT) FROM customer_summaries").await;
    let fresh = db.scalar(&format!(
        "SELECT CAST((SELECT COUNT(*) + SUM(value) FROM orders WHERE status NOT IN ('quoted', 'cancelled') AND placed_at <= {now})
              + (SELECT SUM(points) + SUM(CASE WHEN points > 0 AND occurred_at > {now} - 31536000 AND occurred_at <= {now} THEN points ELSE 0 END) FROM loyalty_ledger) AS BIGINT)"
    )).await;
    assert_eq!(kept, fresh);
}
both_backends!(sample_fit, sample_fit_scores_consistently);

async fn loyalty_ledger_never_goes_negative(db: &TestDb) {
    let now = fixed_as_of().timestamp();
    let c = customer(db, "L1").await;
    let month = 2_629_746;
    // Earned 100 points 30 months ago and 50 points last month; spent 30 two years ago.
    db.exec(&format!("INSERT INTO loyalty_ledger (customer_id, entry_kind, points, occurred_at, reason, idempotency_key) VALUES ({c}, 'earn', 100, {}, 'purchase', 'e1')", now - 30 * month)).await;
    db.exec(&format!("INSERT INTO loyalty_ledger (customer_id, entry_kind, points, occurred_at, reason, idempotency_key) VALUES ({c}, 'redeem', -30, {}, 'voucher', 'r1')", now - 29 * month)).await;
    db.exec(&format!("INSERT INTO loyalty_ledger (customer_id, entry_kind, points, occurred_at, reason, idempotency_key) VALUES ({c}, 'earn', 50, {}, 'purchase', 'e2')", now - month)).await;
    let rules = AnalyticsSettings::default().loyalty; // expire after 24 months
    let pass = loyalty::post_due(&db.store, &rules, now)
        .await
        .expect("post");
    assert_eq!(pass.expired, 1);
    // The 70 unspent old points expired; last month's 50 remain.
    assert_eq!(loyalty::balance(&db.store, c).await.expect("balance"), 50);
    assert_eq!(
        loyalty::post_due(&db.store, &rules, now)
            .await
            .expect("again")
            .expired,
        0
    );
    // Spending more than the balance is refused and posts nothing.
    let err = loyalty::redeem(&db.store, c, 51, "voucher", "k1", now)
        .await
        .expect_err("too much");
    assert!(err.to_string().contains("balance is 50"), "{err}");
    assert_eq!(
        loyalty::redeem(&db.store, c, 50, "voucher", "k2", now)
            .await
            .expect("exact"),
        0
    );
    assert_eq!(
        loyalty::redeem(&db.store, c, 50, "voucher", "k2", now)
            .await
            .expect("replay"),
        0
    );
    assert!(
        loyalty::redeem(&db.store, c, 0, "voucher", "k3", now)
            .await
            .is_err()
    );
    // Racing redemptions: 100 points, ten concurrent requests for 60 → exactly one succeeds.
    db.exec(&format!("INSERT INTO loyalty_ledger (customer_id, entry_kind, points, occurred_at, reason, idempotency_key) VALUES ({c}, 'earn', 100, {now}, 'purchase', 'e3')")).await;
    let tries = (0..10).map(|i| {
        let store = db.store.clone();
        tokio::spawn(async move {
            loyalty::redeem(&store, c, 60, "race", &format!("race{i}"), now).await
        })
    });
    let mut ok = 0;
    for t in tries {
        if t.await.expect("task").is_ok() {
            ok += 1;
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(loyalty::balance(&db.store, c).await.expect("balance"), 40);
    // Expiry much later still never goes below zero.
    loyalty::post_due(&db.store, &rules, now + 40 * month)
        .await
        .expect("later");
    assert_eq!(loyalty::balance(&db.store, c).await.expect("balance"), 0);
    let min = db.scalar("SELECT MIN(s) FROM (SELECT CAST(SUM(points) AS BIGINT) AS s FROM loyalty_ledger GROUP BY customer_id) t").await;
    assert!(min >= 0);
}
both_backends!(loyalty_ledger, loyalty_ledger_never_goes_negative);

async fn campaign_funnel_lift_and_roi(db: &TestDb) {
    let now = fixed_as_of().timestamp();
    db.exec(&format!(
        "INSERT INTO campaign_runs (campaign, trigger_key, kind, scheduled_for, created_at, status) VALUES ('win-back', 'at:1', 'marketing', {now}, {now}, 'planned')"
    )).await;
    let run = db.scalar("SELECT id FROM campaign_runs").await;
    // 40 sent (20 per variant), 20 held out. Ordered within 30 days: 12 treated, 2 held out.
    for i in 0..60 {
        let id = customer(db, &format!("W{i}")).await;
        let (status, variant) = match i {
            0..20 => ("sent", "a"),
            20..40 => ("sent", "b"),
            _ => ("held_out", "a"),
        };
        db.exec(&format!(
            "INSERT INTO outbox (run_id, campaign, kind, customer_id, channel, variant, status, created_at, sent_at) VALUES ({run}, 'win-back', 'marketing', {id}, 'email', '{variant}', '{status}', {now}, {now})"
        )).await;
        let msg = db
            .scalar(&format!("SELECT id FROM outbox WHERE customer_id = {id}"))
            .await;
        let ordered = (i < 8) || (20..24).contains(&i) || (40..42).contains(&i);
        if ordered {
            order(
                db,
                &format!("WO{i}"),
                id,
                "confirmed",
                now + 3 * DAY,
                [20_000_000, 1, 0],
            )
            .await;
        }
        if i < 30 {
            db.exec(&format!("INSERT INTO events (event_type, occurred_at, customer_id, campaign, message_id, idempotency_key, recorded_at) VALUES ('email.opened', {now}, {id}, 'win-back', {msg}, 'open{i}', {now})")).await;
        }
        if i < 10 {
            db.exec(&format!("INSERT INTO events (event_type, occurred_at, customer_id, campaign, message_id, idempotency_key, recorded_at) VALUES ('email.clicked', {now}, {id}, 'win-back', {msg}, 'click{i}', {now})")).await;
        }
        if i < 8 {
            db.exec(&format!("INSERT INTO events (event_type, occurred_at, customer_id, campaign, message_id, idempotency_key, payload, recorded_at) VALUES ('conversion.attributed', {now}, {id}, 'win-back', {msg}, 'conv{i}', '{{\"variant\":\"a\",\"revenue\":20000000}}', {now})")).await;
        }
        if i == 39 {
            db.exec(&format!("INSERT INTO events (event_type, occurred_at, customer_id, campaign, message_id, idempotency_key, recorded_at) VALUES ('email.bounced', {now}, {id}, 'win-back', {msg}, 'bounce{i}', {now})")).await;
        }
    }
    let r = campaign_report(&db.store, "win-back", 30, &AnalyticsSettings::default())
        .await
        .expect("report");
    let a = r.variants.iter().find(|v| v.variant == "a").expect("a");
    let b = r.variants.iter().find(|v| v.variant == "b").expect("b");
    assert_eq!(
        (
            a.planned,
            a.sent,
            a.delivered,
            a.opened,
            a.clicked,
            a.converted
        ),
        (20, 20, 20, 20, 10, 8)
    );
    assert_eq!(
        (
            b.planned,
            b.sent,
            b.delivered,
            b.opened,
            b.clicked,
            b.converted
        ),
        (20, 20, 19, 10, 0, 0)
    );
    assert_eq!(a.revenue, 8.0 * 200_000.0);
    assert_eq!((r.treated, r.holdout), ((40, 12), (20, 2)));
    let lift = r.lift.expect("a test");
    let expected = two_proportion(12, 40, 2, 20).expect("same test");
    assert_eq!(lift, expected);
    // 12/40 vs 2/20: pooled 14/60; z = 0.2 / √(0.2333·0.7667·(1/40 + 1/20)) = 1.7267.
    assert!((lift.z - 1.7267).abs() < 1e-3, "{lift:?}");
    // 40 emails at Rp 25 against Rp 1.6 M attributed.
    assert_eq!(r.total.cost, 1_000.0);
    assert_eq!(r.roi, Some((1_600_000.0 - 1_000.0) / 1_000.0));
}
both_backends!(campaign_lift, campaign_funnel_lift_and_roi);

async fn nightly_runs_once_per_day(db: &TestDb) {
    load_sample(db, 200).await;
    let s = AnalyticsSettings::default();
    let now = fixed_as_of().timestamp() + 3 * 3600; // 10:00 in Jakarta
    let runs = futures::future::join_all(
        (0..3).map(|_| jalin_engine::analytics::nightly::run_if_due(&db.store, &s, now)),
    )
    .await;
    let done = runs
        .into_iter()
        .map(|r| r.expect("no error"))
        .filter(Option::is_some)
        .count();
    assert_eq!(done, 1, "three schedulers, one recompute");
    assert!(
        jalin_engine::analytics::nightly::run_if_due(&db.store, &s, now + 3600)
            .await
            .expect("ok")
            .is_none()
    );
    assert!(
        jalin_engine::analytics::nightly::run_if_due(&db.store, &s, now + DAY)
            .await
            .expect("ok")
            .is_some()
    );
}
both_backends!(nightly_job, nightly_runs_once_per_day);

async fn report_commands(db: &TestDb) {
    load_sample(db, 800).await;
    let dir = &db.scratch.0;
    let config = crate::segments::repo_config();
    let config = config.to_str().expect("utf-8 path");
    let (code, out, err) = run_jalin(
        &db.url,
        dir,
        &["--config", config, "metrics", "recompute", "--json"],
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["customers"], 800);
    assert!(v["bgnbd"]["params"]["r"].as_f64().is_some());
    let html = db.scratch.path("out/customers.html");
    let (code, out, err) = run_jalin(
        &db.url,
        dir,
        &[
            "--config",
            config,
            "report",
            "customers",
            "--html",
            html.to_str().expect("path"),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("RFM grid") && out.contains("Blue-chip"),
        "{out}"
    );
    assert!(
        out.lines().all(|l| l.chars().count() <= 80),
        "wider than 80 columns:\n{out}"
    );
    let page = std::fs::read_to_string(&html).expect("html written");
    assert!(page.starts_with("<!DOCTYPE html>") && page.matches("<svg").count() >= 4);
    assert!(!page.contains("NaN") && !page.contains("<script") && !page.contains("http"));
    let (code, out, err) = run_jalin(
        &db.url,
        dir,
        &["--config", config, "report", "loyalty", "--json"],
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["tiers"].as_array().map(Vec::len), Some(4));
    let (code, _, err) = run_jalin(
        &db.url,
        dir,
        &["--config", config, "report", "campaign", "no-such-campaign"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("no-such-campaign"), "{err}");
    let (code, out, err) = run_jalin(
        &db.url,
        dir,
        &[
            "--config",
            config,
            "report",
            "campaign",
            "win-back",
            "--html",
            html.to_str().expect("path"),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Lift"));
}
both_backends!(reports, report_commands);
