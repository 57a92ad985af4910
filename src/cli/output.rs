//! What every command shares: opening the store, logging, progress bars and JSON output.

use super::Global;
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use jalin_engine::store::Store;
use serde::Serialize;
use std::time::Duration;

/// Sets up structured logs on stderr at the level asked for.
pub(crate) fn init_logging(g: &Global) {
    let filter = tracing_subscriber::EnvFilter::try_new(&g.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let result = if g.log_json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    // A second initialisation (tests running commands in-process) keeps the first.
    drop(result);
}

/// Opens the customer database and brings its tables up to date.
pub(crate) async fn open_store(g: &Global) -> anyhow::Result<Store> {
    let store = Store::connect(&g.database_url).await?;
    store.migrate().await.with_context(|| {
        format!(
            "migrating {}",
            jalin_engine::store::redact_url(&g.database_url)
        )
    })?;
    Ok(store)
}

/// Writes a line to stdout. A closed pipe (`jalin … | head`) ends the program quietly
/// instead of panicking the way `println!` would.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        if let Err(e) = writeln!(::std::io::stdout().lock(), $($arg)*) {
            $crate::cli::output::stdout_failed(&e);
        }
    }};
}
pub(crate) use outln;

/// Ends the program when stdout is gone; anything else is reported once on stderr.
pub(crate) fn stdout_failed(e: &std::io::Error) {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("error: cannot write to stdout: {e}");
    std::process::exit(1);
}

/// Prints a JSON document on stdout.
pub(crate) fn print_json<T: Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => outln!("{text}"),
        Err(e) => eprintln!("error: cannot encode the result as JSON: {e}"),
    }
}

/// Shortens an RFC 3339 time with offset to `2026-11-22 04:44` for tables (the offset is the
/// customer's zone, shown elsewhere).
pub(crate) fn short_time(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|_| rfc3339.to_owned())
}

/// Reports a finished action: a sentence for people, or a JSON document for scripts.
pub(crate) fn done<T: Serialize>(g: &Global, message: &str, json: &T) {
    if g.json {
        print_json(json);
    } else {
        outln!("{message}");
    }
}

/// A progress bar on stderr (hidden when stderr is not a terminal or with `--json`).
pub(crate) fn progress(g: &Global, total: Option<u64>, what: &str) -> ProgressBar {
    let bar = match total {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    if g.json {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let template = if total.is_some() {
        "{msg:>12} [{bar:30}] {human_pos}/{human_len} {per_sec} eta {eta}"
    } else {
        "{msg:>12} {spinner} {human_pos} {per_sec} {elapsed}"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// A table that reads well in an 80-column terminal.
pub(crate) fn table(header: &[&str]) -> comfy_table::Table {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY)
        .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
        .set_width(80)
        .set_header(header.iter().copied());
    t
}

/// Formats a count with thousands separators (1,234,567).
pub(crate) fn count(n: u64) -> String {
    jalin_engine::model::group_thousands(&n.to_string(), ',')
}
