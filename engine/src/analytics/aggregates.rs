//! What the reports show: model fits, the RFM grid, CLV distribution, Pareto, cohort retention,
//! loyalty tiers and, per campaign, the funnel by variant, lift against the holdout and ROI.
//! Every ratio with an empty denominator is None, never NaN.

use super::AnalyticsSettings;
use super::stats::{Lift, two_proportion};
use crate::error::{Error, Result};
use crate::store::Store;
use crate::with_pool;
use serde::Serialize;

/// A stored model fit.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct StoredFit {
    /// `bgnbd` or `gamma_gamma`.
    pub model: String,
    /// The parameters (JSON object).
    #[sqlx(rename = "params")]
    pub params_json: String,
    /// Log-likelihood of the last good fit.
    pub log_likelihood: Option<f64>,
    /// Customers in the last fit.
    pub customers: i64,
    /// Whether the last fit converged.
    pub converged: bool,
    /// Why not.
    pub problem: Option<String>,
    /// When (Unix seconds).
    pub computed_at: i64,
}

/// The customer-base report.
#[derive(Debug, Clone, Serialize)]
pub struct CustomersReport {
    /// Customers with scores.
    pub customers: i64,
    /// Of whom ever bought.
    pub buyers: i64,
    /// When the scores were computed (None: never).
    pub computed_at: Option<i64>,
    /// Model fits.
    pub fits: Vec<StoredFit>,
    /// Buyers per (recency, frequency) quintile, `grid[r-1][f-1]`.
    pub rfm_grid: [[i64; 5]; 5],
    /// Mean P(alive) of buyers.
    pub mean_p_alive: Option<f64>,
    /// Buyers with P(alive) below 0.5.
    pub at_risk: i64,
    /// Total CLV over the horizon (rupiah).
    pub total_clv: f64,
    /// CLV histogram of buyers.
    pub clv_histogram: Vec<Bucket>,
    /// Profit concentration.
    pub pareto: Pareto,
    /// Retention by monthly acquisition cohort.
    pub cohorts: Vec<Cohort>,
}

/// A histogram bar.
#[derive(Debug, Clone, Serialize)]
pub struct Bucket {
    /// Lower bound (inclusive).
    pub from: f64,
    /// Upper bound (exclusive; the last bar includes it).
    pub to: f64,
    /// Customers in it.
    pub count: i64,
}

/// Profit concentration.
#[derive(Debug, Clone, Serialize)]
pub struct Pareto {
    /// Total profit (rupiah).
    pub total_profit: f64,
    /// Share of total profit from the most profitable 20% (None when total profit ≤ 0).
    pub top20_share: Option<f64>,
    /// Cumulative share of profit against share of customers, most profitable first (0–1),
    /// at every 5% of customers.
    pub curve: Vec<(f64, f64)>,
    /// The most profitable customers.
    pub blue_chip: Vec<BlueChip>,
}

/// One of the most profitable customers.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct BlueChip {
    /// ERP reference.
    pub external_ref: String,
    /// Name.
    pub name: String,
    /// Kind of customer.
    pub kind: String,
    /// Profit (rupiah).
    pub profit: f64,
    /// CLV (rupiah).
    pub clv: Option<f64>,
    /// P(alive).
    pub p_alive: Option<f64>,
    /// Loyalty tier.
    pub tier: Option<String>,
}

/// A monthly acquisition cohort.
#[derive(Debug, Clone, Serialize)]
pub struct Cohort {
    /// `YYYY-MM` of the first purchase.
    pub month: String,
    /// Customers acquired that month.
    pub size: i64,
    /// Share of the cohort buying again in month k after acquisition (k = 0 is 1.0); months
    /// that have not happened yet are absent.
    pub retention: Vec<f64>,
}

/// Reads the customer-base report (from the stored scores; orders for cohorts).
pub async fn customers_report(store: &Store, now: i64) -> Result<CustomersReport> {
    let ctx = "building the customers report";
    let fits: Vec<StoredFit> = with_pool!(store, pool => sqlx::query_as(
        "SELECT model, params, log_likelihood, customers, converged, problem, computed_at FROM analytics_fits ORDER BY model")
        .fetch_all(pool).await).map_err(Error::db(ctx))?;
    type Head = (i64, i64, Option<i64>, Option<f64>, i64, Option<f64>);
    let head: Head = with_pool!(store, pool => sqlx::query_as(
        "SELECT CAST(COUNT(*) AS BIGINT), CAST(COUNT(rfm_cell) AS BIGINT), MAX(computed_at), AVG(p_alive),
                CAST(COALESCE(SUM(CASE WHEN p_alive < 0.5 THEN 1 ELSE 0 END), 0) AS BIGINT), SUM(clv)
         FROM customer_scores").fetch_one(pool).await).map_err(Error::db(ctx))?;
    let grid_rows: Vec<(i16, i16, i64)> = with_pool!(store, pool => sqlx::query_as(
        "SELECT rfm_recency, rfm_frequency, CAST(COUNT(*) AS BIGINT) FROM customer_scores
         WHERE rfm_recency IS NOT NULL GROUP BY rfm_recency, rfm_frequency").fetch_all(pool).await)
    .map_err(Error::db(ctx))?;
    let mut rfm_grid = [[0i64; 5]; 5];
    for (r, f, n) in grid_rows {
        if (1..=5).contains(&r) && (1..=5).contains(&f) {
            rfm_grid[(r - 1) as usize][(f - 1) as usize] = n;
        }
    }
    let clvs: Vec<f64> = with_pool!(store, pool => sqlx::query_scalar(
        "SELECT clv FROM customer_scores WHERE clv IS NOT NULL AND rfm_cell IS NOT NULL")
        .fetch_all(pool).await)
    .map_err(Error::db(ctx))?;
    let profits: Vec<f64> = with_pool!(store, pool => sqlx::query_scalar(
        "SELECT profit FROM customer_scores WHERE profit IS NOT NULL ORDER BY profit DESC")
        .fetch_all(pool).await)
    .map_err(Error::db(ctx))?;
    let blue_chip: Vec<BlueChip> = with_pool!(store, pool => sqlx::query_as(
        "SELECT c.external_ref, c.name, c.kind, s.profit, s.clv, s.p_alive, s.tier
         FROM customer_scores s JOIN customers c ON c.id = s.customer_id
         ORDER BY s.profit DESC, c.id LIMIT 10").fetch_all(pool).await)
    .map_err(Error::db(ctx))?;
    Ok(CustomersReport {
        customers: head.0,
        buyers: head.1,
        computed_at: head.2,
        fits,
        rfm_grid,
        mean_p_alive: head.3.filter(|v| v.is_finite()),
        at_risk: head.4,
        total_clv: head.5.filter(|v| v.is_finite()).unwrap_or(0.0),
        clv_histogram: histogram(&clvs, 10),
        pareto: pareto(&profits, blue_chip),
        cohorts: cohorts(store, now, 12).await?,
    })
}

/// `bars` equal-width bars from 0 (or the minimum when negative) to the 99th percentile, the
/// last bar also holding everything above it.
pub fn histogram(values: &[f64], bars: usize) -> Vec<Bucket> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() || bars == 0 {
        return Vec::new();
    }
    v.sort_unstable_by(f64::total_cmp);
    let lo = v[0].min(0.0);
    let hi = v[((v.len() - 1) as f64 * 0.99) as usize].max(lo + 1.0);
    let width = (hi - lo) / bars as f64;
    let mut out: Vec<Bucket> = (0..bars)
        .map(|i| Bucket {
            from: lo + width * i as f64,
            to: lo + width * (i + 1) as f64,
            count: 0,
        })
        .collect();
    for x in v {
        let i = (((x - lo) / width) as usize).min(bars - 1);
        out[i].count += 1;
    }
    out
}

/// Profit concentration of `profits` sorted most profitable first.
pub fn pareto(profits: &[f64], blue_chip: Vec<BlueChip>) -> Pareto {
    let n = profits.len();
    let total: f64 = profits.iter().sum();
    let positive = total > 0.0 && total.is_finite();
    let share_of_top = |k: usize| profits[..k].iter().sum::<f64>() / total;
    let top = (n as f64 * 0.2).ceil() as usize;
    let curve = if positive {
        (0..=20)
            .map(|i| {
                let k = (n * i).div_ceil(20);
                (i as f64 / 20.0, share_of_top(k))
            })
            .collect()
    } else {
        Vec::new()
    };
    Pareto {
        total_profit: if total.is_finite() { total } else { 0.0 },
        top20_share: (positive && n > 0).then(|| share_of_top(top)),
        curve,
        blue_chip,
    }
}

fn month_expr(store: &Store, col: &str) -> String {
    match store {
        Store::Sqlite(_) => format!(
            "(CAST(strftime('%Y', {col}, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', {col}, 'unixepoch') AS INTEGER) - 1)"
        ),
        Store::Postgres(_) => format!(
            "(CAST(EXTRACT(YEAR FROM to_timestamp({col}) AT TIME ZONE 'UTC') AS BIGINT) * 12 + CAST(EXTRACT(MONTH FROM to_timestamp({col}) AT TIME ZONE 'UTC') AS BIGINT) - 1)"
        ),
    }
}

/// Retention of the last `months` monthly cohorts (by the month of the first purchase).
pub async fn cohorts(store: &Store, now: i64, months: i64) -> Result<Vec<Cohort>> {
    let (first, placed) = (
        month_expr(store, "f.first_at"),
        month_expr(store, "o.placed_at"),
    );
    let now_month = {
        use chrono::Datelike;
        let t = chrono::DateTime::from_timestamp(now, 0).unwrap_or_default();
        i64::from(t.year()) * 12 + i64::from(t.month0())
    };
    // Column expressions come from the code above; the values are bound.
    let sql = format!(
        "SELECT {first} AS cohort, {placed} - {first} AS k, CAST(COUNT(DISTINCT o.customer_id) AS BIGINT)
         FROM orders o
         JOIN (SELECT customer_id, MIN(placed_at) AS first_at FROM orders
               WHERE status NOT IN ('quoted', 'cancelled') AND placed_at <= $1 GROUP BY customer_id) f
           ON f.customer_id = o.customer_id
         WHERE o.status NOT IN ('quoted', 'cancelled') AND o.placed_at <= $1 AND f.first_at >= $2
         GROUP BY 1, 2 ORDER BY 1, 2"
    );
    let from_month = now_month - months + 1;
    let from = chrono::NaiveDate::from_ymd_opt(
        i32::try_from(from_month.div_euclid(12)).unwrap_or(1970),
        u32::try_from(from_month.rem_euclid(12) + 1).unwrap_or(1),
        1,
    )
    .and_then(|d| d.and_hms_opt(0, 0, 0))
    .map_or(0, |d| d.and_utc().timestamp());
    let rows: Vec<(i64, i64, i64)> =
        with_pool!(store, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(now).bind(from).fetch_all(pool).await)
        .map_err(Error::db("computing cohort retention"))?;
    let mut out: Vec<Cohort> = Vec::new();
    for (cohort, k, n) in rows {
        if out
            .last()
            .is_none_or(|c: &Cohort| c.month != month_name(cohort))
        {
            let span = usize::try_from(now_month - cohort + 1).unwrap_or(1);
            out.push(Cohort {
                month: month_name(cohort),
                size: 0,
                retention: vec![0.0; span],
            });
        }
        let Some(c) = out.last_mut() else { continue };
        if k == 0 {
            c.size = n;
        }
        if let Some(slot) = usize::try_from(k).ok().and_then(|k| c.retention.get_mut(k)) {
            *slot = n as f64;
        }
    }
    for c in &mut out {
        let size = c.size.max(1) as f64;
        for v in &mut c.retention {
            *v /= size;
        }
    }
    Ok(out)
}

fn month_name(m: i64) -> String {
    format!("{:04}-{:02}", m.div_euclid(12), m.rem_euclid(12) + 1)
}

/// One variant's funnel (customers, not messages; revenue in rupiah).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Funnel {
    /// The variant (`all` for the total).
    pub variant: String,
    /// Customers planned (holdout excluded).
    pub planned: i64,
    /// Sent to.
    pub sent: i64,
    /// Sent and not bounced or failed on delivery.
    pub delivered: i64,
    /// Opened an email.
    pub opened: i64,
    /// Clicked a link.
    pub clicked: i64,
    /// Orders attributed to the campaign.
    pub converted: i64,
    /// Their revenue.
    pub revenue: f64,
    /// Messages sent by channel cost (rupiah).
    pub cost: f64,
}

/// The campaign report.
#[derive(Debug, Clone, Serialize)]
pub struct CampaignReport {
    /// The campaign.
    pub campaign: String,
    /// Its runs.
    pub runs: i64,
    /// The conversion window used for lift (days).
    pub goal_days: u32,
    /// The funnel per variant.
    pub variants: Vec<Funnel>,
    /// All variants together.
    pub total: Funnel,
    /// Customers held out, and of them who ordered inside the window.
    pub holdout: (i64, i64),
    /// Customers sent to, and of them who ordered inside the window.
    pub treated: (i64, i64),
    /// Treated against holdout (None without a holdout or without variance).
    pub lift: Option<Lift>,
    /// (Revenue − cost) / cost (None when nothing cost anything).
    pub roi: Option<f64>,
}

/// Reads one campaign's report.
pub async fn campaign_report(
    store: &Store,
    campaign: &str,
    goal_days: u32,
    settings: &AnalyticsSettings,
) -> Result<CampaignReport> {
    let ctx = "building the campaign report";
    let runs: i64 = with_pool!(store, pool => sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM campaign_runs WHERE campaign = $1")
        .bind(campaign).fetch_one(pool).await)
    .map_err(Error::db(ctx))?;
    type Base = (String, i64, i64, i64, i64, i64);
    let base: Vec<Base> = with_pool!(store, pool => sqlx::query_as(
        "SELECT variant,
                CAST(COUNT(DISTINCT customer_id) AS BIGINT),
                CAST(COUNT(DISTINCT CASE WHEN status = 'sent' THEN customer_id END) AS BIGINT),
                CAST(COALESCE(SUM(CASE WHEN status = 'sent' AND channel = 'email' THEN 1 ELSE 0 END), 0) AS BIGINT),
                CAST(COALESCE(SUM(CASE WHEN status = 'sent' AND channel = 'sms' THEN 1 ELSE 0 END), 0) AS BIGINT),
                CAST(COALESCE(SUM(CASE WHEN status = 'sent' AND channel = 'webhook' THEN 1 ELSE 0 END), 0) AS BIGINT)
         FROM outbox WHERE campaign = $1 AND status <> 'held_out' GROUP BY variant ORDER BY variant")
        .bind(campaign).fetch_all(pool).await).map_err(Error::db(ctx))?;
    let responses: Vec<(String, String, i64)> = with_pool!(store, pool => sqlx::query_as(
        "SELECT o.variant, e.event_type, CAST(COUNT(DISTINCT o.customer_id) AS BIGINT)
         FROM events e JOIN outbox o ON o.id = e.message_id
         WHERE o.campaign = $1 AND e.event_type IN
           ('email.opened', 'email.clicked', 'sms.clicked', 'email.bounced', 'sms.failed', 'message.failed')
         GROUP BY o.variant, e.event_type")
        .bind(campaign).fetch_all(pool).await).map_err(Error::db(ctx))?;
    let conversions: Vec<(Option<String>, String)> = with_pool!(store, pool => sqlx::query_as(
        "SELECT o.variant, CAST(e.payload AS TEXT) FROM events e LEFT JOIN outbox o ON o.id = e.message_id
         WHERE e.event_type = 'conversion.attributed' AND e.campaign = $1")
        .bind(campaign).fetch_all(pool).await).map_err(Error::db(ctx))?;
    let mut variants: Vec<Funnel> = base
        .iter()
        .map(|(v, planned, sent, email, sms, webhook)| Funnel {
            variant: v.clone(),
            planned: *planned,
            sent: *sent,
            delivered: *sent,
            cost: *email as f64 * settings.unit_cost.email
                + *sms as f64 * settings.unit_cost.sms
                + *webhook as f64 * settings.unit_cost.webhook,
            ..Funnel::default()
        })
        .collect();
    let find = |vs: &mut Vec<Funnel>, v: &str| -> usize {
        if let Some(i) = vs.iter().position(|f| f.variant == v) {
            return i;
        }
        vs.push(Funnel {
            variant: v.to_owned(),
            ..Funnel::default()
        });
        vs.len() - 1
    };
    for (variant, kind, n) in responses {
        let i = find(&mut variants, &variant);
        let f = &mut variants[i];
        match kind.as_str() {
            "email.opened" => f.opened += n,
            "email.clicked" | "sms.clicked" => f.clicked += n,
            _ => f.delivered = (f.delivered - n).max(0),
        }
    }
    for (variant, payload) in conversions {
        let p: serde_json::Value = serde_json::from_str(&payload).unwrap_or_default();
        let variant = variant
            .or_else(|| p["variant"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "a".into());
        let i = find(&mut variants, &variant);
        variants[i].converted += 1;
        variants[i].revenue += p["revenue"].as_f64().unwrap_or(0.0) / 100.0;
    }
    let mut total = Funnel {
        variant: "all".into(),
        ..Funnel::default()
    };
    for f in &variants {
        total.planned += f.planned;
        total.sent += f.sent;
        total.delivered += f.delivered;
        total.opened += f.opened;
        total.clicked += f.clicked;
        total.converted += f.converted;
        total.revenue += f.revenue;
        total.cost += f.cost;
    }
    // Lift: anyone who ordered inside the window after the run, treated or held out.
    let groups: Vec<(String, i64, i64)> = with_pool!(store, pool => sqlx::query_as(
        "SELECT g, CAST(COUNT(DISTINCT customer_id) AS BIGINT),
                CAST(COUNT(DISTINCT CASE WHEN converted = 1 THEN customer_id END) AS BIGINT)
         FROM (SELECT CASE WHEN o.status = 'held_out' THEN 'holdout' ELSE 'treated' END AS g, o.customer_id,
                      CASE WHEN EXISTS (SELECT 1 FROM orders x WHERE x.customer_id = o.customer_id
                                          AND x.status NOT IN ('quoted', 'cancelled')
                                          AND x.placed_at >= r.scheduled_for AND x.placed_at <= r.scheduled_for + $2)
                           THEN 1 ELSE 0 END AS converted
               FROM outbox o JOIN campaign_runs r ON r.id = o.run_id
               WHERE o.campaign = $1 AND o.status IN ('sent', 'held_out')) t
         GROUP BY g")
        .bind(campaign).bind(i64::from(goal_days) * 86_400).fetch_all(pool).await).map_err(Error::db(ctx))?;
    let pick = |name: &str| {
        groups
            .iter()
            .find(|g| g.0 == name)
            .map_or((0, 0), |g| (g.1, g.2))
    };
    let (treated, holdout) = (pick("treated"), pick("holdout"));
    let lift = two_proportion(
        u64::try_from(treated.1).unwrap_or(0),
        u64::try_from(treated.0).unwrap_or(0),
        u64::try_from(holdout.1).unwrap_or(0),
        u64::try_from(holdout.0).unwrap_or(0),
    );
    let roi = (total.cost > 0.0).then(|| (total.revenue - total.cost) / total.cost);
    Ok(CampaignReport {
        campaign: campaign.to_owned(),
        runs,
        goal_days,
        variants,
        total,
        holdout,
        treated,
        lift,
        roi,
    })
}

/// The loyalty programme report.
#[derive(Debug, Clone, Serialize)]
pub struct LoyaltyReport {
    /// Customers per tier, in the configured order.
    pub tiers: Vec<TierCount>,
    /// Points outstanding (sum of balances).
    pub outstanding: i64,
    /// Points earned, redeemed and expired in the last 12 months.
    pub earned_12m: i64,
    /// Redeemed in the last 12 months (positive).
    pub redeemed_12m: i64,
    /// Expired in the last 12 months (positive).
    pub expired_12m: i64,
    /// Tier changes in the last 30 days.
    pub upgrades_30d: i64,
    /// Tier changes in the last 30 days.
    pub downgrades_30d: i64,
    /// Largest balances.
    pub top: Vec<(String, String, Option<String>, i64)>,
}

/// A tier's head count.
#[derive(Debug, Clone, Serialize)]
pub struct TierCount {
    /// The tier.
    pub name: String,
    /// Points in 12 months needed.
    pub points: i64,
    /// Customers in it.
    pub customers: i64,
}

/// Reads the loyalty report.
pub async fn loyalty_report(
    store: &Store,
    settings: &AnalyticsSettings,
    now: i64,
) -> Result<LoyaltyReport> {
    let ctx = "building the loyalty report";
    let counts: Vec<(Option<String>, i64)> = with_pool!(store, pool => sqlx::query_as(
        "SELECT tier, CAST(COUNT(*) AS BIGINT) FROM customer_scores GROUP BY tier")
        .fetch_all(pool).await)
    .map_err(Error::db(ctx))?;
    let tiers = settings
        .loyalty
        .tiers
        .iter()
        .map(|t| TierCount {
            name: t.name.clone(),
            points: t.points,
            customers: counts
                .iter()
                .find(|c| c.0.as_deref() == Some(&t.name))
                .map_or(0, |c| c.1),
        })
        .collect();
    let year = now - 365 * 86_400;
    let sums: (i64, i64, i64, i64) = with_pool!(store, pool => sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(points), 0) AS BIGINT),
                CAST(COALESCE(SUM(CASE WHEN points > 0 AND occurred_at > $1 THEN points ELSE 0 END), 0) AS BIGINT),
                CAST(COALESCE(SUM(CASE WHEN entry_kind = 'redeem' AND occurred_at > $1 THEN -points ELSE 0 END), 0) AS BIGINT),
                CAST(COALESCE(SUM(CASE WHEN entry_kind = 'expire' AND occurred_at > $1 THEN -points ELSE 0 END), 0) AS BIGINT)
         FROM loyalty_ledger").bind(year).fetch_one(pool).await).map_err(Error::db(ctx))?;
    let changes: Vec<(String, i64)> = with_pool!(store, pool => sqlx::query_as(
        "SELECT event_type, CAST(COUNT(*) AS BIGINT) FROM events
         WHERE event_type IN ('tier.upgraded', 'tier.downgraded') AND occurred_at > $1 GROUP BY event_type")
        .bind(now - 30 * 86_400).fetch_all(pool).await).map_err(Error::db(ctx))?;
    let count = |k: &str| changes.iter().find(|c| c.0 == k).map_or(0, |c| c.1);
    let top: Vec<(String, String, Option<String>, i64)> = with_pool!(store, pool => sqlx::query_as(
        "SELECT c.external_ref, c.name, s.tier, s.points FROM customer_scores s JOIN customers c ON c.id = s.customer_id
         WHERE s.points > 0 ORDER BY s.points DESC, c.id LIMIT 10").fetch_all(pool).await).map_err(Error::db(ctx))?;
    Ok(LoyaltyReport {
        tiers,
        outstanding: sums.0,
        earned_12m: sums.1,
        redeemed_12m: sums.2,
        expired_12m: sums.3,
        upgrades_30d: count("tier.upgraded"),
        downgrades_30d: count("tier.downgraded"),
        top,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pareto_share_of_the_top_fifth() {
        // Ten customers, profit 100 in all; the top two bring 50 + 30 = 80%.
        let p = pareto(
            &[50.0, 30.0, 10.0, 5.0, 3.0, 2.0, 0.0, 0.0, 0.0, 0.0],
            Vec::new(),
        );
        assert_eq!(p.top20_share, Some(0.8));
        assert_eq!(p.curve.first(), Some(&(0.0, 0.0)));
        assert_eq!(p.curve.last(), Some(&(1.0, 1.0)));
        assert!(p.curve.windows(2).all(|w| w[1].1 >= w[0].1));
        // No profit at all: no share, no curve, no NaN.
        let none = pareto(&[0.0, 0.0], Vec::new());
        assert_eq!((none.top20_share, none.curve.len()), (None, 0));
        assert_eq!(pareto(&[], Vec::new()).top20_share, None);
    }

    #[test]
    fn histogram_counts_everything_once() {
        let values: Vec<f64> = (0..1000).map(f64::from).chain([1e9, f64::NAN]).collect();
        let h = histogram(&values, 10);
        assert_eq!(h.len(), 10);
        assert_eq!(
            h.iter().map(|b| b.count).sum::<i64>(),
            1001,
            "NaN left out, outlier in the last bar"
        );
        assert!(histogram(&[], 10).is_empty());
    }
}
