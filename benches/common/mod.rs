//! What the benchmarks share. (Each benchmark uses some of it.)
#![allow(dead_code)]

use jalin_engine::import::{ImportKind, ImportOptions, import_file};
use jalin_engine::sample::{SampleParams, generate};
use jalin_engine::store::Store;
use std::path::Path;
use std::time::Instant;

/// Peak resident memory of this process so far, in MB (VmHWM; 0 where /proc is missing).
pub(crate) fn peak_rss_mb() -> f64 {
    peak_rss_mb_of("self")
}

/// Peak resident memory of process `pid` (or `self`) so far, in MB.
pub(crate) fn peak_rss_mb_of(pid: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|k| k.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Imports `KIND.csv` from `dir` for each kind, in order, printing how long each took.
pub(crate) async fn import_all(store: &Store, dir: &Path, kinds: &[ImportKind], now: i64) {
    for &kind in kinds {
        let file = dir.join(format!("{kind}.csv"));
        eprintln!("importing {}", file.display());
        let started = Instant::now();
        import_file(store, kind, &file, &ImportOptions::default(), now, &|_| {})
            .await
            .expect("import");
        eprintln!("  {:.0} s", started.elapsed().as_secs_f64());
    }
}

/// Generates the sample into `dir` unless a finished one is there (`parameters.json` is
/// written last).
pub(crate) fn ensure_sample(dir: &Path, params: &SampleParams) {
    if !dir.join("parameters.json").exists() {
        eprintln!(
            "generating {} sample customers into {}",
            params.customers,
            dir.display()
        );
        generate(dir, params, &|_| {}).expect("generate");
    }
}
