//! `jalin report customers | campaign NAME | loyalty`: terminal tables (80 columns), `--json`,
//! or one self-contained HTML file with SVG charts (`--html FILE`).

pub(crate) mod html;

use super::Global;
use super::output::{count, open_store, outln, print_json, table};
use anyhow::Context;
use clap::{Args, Subcommand};
use jalin_engine::analytics::aggregates::{
    CampaignReport, CustomersReport, LoyaltyReport, campaign_report, customers_report,
    loyalty_report,
};
use jalin_workers::settings::Settings;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub(crate) enum ReportCommand {
    /// The customer base: model fits, RFM grid, churn risk, CLV, Pareto, cohort retention.
    Customers(ReportArgs),
    /// One campaign: funnel by variant, lift against the holdout, revenue and ROI.
    Campaign {
        /// The campaign's name (its file name in config/campaigns).
        name: String,
        #[command(flatten)]
        args: ReportArgs,
    },
    /// The loyalty programme: customers per tier, points earned, redeemed and expired.
    Loyalty(ReportArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// Also write the report as one HTML file with charts (opens in any browser, offline).
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

pub(crate) async fn run(g: &Global, cmd: ReportCommand) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(&g.config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let now = chrono::Utc::now().timestamp();
    let store = open_store(g).await?;
    let company = settings.company.name.clone();
    let result: anyhow::Result<(Option<PathBuf>, String)> = async {
        match &cmd {
            ReportCommand::Customers(a) => {
                let r = customers_report(&store, now).await?;
                show(g, &r, print_customers);
                Ok((a.html.clone(), html::customers(&company, &r)))
            }
            ReportCommand::Campaign { name, args } => {
                let (project, _) = jalin_workers::project::Project::load(&g.config);
                let goal = project
                    .campaigns
                    .get(name)
                    .map(|c| c.goal.within_days)
                    .with_context(|| {
                        format!("no campaign {name:?} in {}/campaigns", g.config.display())
                    })?;
                let r = campaign_report(&store, name, goal, &settings.analytics).await?;
                show(g, &r, print_campaign);
                Ok((args.html.clone(), html::campaign(&company, &r)))
            }
            ReportCommand::Loyalty(a) => {
                let r = loyalty_report(&store, &settings.analytics, now).await?;
                show(g, &r, print_loyalty);
                Ok((a.html.clone(), html::loyalty(&company, &r)))
            }
        }
    }
    .await;
    store.close().await;
    let (file, page) = result?;
    if let Some(file) = file {
        write_atomically(&file, &page)?;
        if !g.json {
            outln!("\nWrote {}", file.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn show<T: serde::Serialize>(g: &Global, r: &T, print: fn(&T)) {
    if g.json {
        print_json(r);
    } else {
        print(r);
    }
}

/// Writes next to the target and renames, so a reader never sees half a file.
pub(crate) fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("html.tmp");
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Rupiah, compact: Rp 12,345 / Rp 12.3 M / Rp 1.23 bn.
pub(crate) fn rp(x: f64) -> String {
    let a = x.abs();
    let sign = if x < 0.0 { "-" } else { "" };
    if a >= 1e9 {
        format!("{sign}Rp {:.2} bn", a / 1e9)
    } else if a >= 1e6 {
        format!("{sign}Rp {:.1} M", a / 1e6)
    } else {
        format!("{sign}Rp {}", count(a.round() as u64))
    }
}

pub(crate) fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn print_customers(r: &CustomersReport) {
    let when = r
        .computed_at
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map_or_else(
            || "never — run `jalin metrics recompute`".to_owned(),
            |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
        );
    outln!(
        "{} customers, {} have bought; scores computed {when}",
        count(u64::try_from(r.customers).unwrap_or(0)),
        count(u64::try_from(r.buyers).unwrap_or(0))
    );
    let mut t = table(&["model", "parameters", "customers", "log-lik.", "status"]);
    for f in &r.fits {
        let params: serde_json::Value = serde_json::from_str(&f.params_json).unwrap_or_default();
        let shown = params
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| format!("{k} {:.3}", v.as_f64().unwrap_or(f64::NAN)))
                    .collect::<Vec<_>>()
                    .join("  ")
            })
            .unwrap_or_default();
        t.add_row(vec![
            f.model.clone(),
            shown,
            count(u64::try_from(f.customers).unwrap_or(0)),
            f.log_likelihood.map_or("-".into(), |l| format!("{l:.1}")),
            if f.converged {
                "converged".into()
            } else {
                format!("failed: {}", f.problem.clone().unwrap_or_default())
            },
        ]);
    }
    outln!("\nModels\n{t}");
    outln!(
        "\nChurn risk: mean P(alive) {}, {} buyers below 50%.\nExpected CLV of all buyers: {}",
        r.mean_p_alive.map_or("-".into(), pct),
        count(u64::try_from(r.at_risk).unwrap_or(0)),
        rp(r.total_clv)
    );
    let mut t = table(&["recency \\ frequency", "F1", "F2", "F3", "F4", "F5"]);
    for ri in (0..5).rev() {
        let mut row = vec![format!("R{}", ri + 1)];
        row.extend(
            r.rfm_grid[ri]
                .iter()
                .map(|n| count(u64::try_from(*n).unwrap_or(0))),
        );
        t.add_row(row);
    }
    outln!("\nRFM grid (buyers; 5 = most recent / most frequent)\n{t}");
    let max = r
        .clv_histogram
        .iter()
        .map(|b| b.count)
        .max()
        .unwrap_or(0)
        .max(1);
    outln!("\nCLV distribution (buyers)");
    for b in &r.clv_histogram {
        let bar = "█".repeat(usize::try_from(b.count * 40 / max).unwrap_or(0));
        outln!("  {:>12} – {:<12} {bar} {}", rp(b.from), rp(b.to), b.count);
    }
    let p = &r.pareto;
    outln!(
        "\nPareto: total profit {}; the top 20% of customers bring {}",
        rp(p.total_profit),
        p.top20_share.map_or("- (no profit yet)".into(), pct)
    );
    let mut t = table(&["customer", "name", "profit", "CLV", "P(alive)", "tier"]);
    for c in &p.blue_chip {
        t.add_row(vec![
            c.external_ref.clone(),
            c.name.clone(),
            rp(c.profit),
            c.clv.map_or("-".into(), rp),
            c.p_alive.map_or("-".into(), pct),
            c.tier.clone().unwrap_or_default(),
        ]);
    }
    outln!("Blue-chip customers\n{t}");
    let mut header = vec!["cohort".to_owned(), "size".to_owned()];
    header.extend((1..=6).map(|k| format!("+{k}m")));
    let refs: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut t = table(&refs);
    for c in &r.cohorts {
        let mut row = vec![c.month.clone(), count(u64::try_from(c.size).unwrap_or(0))];
        row.extend((1..=6).map(|k| c.retention.get(k).map_or(String::new(), |v| pct(*v))));
        t.add_row(row);
    }
    outln!("\nRetention by acquisition month (share buying again k months later)\n{t}");
}

fn print_campaign(r: &CampaignReport) {
    outln!(
        "Campaign {} — {} run(s), conversion window {} days",
        r.campaign,
        r.runs,
        r.goal_days
    );
    let mut t = table(&[
        "variant", "planned", "sent", "deliv.", "opened", "clicked", "conv.", "revenue",
    ]);
    for f in r.variants.iter().chain(std::iter::once(&r.total)) {
        let n = |v: i64| count(u64::try_from(v).unwrap_or(0));
        t.add_row(vec![
            f.variant.clone(),
            n(f.planned),
            n(f.sent),
            n(f.delivered),
            n(f.opened),
            n(f.clicked),
            n(f.converted),
            rp(f.revenue),
        ]);
    }
    outln!("{t}");
    outln!(
        "Ordered within the window: sent {} of {}, held out {} of {}",
        r.treated.1,
        r.treated.0,
        r.holdout.1,
        r.holdout.0
    );
    match &r.lift {
        Some(l) => outln!(
            "Lift: {} vs {} ({:+.1} points{}), z = {:.2}, p = {:.4}{}",
            pct(l.treated_rate),
            pct(l.holdout_rate),
            l.uplift * 100.0,
            l.relative
                .map_or(String::new(), |x| format!(", {:+.0}%", x * 100.0)),
            l.z,
            l.p_value,
            if l.p_value < 0.05 {
                " — significant at 5%"
            } else {
                " — not significant at 5%"
            }
        ),
        None => outln!("Lift: no test (no holdout, or no variation to test)"),
    }
    outln!(
        "Cost {}, attributed revenue {}, ROI {}",
        rp(r.total.cost),
        rp(r.total.revenue),
        r.roi.map_or("-".into(), |x| format!("{:.1}×", x))
    );
}

fn print_loyalty(r: &LoyaltyReport) {
    let mut t = table(&["tier", "from points (12 m)", "customers"]);
    for tier in &r.tiers {
        t.add_row(vec![
            tier.name.clone(),
            count(u64::try_from(tier.points).unwrap_or(0)),
            count(u64::try_from(tier.customers).unwrap_or(0)),
        ]);
    }
    outln!("Loyalty tiers\n{t}");
    let n = |v: i64| count(u64::try_from(v).unwrap_or(0));
    outln!(
        "Points outstanding {}; last 12 months: earned {}, redeemed {}, expired {}",
        n(r.outstanding),
        n(r.earned_12m),
        n(r.redeemed_12m),
        n(r.expired_12m)
    );
    outln!(
        "Last 30 days: {} tier upgrades, {} downgrades",
        n(r.upgrades_30d),
        n(r.downgrades_30d)
    );
    let mut t = table(&["customer", "name", "tier", "points"]);
    for (id, name, tier, points) in &r.top {
        t.add_row(vec![
            id.clone(),
            name.clone(),
            tier.clone().unwrap_or_default(),
            n(*points),
        ]);
    }
    outln!("\nLargest balances\n{t}");
}
