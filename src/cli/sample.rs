//! `jalin generate-sample`.

use super::Global;
use super::output::{count, done, progress};
use chrono::{NaiveDate, NaiveTime};
use clap::Args;
use jalin_engine::sample::{SampleParams, generate};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `jalin generate-sample`.
#[derive(Debug, Args)]
pub(crate) struct GenerateArgs {
    /// How many customers (orders follow: about ten per customer).
    #[arg(long, default_value_t = 10_000)]
    customers: u64,
    /// Folder to write the CSV files into.
    #[arg(long, default_value = "var/sample")]
    out: PathBuf,
    /// Random seed: the same seed and --as-of give identical files.
    #[arg(long, default_value_t = 20_240_617)]
    seed: u64,
    /// Last day of the data (YYYY-MM-DD); default today.
    #[arg(long)]
    as_of: Option<NaiveDate>,
}

pub(crate) fn run(g: &Global, args: &GenerateArgs) -> anyhow::Result<ExitCode> {
    let mut params = SampleParams {
        customers: args.customers,
        seed: args.seed,
        ..SampleParams::default()
    };
    if let Some(day) = args.as_of {
        params.as_of = day.and_time(NaiveTime::MIN).and_utc();
    }
    let bar = progress(g, Some(args.customers), "customers");
    let summary = generate(&args.out, &params, &|n| bar.set_position(n))?;
    bar.finish_and_clear();
    done(
        g,
        &format!(
            "wrote {} customers, {} orders, {} order lines, {} complaints, {} consent rows, {} events to {}",
            count(summary.customers),
            count(summary.orders),
            count(summary.order_lines),
            count(summary.complaints),
            count(summary.consents),
            count(summary.events),
            args.out.display()
        ),
        &serde_json::json!({ "out": args.out, "summary": summary, "as_of": params.as_of }),
    );
    Ok(ExitCode::SUCCESS)
}
