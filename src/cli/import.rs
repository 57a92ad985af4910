//! `jalin import KIND FILE.csv`.

use super::Global;
use super::output::{count, open_store, outln, print_json, progress};
use clap::Args;
use jalin_engine::import::{ImportKind, ImportOptions, import_file};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `jalin import`.
#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// What the file holds: customers, products, orders, order-lines, complaints, consent, events.
    kind: ImportKind,
    /// The CSV file (UTF-8, comma-separated, a header row).
    file: PathBuf,
    /// Also write the rejected rows, with their line number and reason, to this CSV file.
    #[arg(long)]
    reject_file: Option<PathBuf>,
    /// Rows written per batch (each batch is committed on its own).
    #[arg(long, default_value_t = 5000)]
    batch_size: usize,
}

pub(crate) async fn run(g: &Global, args: &ImportArgs) -> anyhow::Result<ExitCode> {
    let store = open_store(g).await?;
    let bar = progress(g, None, args.kind.as_str());
    let options = ImportOptions {
        batch_size: args.batch_size,
        reject_file: args.reject_file.clone(),
        ..ImportOptions::default()
    };
    let now = chrono::Utc::now().timestamp();
    let result = import_file(&store, args.kind, &args.file, &options, now, &|n| {
        bar.set_position(n);
    })
    .await;
    bar.finish_and_clear();
    store.close().await;
    let report = result?;
    if g.json {
        print_json(&report);
    } else {
        outln!(
            "{}: {} rows, {} accepted, {} rejected in {:.1} s ({} rows/s)",
            report.file,
            count(report.rows),
            count(report.accepted),
            count(report.rejected),
            report.seconds,
            count(report.rows_per_second as u64)
        );
        for r in report.rejections.iter().take(20) {
            eprintln!("{}:{}: {}", report.file, r.line, r.reason);
        }
        if report.rejected > 20 {
            eprintln!(
                "… and {} more{}",
                count(report.rejected - 20),
                match &args.reject_file {
                    Some(p) => format!(" (all of them are in {})", p.display()),
                    None => " (use --reject-file to save them all)".into(),
                }
            );
        }
    }
    Ok(if report.rejected > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
