//! `jalin metrics recompute`: post due loyalty entries, read one summary row per customer,
//! fit the models, score everyone and replace `customer_scores` in one transaction.
//!
//! Incremental where the models allow: loyalty entries are posted only where missing, and each
//! fit starts from the previous night's parameters (a refit on a day's more data then takes a
//! few iterations instead of dozens). The fits themselves are global, so every customer is
//! rescored.

use super::bgnbd::{BgNbd, Fit, History};
use super::gamma_gamma::{GammaGamma, Spend};
use super::loyalty::{self, LoyaltyPass};
use super::rfm::{percentile_ranks, quintiles};
use super::summaries;
use super::{AnalyticsSettings, LoyaltySettings};
use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::columns::{Columns, Tail, insert};
use crate::with_pool;
use serde::Serialize;
use std::collections::HashMap;
use std::time::Instant;

const DAY: i64 = 86_400;
/// Sen per million rupiah: the spend model is fitted in millions of rupiah.
const SEN_PER_MILLION: f64 = 1e8;

/// What a recompute did.
#[derive(Debug, Clone, Serialize)]
pub struct Recompute {
    /// Customers scored.
    pub customers: u64,
    /// Of whom ever bought.
    pub buyers: u64,
    /// The BG/NBD fit.
    pub bgnbd: Fit<BgNbd>,
    /// The Gamma-Gamma fit.
    pub gamma_gamma: Fit<GammaGamma>,
    /// True when a fit failed and the model scores kept their previous values.
    pub kept_previous_model_scores: bool,
    /// Loyalty entries posted.
    pub loyalty: LoyaltyPass,
    /// Customers whose purchase totals were summed again (None: all, the first time).
    pub resummed: Option<u64>,
    /// Customers who moved up a tier.
    pub tier_upgrades: u64,
    /// Customers who moved down a tier.
    pub tier_downgrades: u64,
    /// Seconds spent per step.
    pub timings: Vec<(String, f64)>,
}

/// One customer's inputs.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Inputs {
    id: i64,
    orders: i64,
    first_at: Option<i64>,
    last_at: Option<i64>,
    revenue: i64,
    cogs: i64,
    discount: i64,
    balance: i64,
    earned_12m: i64,
    email_sent: i64,
    sms_sent: i64,
    webhook_sent: i64,
    complaints: i64,
    old_tier: Option<String>,
}

/// One customer's scores.
#[derive(Debug, Clone, Default)]
struct Scores {
    rfm: Option<(i16, i16, i16)>,
    p_alive: Option<f64>,
    expected_purchases: Option<f64>,
    expected_spend: Option<f64>,
    clv: Option<f64>,
    profit: f64,
    clv_percentile: Option<f64>,
    profit_percentile: f64,
    tier: String,
}

/// Recomputes every score at `now` (Unix seconds).
pub async fn recompute(store: &Store, s: &AnalyticsSettings, now: i64) -> Result<Recompute> {
    if let Some(p) = s.loyalty.problem() {
        return Err(Error::Invalid(format!("[analytics.loyalty] tiers: {p}")));
    }
    let mut timings = Vec::new();
    let mut clock = Instant::now();
    let mut lap = |name: &str, timings: &mut Vec<(String, f64)>| {
        timings.push((name.to_owned(), clock.elapsed().as_secs_f64()));
        clock = Instant::now();
    };
    let loyalty = loyalty::post_due(store, &s.loyalty, now).await?;
    lap("loyalty", &mut timings);
    let resummed = summaries::refresh(store, now).await?;
    lap("summaries", &mut timings);
    let rows = read_inputs(store).await?;
    lap("read", &mut timings);

    let buyers: Vec<usize> = (0..rows.len()).filter(|&i| rows[i].orders > 0).collect();
    let histories: Vec<History> = buyers.iter().map(|&i| history_at(&rows[i], now)).collect();
    let spends: Vec<Spend> = buyers
        .iter()
        .filter(|&&i| rows[i].orders >= 2)
        .map(|&i| mean_spend(&rows[i]))
        .collect();
    let (previous_bg, previous_gg) = previous_fits(store).await?;
    let bgnbd = BgNbd::fit(&histories, previous_bg);
    let gamma_gamma = GammaGamma::fit(&spends, previous_gg);
    lap("fit", &mut timings);

    let bg = bgnbd.converged.then_some(bgnbd.params);
    let gg = gamma_gamma.converged.then_some(gamma_gamma.params);
    let mut scores = score(&rows, bg, gg, s, now);
    let kept_previous = bg.is_none();
    if kept_previous {
        keep_previous_model_scores(store, &rows, &mut scores).await?;
    }
    lap("score", &mut timings);

    let (tier_upgrades, tier_downgrades) =
        record_tier_changes(store, &rows, &scores, &s.loyalty, now).await?;
    lap("events", &mut timings);
    write_scores(store, &rows, &scores, now).await?;
    save_fit(store, "bgnbd", &bgnbd, now).await?;
    save_fit(store, "gamma_gamma", &gamma_gamma, now).await?;
    lap("write", &mut timings);
    Ok(Recompute {
        customers: rows.len() as u64,
        buyers: buyers.len() as u64,
        bgnbd,
        gamma_gamma,
        kept_previous_model_scores: kept_previous,
        loyalty,
        resummed,
        tier_upgrades,
        tier_downgrades,
        timings,
    })
}

/// Every buyer's purchase history at `now`, as the BG/NBD fit sees it (for benchmarks and
/// comparisons with other implementations).
pub async fn purchase_histories(store: &Store, now: i64) -> Result<Vec<History>> {
    summaries::refresh(store, now).await?;
    let rows = read_inputs(store).await?;
    Ok(rows
        .iter()
        .filter(|r| r.orders > 0)
        .map(|r| history_at(r, now))
        .collect())
}

/// The BG/NBD history of a customer, times in whole days expressed in weeks (as transaction
/// summaries usually are; it also lets the fit share work between customers).
fn history_at(r: &Inputs, now: i64) -> History {
    let first = r.first_at.unwrap_or(now);
    let weeks = |seconds: i64| (seconds.max(0) / DAY) as f64 / 7.0;
    History {
        x: u32::try_from(r.orders - 1).unwrap_or(0),
        t_x: weeks(r.last_at.unwrap_or(first) - first),
        t: weeks(now - first),
    }
}

fn mean_spend(r: &Inputs) -> Spend {
    Spend {
        x: u32::try_from(r.orders).unwrap_or(u32::MAX),
        m: r.revenue as f64 / r.orders.max(1) as f64 / SEN_PER_MILLION,
    }
}

async fn read_inputs(store: &Store) -> Result<Vec<Inputs>> {
    let ctx = "reading customer summaries";
    match store {
        Store::Sqlite(pool) => {
            sqlx::query_as::<_, Inputs>(sqlx::AssertSqlSafe(READ_INPUTS.replace("{range}", "")))
                .fetch_all(pool)
                .await
                .map_err(Error::db(ctx))
        }
        Store::Postgres(pool) => {
            // Two halves of the id range on two connections: the server reads and this side
            // decodes on both cores.
            let (lo, hi): (i64, i64) = sqlx::query_as(
                "SELECT CAST(COALESCE(MIN(id), 0) AS BIGINT), CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM customers",
            )
            .fetch_one(pool)
            .await
            .map_err(Error::db(ctx))?;
            let mid = lo + (hi - lo) / 2;
            let half = |from: i64, to: i64| async move {
                let mut tx = pool.begin().await?;
                sqlx::query("SET LOCAL work_mem = '256MB'")
                    .execute(&mut *tx)
                    .await?;
                // Every table here is keyed by customer: walking the primary keys in step
                // beats building a million-row hash table per join.
                sqlx::query("SET LOCAL enable_hashjoin = off")
                    .execute(&mut *tx)
                    .await?;
                let sql = READ_INPUTS.replace("{range}", "AND c.id >= $1 AND c.id <= $2");
                let rows = sqlx::query_as::<_, Inputs>(sqlx::AssertSqlSafe(sql))
                    .bind(from)
                    .bind(to)
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok::<_, sqlx::Error>(rows)
            };
            let (mut first, second) =
                futures::try_join!(half(lo, mid), half(mid + 1, hi)).map_err(Error::db(ctx))?;
            first.extend(second);
            Ok(first)
        }
    }
}

/// One summary row per customer (`{range}`: an optional id range).
const READ_INPUTS: &str = "SELECT c.id,
                CAST(COALESCE(o.orders, 0) AS BIGINT) AS orders, o.first_at, o.last_at,
                CAST(COALESCE(o.revenue, 0) AS BIGINT) AS revenue,
                CAST(COALESCE(o.cogs, 0) AS BIGINT) AS cogs,
                CAST(COALESCE(o.discount, 0) AS BIGINT) AS discount,
                CAST(COALESCE(o.points, 0) AS BIGINT) AS balance,
                CAST(COALESCE(o.points_12m, 0) AS BIGINT) AS earned_12m,
                CAST(COALESCE(m.email, 0) AS BIGINT) AS email_sent,
                CAST(COALESCE(m.sms, 0) AS BIGINT) AS sms_sent,
                CAST(COALESCE(m.webhook, 0) AS BIGINT) AS webhook_sent,
                CAST(COALESCE(k.n, 0) AS BIGINT) AS complaints,
                s.tier AS old_tier
         FROM customers c
         LEFT JOIN customer_summaries o ON o.customer_id = c.id
         LEFT JOIN (SELECT customer_id,
                           SUM(CASE WHEN channel = 'email' THEN 1 ELSE 0 END) AS email,
                           SUM(CASE WHEN channel = 'sms' THEN 1 ELSE 0 END) AS sms,
                           SUM(CASE WHEN channel = 'webhook' THEN 1 ELSE 0 END) AS webhook
                    FROM outbox WHERE status = 'sent' GROUP BY customer_id) m ON m.customer_id = c.id
         LEFT JOIN (SELECT customer_id, COUNT(*) AS n FROM complaints GROUP BY customer_id) k ON k.customer_id = c.id
         LEFT JOIN customer_scores s ON s.customer_id = c.id
         WHERE c.erased_at IS NULL {range}
         ORDER BY c.id";

async fn previous_fits(store: &Store) -> Result<(Option<BgNbd>, Option<GammaGamma>)> {
    let rows: Vec<(String, String)> = with_pool!(store, pool => sqlx::query_as(
        "SELECT model, params FROM analytics_fits WHERE converged").fetch_all(pool).await)
    .map_err(Error::db("reading previous fits"))?;
    let mut bg = None;
    let mut gg = None;
    for (model, params) in rows {
        match model.as_str() {
            "bgnbd" => bg = serde_json::from_str(&params).ok(),
            "gamma_gamma" => gg = serde_json::from_str(&params).ok(),
            _ => {}
        }
    }
    Ok((bg, gg))
}

async fn save_fit<P: Serialize>(store: &Store, model: &str, fit: &Fit<P>, now: i64) -> Result<()> {
    let params = serde_json::to_string(&fit.params).unwrap_or_else(|_| "{}".into());
    let ll = fit.log_likelihood.is_finite().then_some(fit.log_likelihood);
    let iterations = i32::try_from(fit.iterations).unwrap_or(i32::MAX);
    let customers = i64::try_from(fit.customers).unwrap_or(i64::MAX);
    // A failed fit keeps the last good parameters (the next fit starts from them) and records
    // only that it failed and why.
    with_pool!(store, pool => sqlx::query(
        "INSERT INTO analytics_fits (model, params, log_likelihood, customers, iterations, converged, problem, computed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (model) DO UPDATE SET
           params = CASE WHEN excluded.converged OR NOT analytics_fits.converged THEN excluded.params ELSE analytics_fits.params END,
           log_likelihood = CASE WHEN excluded.converged THEN excluded.log_likelihood ELSE analytics_fits.log_likelihood END,
           customers = excluded.customers, iterations = excluded.iterations, converged = excluded.converged,
           problem = excluded.problem, computed_at = excluded.computed_at")
        .bind(model).bind(params).bind(ll).bind(customers).bind(iterations).bind(fit.converged)
        .bind(&fit.problem).bind(now).execute(pool).await.map(|_| ()))
    .map_err(Error::db("saving a model fit"))?;
    Ok(())
}

/// Scores every customer; the CLV step runs on all cores.
fn score(
    rows: &[Inputs],
    bg: Option<BgNbd>,
    gg: Option<GammaGamma>,
    s: &AnalyticsSettings,
    now: i64,
) -> Vec<Scores> {
    let total_revenue: i64 = rows.iter().map(|r| r.revenue).sum();
    let total_margin: i64 = rows.iter().map(|r| r.revenue - r.cogs - r.discount).sum();
    let company_margin = if total_revenue > 0 {
        total_margin as f64 / total_revenue as f64
    } else {
        0.0
    };
    let monthly = (1.0 + s.discount_rate.max(0.0)).powf(1.0 / 12.0) - 1.0;
    let horizon = s.clv_months;
    let one = |r: &Inputs| -> Scores {
        let sen = 100.0;
        let cost_to_serve = r.email_sent as f64 * s.unit_cost.email
            + r.sms_sent as f64 * s.unit_cost.sms
            + r.webhook_sent as f64 * s.unit_cost.webhook
            + r.complaints as f64 * s.complaint_cost;
        let profit = (r.revenue - r.cogs - r.discount) as f64 / sen - cost_to_serve;
        let mut out = Scores {
            profit,
            tier: s.loyalty.tier_of(r.earned_12m).1.to_owned(),
            ..Scores::default()
        };
        if r.orders == 0 {
            out.clv = Some(0.0);
            return out;
        }
        let Some(model) = bg else { return out };
        let h = history_at(r, now);
        let m = mean_spend(r);
        let spend_millions = match gg {
            Some(g) => g.expected_spend(m.x, m.m),
            None => m.m,
        };
        let margin = if r.revenue > 0 {
            (r.revenue - r.cogs - r.discount) as f64 / r.revenue as f64
        } else {
            company_margin
        };
        let per_purchase = spend_millions * 1e6 * margin;
        // Purchases expected per quarter (the last one may be shorter), each discounted from
        // the middle of its quarter.
        let mut clv = 0.0;
        let mut before = 0.0;
        let mut month = 0;
        let mut year = None;
        while month < horizon {
            let end = (month + 3).min(horizon);
            let e = model.expected_purchases(f64::from(end) * 52.0 / 12.0, &h);
            if end == 12 {
                year = Some(e);
            }
            let middle = f64::from(month + end) / 2.0;
            clv += (e - before).max(0.0) * per_purchase / (1.0 + monthly).powf(middle);
            before = e;
            month = end;
        }
        out.p_alive = Some(model.p_alive(&h));
        out.expected_purchases = Some(year.unwrap_or_else(|| model.expected_purchases(52.0, &h)));
        out.expected_spend = Some(spend_millions * 1e6);
        out.clv = clv.is_finite().then_some(clv);
        out
    };
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let chunk = rows.len().div_ceil(workers).max(1);
    let mut scores: Vec<Scores> = std::thread::scope(|sc| {
        let handles: Vec<_> = rows
            .chunks(chunk)
            .map(|part| sc.spawn(move || part.iter().map(one).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    // Rank-based scores over everyone scored.
    let buyers: Vec<usize> = (0..rows.len()).filter(|&i| rows[i].orders > 0).collect();
    let recency: Vec<f64> = buyers
        .iter()
        .map(|&i| -((now - rows[i].last_at.unwrap_or(now)) as f64))
        .collect();
    let frequency: Vec<f64> = buyers.iter().map(|&i| rows[i].orders as f64).collect();
    let monetary: Vec<f64> = buyers.iter().map(|&i| rows[i].revenue as f64).collect();
    let (r, f, m) = (
        quintiles(&recency),
        quintiles(&frequency),
        quintiles(&monetary),
    );
    for (k, &i) in buyers.iter().enumerate() {
        scores[i].rfm = Some((r[k], f[k], m[k]));
    }
    let profits: Vec<f64> = scores.iter().map(|x| x.profit).collect();
    for (x, p) in scores.iter_mut().zip(percentile_ranks(&profits)) {
        x.profit_percentile = p * 100.0;
    }
    let with_clv: Vec<usize> = (0..scores.len())
        .filter(|&i| scores[i].clv.is_some())
        .collect();
    let clvs: Vec<f64> = with_clv
        .iter()
        .map(|&i| scores[i].clv.unwrap_or(0.0))
        .collect();
    for (&i, p) in with_clv.iter().zip(percentile_ranks(&clvs)) {
        scores[i].clv_percentile = Some(p * 100.0);
    }
    scores
}

/// A fit failed: the model's scores stay what they were.
async fn keep_previous_model_scores(
    store: &Store,
    rows: &[Inputs],
    scores: &mut [Scores],
) -> Result<()> {
    type Old = (
        i64,
        Option<f64>,
        Option<f64>,
        Option<f64>,
        Option<f64>,
        Option<f64>,
    );
    let old: Vec<Old> = with_pool!(store, pool => sqlx::query_as(
        "SELECT customer_id, p_alive, expected_purchases, expected_spend, clv, clv_percentile FROM customer_scores")
        .fetch_all(pool).await)
    .map_err(Error::db("reading previous scores"))?;
    let old: HashMap<i64, Old> = old.into_iter().map(|o| (o.0, o)).collect();
    for (r, s) in rows.iter().zip(scores.iter_mut()) {
        if let Some(o) = old.get(&r.id) {
            s.p_alive = o.1;
            s.expected_purchases = o.2;
            s.expected_spend = o.3;
            s.clv = o.4;
            s.clv_percentile = o.5;
        } else if r.orders > 0 {
            s.clv = None;
            s.clv_percentile = None;
        }
    }
    Ok(())
}

/// Records `tier.upgraded` / `tier.downgraded` events (campaigns can trigger on them). The first
/// recompute sets everyone's tier without events; after that a customer seen for the first time
/// counts as coming from the lowest tier.
async fn record_tier_changes(
    store: &Store,
    rows: &[Inputs],
    scores: &[Scores],
    rules: &LoyaltySettings,
    now: i64,
) -> Result<(u64, u64)> {
    if rows.iter().all(|r| r.old_tier.is_none()) {
        return Ok((0, 0));
    }
    let day = chrono::DateTime::from_timestamp(now, 0)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    let lowest = rules.tiers.first().map_or("", |t| t.name.as_str());
    let (mut kinds, mut customers, mut keys, mut payloads) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut up, mut down) = (0, 0);
    for (r, s) in rows.iter().zip(scores) {
        let from = r.old_tier.as_deref().unwrap_or(lowest);
        let (Some(a), Some(b)) = (rules.rank(from), rules.rank(&s.tier)) else {
            continue;
        };
        if a == b {
            continue;
        }
        let kind = if b > a {
            up += 1;
            "tier.upgraded"
        } else {
            down += 1;
            "tier.downgraded"
        };
        kinds.push(Some(kind));
        customers.push(Some(r.id));
        keys.push(Some(format!("tier:{}:{from}:{}:{day}", r.id, s.tier)));
        payloads.push(
            serde_json::json!({ "from": from, "to": s.tier, "points_12m": r.earned_12m })
                .to_string(),
        );
    }
    let n = kinds.len();
    for start in (0..n).step_by(20_000) {
        let end = (start + 20_000).min(n);
        let mut cols = Columns::default();
        cols.text("event_type", kinds[start..end].iter().copied())
            .int("occurred_at", std::iter::repeat_n(Some(now), end - start))
            .int("customer_id", customers[start..end].iter().copied())
            .text("idempotency_key", keys[start..end].iter().cloned())
            .json("payload", payloads[start..end].iter().cloned())
            .int("recorded_at", std::iter::repeat_n(Some(now), end - start));
        let tail = Tail {
            on_conflict: "ON CONFLICT (idempotency_key) DO NOTHING",
            returning: "",
        };
        insert::<(i64,)>(store, "events", &cols, &tail, "recording tier changes").await?;
    }
    Ok((up, down))
}

const SCORE_COLUMNS: &str = "customer_id, rfm_recency, rfm_frequency, rfm_monetary, rfm_cell, p_alive, \
     churn_probability, expected_purchases, clv, profit, clv_percentile, profit_percentile, tier, points, \
     points_12m, expected_spend, computed_at";

/// Replaces `customer_scores` in one transaction (COPY on PostgreSQL).
async fn write_scores(store: &Store, rows: &[Inputs], scores: &[Scores], now: i64) -> Result<()> {
    let ctx = "writing customer scores";
    match store {
        Store::Postgres(pool) => {
            // The binary COPY rows, built on all cores.
            let workers = std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(8);
            let chunk = rows.len().div_ceil(workers).max(1);
            let parts: Vec<Vec<u8>> = std::thread::scope(|sc| {
                let handles: Vec<_> = rows
                    .chunks(chunk)
                    .zip(scores.chunks(chunk))
                    .map(|(rs, ss)| {
                        sc.spawn(move || {
                            let mut bytes = Vec::with_capacity(rs.len() * 190);
                            for (r, s) in rs.iter().zip(ss) {
                                copy_row(&mut bytes, r, s, now);
                            }
                            bytes
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_default())
                    .collect()
            });
            let mut tx = pool.begin().await.map_err(Error::db(ctx))?;
            // Loading into a bare table and indexing afterwards is faster than maintaining the
            // indexes row by row; readers wait for the commit either way (TRUNCATE's lock).
            for ddl in [
                "TRUNCATE customer_scores",
                "DROP INDEX IF EXISTS customer_scores_tier",
                "ALTER TABLE customer_scores DROP CONSTRAINT IF EXISTS customer_scores_pkey",
            ] {
                sqlx::query(ddl)
                    .execute(&mut *tx)
                    .await
                    .map_err(Error::db(ctx))?;
            }
            let mut copy = tx
                .copy_in_raw(&format!(
                    "COPY customer_scores ({SCORE_COLUMNS}) FROM STDIN (FORMAT binary)"
                ))
                .await
                .map_err(Error::db(ctx))?;
            // Signature, flags, header extension; then the rows; then the trailer.
            let mut header = b"PGCOPY\n\xff\r\n\0".to_vec();
            header.extend_from_slice(&[0u8; 8]);
            copy.send(header).await.map_err(Error::db(ctx))?;
            for bytes in &parts {
                for part in bytes.chunks(1 << 20) {
                    copy.send(part).await.map_err(Error::db(ctx))?;
                }
            }
            copy.send((-1i16).to_be_bytes().to_vec())
                .await
                .map_err(Error::db(ctx))?;
            copy.finish().await.map_err(Error::db(ctx))?;
            for ddl in [
                "ALTER TABLE customer_scores ADD PRIMARY KEY (customer_id)",
                "CREATE INDEX customer_scores_tier ON customer_scores (tier)",
            ] {
                sqlx::query(ddl)
                    .execute(&mut *tx)
                    .await
                    .map_err(Error::db(ctx))?;
            }
            tx.commit().await.map_err(Error::db(ctx))?;
        }
        Store::Sqlite(pool) => {
            let mut tx = pool.begin().await.map_err(Error::db(ctx))?;
            sqlx::query("DELETE FROM customer_scores")
                .execute(&mut *tx)
                .await
                .map_err(Error::db(ctx))?;
            let per = 32_000 / 17;
            for (rs, ss) in rows.chunks(per).zip(scores.chunks(per)) {
                let mut qb = sqlx::QueryBuilder::<sqlx::Sqlite>::new(format!(
                    "INSERT INTO customer_scores ({SCORE_COLUMNS}) "
                ));
                qb.push_values(rs.iter().zip(ss), |mut b, (r, s)| {
                    b.push_bind(r.id)
                        .push_bind(s.rfm.map(|x| x.0))
                        .push_bind(s.rfm.map(|x| x.1))
                        .push_bind(s.rfm.map(|x| x.2))
                        .push_bind(s.rfm.map(|x| format!("{}{}{}", x.0, x.1, x.2)))
                        .push_bind(s.p_alive)
                        .push_bind(s.p_alive.map(|p| 1.0 - p))
                        .push_bind(s.expected_purchases)
                        .push_bind(s.clv)
                        .push_bind(s.profit)
                        .push_bind(s.clv_percentile)
                        .push_bind(s.profit_percentile)
                        .push_bind(s.tier.clone())
                        .push_bind(r.balance)
                        .push_bind(r.earned_12m)
                        .push_bind(s.expected_spend)
                        .push_bind(now);
                });
                qb.build().execute(&mut *tx).await.map_err(Error::db(ctx))?;
            }
            tx.commit().await.map_err(Error::db(ctx))?;
        }
    }
    Ok(())
}

/// One row of PostgreSQL's binary COPY format: a field count, then each field as a length
/// (−1 for NULL) and its big-endian bytes, in `SCORE_COLUMNS` order and types.
fn copy_row(out: &mut Vec<u8>, r: &Inputs, s: &Scores, now: i64) {
    fn int8(out: &mut Vec<u8>, v: i64) {
        out.extend_from_slice(&8i32.to_be_bytes());
        out.extend_from_slice(&v.to_be_bytes());
    }
    fn float8(out: &mut Vec<u8>, v: Option<f64>) {
        match v {
            Some(x) if x.is_finite() => {
                out.extend_from_slice(&8i32.to_be_bytes());
                out.extend_from_slice(&x.to_be_bytes());
            }
            _ => out.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }
    fn text(out: &mut Vec<u8>, v: &str) {
        out.extend_from_slice(&i32::try_from(v.len()).unwrap_or(0).to_be_bytes());
        out.extend_from_slice(v.as_bytes());
    }
    out.extend_from_slice(&17i16.to_be_bytes());
    int8(out, r.id);
    match s.rfm {
        Some((a, b, c)) => {
            for v in [a, b, c] {
                out.extend_from_slice(&2i32.to_be_bytes());
                out.extend_from_slice(&v.to_be_bytes());
            }
            text(out, &format!("{a}{b}{c}"));
        }
        None => {
            for _ in 0..4 {
                out.extend_from_slice(&(-1i32).to_be_bytes());
            }
        }
    }
    float8(out, s.p_alive);
    float8(out, s.p_alive.map(|p| 1.0 - p));
    float8(out, s.expected_purchases);
    float8(out, s.clv);
    float8(out, Some(s.profit));
    float8(out, s.clv_percentile);
    float8(out, Some(s.profit_percentile));
    text(out, &s.tier);
    int8(out, r.balance);
    int8(out, r.earned_12m);
    float8(out, s.expected_spend);
    int8(out, now);
}
