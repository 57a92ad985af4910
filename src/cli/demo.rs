//! `jalin demo`: the main job end to end on the embedded default, on sample data.

use super::Global;
use super::output::{count, outln, print_json, progress};
use chrono::Utc;
use clap::Args;
use jalin_engine::customers::customer_view;
use jalin_engine::import::{ImportKind, ImportOptions, import_file};
use jalin_engine::sample::{FILES, SampleParams, generate};
use jalin_engine::store::Store;
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use super::demo_campaigns::{CampaignsReport, run_campaigns};

/// Arguments of `jalin demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// How many sample customers.
    #[arg(long, default_value_t = 10_000)]
    customers: u64,
    /// Folder for the demo's database, queue, sample files and outbox (emptied first).
    #[arg(long, default_value = "var/demo")]
    dir: PathBuf,
}

#[derive(Debug, Serialize)]
struct DemoReport {
    dir: PathBuf,
    database_url: String,
    imported: Vec<(String, u64)>,
    campaigns: CampaignsReport,
    analytics: DemoAnalytics,
    seconds: f64,
}

/// What the closing recompute found.
#[derive(Debug, Serialize)]
struct DemoAnalytics {
    scored: u64,
    bgnbd: jalin_engine::analytics::bgnbd::BgNbd,
    converged: bool,
    at_risk: i64,
    top20_profit_share: Option<f64>,
    report: PathBuf,
}

pub(crate) async fn run(g: &Global, args: &DemoArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    if args.dir.exists() {
        std::fs::remove_dir_all(&args.dir)?;
    }
    std::fs::create_dir_all(&args.dir)?;
    let database_url = format!("sqlite://{}", args.dir.join("jalin.db").display());
    let store = Store::connect(&database_url).await?;
    store.migrate().await?;

    let sample_dir = args.dir.join("sample");
    let params = SampleParams {
        customers: args.customers,
        ..SampleParams::default()
    };
    let bar = progress(g, Some(args.customers), "sample");
    let summary = generate(&sample_dir, &params, &|n| bar.set_position(n))?;
    bar.finish_and_clear();
    if !g.json {
        outln!(
            "1. Sample data of PT Kayu Jaya Nusantara: {} customers, {} orders",
            count(summary.customers),
            count(summary.orders)
        );
    }

    let mut imported = Vec::new();
    let now = Utc::now().timestamp();
    for (kind, file) in FILES {
        let kind: ImportKind = kind.parse()?;
        let bar = progress(g, None, kind.as_str());
        let report = import_file(
            &store,
            kind,
            &sample_dir.join(file),
            &ImportOptions::default(),
            now,
            &|n| bar.set_position(n),
        )
        .await?;
        bar.finish_and_clear();
        anyhow::ensure!(
            report.rejected == 0,
            "{file}: {} rows rejected",
            report.rejected
        );
        imported.push((kind.to_string(), report.accepted));
    }
    if !g.json {
        let parts: Vec<String> = imported
            .iter()
            .map(|(k, n)| format!("{} {k}", count(*n)))
            .collect();
        outln!("2. Imported into {database_url}: {}", parts.join(", "));
        let view = customer_view(&store, "C0000001", now).await?;
        outln!(
            "3. Customer C0000001: {} ({}, {}), {} orders worth {}",
            view.profile.name,
            view.profile.kind,
            view.profile.city.unwrap_or_default(),
            view.order_count,
            view.revenue
        );
    }
    store.close().await;
    let campaigns = run_campaigns(g, &args.dir, &database_url).await?;
    let analytics = score(g, &args.dir, &database_url).await?;
    let report = DemoReport {
        dir: args.dir.clone(),
        database_url,
        imported,
        campaigns,
        analytics,
        seconds: started.elapsed().as_secs_f64(),
    };
    if g.json {
        print_json(&report);
    } else {
        outln!("Done in {:.1} s.", report.seconds);
        outln!(
            "Look at: {0}/outbox/email/*.eml, {0}/outbox/sms.jsonl, {0}/outbox/webhooks.jsonl",
            args.dir.display()
        );
        outln!(
            "Explore: jalin --database-url {database} customer show C0000001 | segment preview lapsed-distributors | send win-back --dry-run",
            database = report.database_url
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Step 7: every customer scored from what happened, and the customer report as HTML.
async fn score(
    g: &Global,
    dir: &std::path::Path,
    database_url: &str,
) -> anyhow::Result<DemoAnalytics> {
    let settings =
        jalin_workers::settings::Settings::load(&g.config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let store = Store::connect(database_url).await?;
    let now = Utc::now().timestamp();
    let r = jalin_engine::analytics::recompute(&store, &settings.analytics, now).await?;
    let customers = jalin_engine::analytics::aggregates::customers_report(&store, now).await?;
    store.close().await;
    let file = dir.join("report.html");
    let page = super::report::html::customers(&settings.company.name, &customers);
    super::report::write_atomically(&file, &page)?;
    let p = r.bgnbd.params;
    if !g.json {
        outln!(
            "7. Scores for {} customers: BG/NBD r {:.2} α {:.2} a {:.2} b {:.2}; {} buyers likely lapsed (P(alive) < 50%); the top 20% bring {} of profit",
            count(r.customers),
            p.r,
            p.alpha,
            p.a,
            p.b,
            count(u64::try_from(customers.at_risk).unwrap_or(0)),
            customers
                .pareto
                .top20_share
                .map_or("-".into(), super::report::pct)
        );
        outln!("   Report with charts: {}", file.display());
    }
    Ok(DemoAnalytics {
        scored: r.customers,
        bgnbd: p,
        converged: r.bgnbd.converged,
        at_risk: customers.at_risk,
        top20_profit_share: customers.pareto.top20_share,
        report: file,
    })
}
