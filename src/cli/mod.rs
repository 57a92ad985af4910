//! The command line. Each command parses its arguments, opens what it needs and calls into the
//! engine or workers; output is a terminal table or, with `--json`, one JSON document.

mod campaigns;
mod customer;
mod demo;
mod demo_campaigns;
mod demo_responses;
mod import;
mod metrics;
mod output;
mod report;
mod sample;
mod segments;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// jalin — campaigns and customer analytics for a manufacturer.
///
/// Segments, campaigns and templates live as files in the config folder. Check them with
/// `jalin validate`, see who they reach with `jalin plan`, send with `jalin send` or let
/// `jalin run` do it on schedule. `jalin demo` shows everything on sample data.
#[derive(Debug, Parser)]
#[command(
    name = "jalin",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Options every command takes.
#[derive(Debug, Args, Clone)]
pub struct Global {
    /// Folder holding segments/, campaigns/, templates/ and jalin.toml.
    #[arg(long, global = true, env = "JALIN_CONFIG", default_value = "config")]
    pub config: PathBuf,
    /// Customer database: sqlite://PATH (embedded) or postgres://USER@HOST/DB.
    #[arg(
        long,
        global = true,
        env = "JALIN_DATABASE_URL",
        default_value = "sqlite://var/jalin.db",
        hide_env_values = true
    )]
    pub database_url: String,
    /// Job queue: sqlite://PATH (embedded) or redis://HOST:PORT.
    #[arg(
        long,
        global = true,
        env = "JALIN_QUEUE_URL",
        default_value = "sqlite://var/queue.db",
        hide_env_values = true
    )]
    pub queue_url: String,
    /// The queue's name inside the queue storage (installations sharing one Redis differ here).
    #[arg(
        long,
        global = true,
        env = "JALIN_QUEUE_NAME",
        default_value = "jalin.deliver",
        hide = true
    )]
    pub queue_name: String,
    /// Print one JSON document on stdout instead of tables (for scripts).
    #[arg(long, global = true)]
    pub json: bool,
    /// Log level filter, e.g. `info` or `jalin=debug` (logs go to stderr).
    #[arg(long, global = true, env = "JALIN_LOG", default_value = "warn")]
    pub log: String,
    /// Write logs as JSON lines.
    #[arg(long, global = true)]
    pub log_json: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run everything end to end on sample data with the embedded database (start here).
    Demo(demo::DemoArgs),
    /// Create or update the database tables.
    Migrate,
    /// Write deterministic sample CSVs of a furniture and appliance manufacturer.
    GenerateSample(sample::GenerateArgs),
    /// Load a CSV export from the ERP (customers, products, orders, …).
    Import(import::ImportArgs),
    /// Look at or erase one customer.
    #[command(subcommand)]
    Customer(customer::CustomerCommand),
    /// Check every file in the config folder; errors name file:line:column and the field.
    Validate,
    /// Show who every segment reaches right now.
    Plan,
    /// Look inside a segment.
    #[command(subcommand)]
    Segment(segments::SegmentCommand),
    /// Run a campaign now: plan its audience into the outbox and queue the messages.
    Send(campaigns::SendArgs),
    /// Deliver queued messages (run as many as you like, on any machines sharing the queue).
    Worker(campaigns::WorkerArgs),
    /// Fire scheduled and triggered campaigns on time (exactly once, however many run).
    Scheduler,
    /// Scheduler, worker and the HTTP server (tracking, unsubscribe, webhooks) in one process.
    Run(campaigns::RunArgs),
    /// The HTTP server: tracking links, unsubscribe pages, inbound webhooks, health, metrics.
    Serve(campaigns::ServeArgs),
    /// Compute customer scores (RFM, churn risk, CLV, profit, loyalty tier) now.
    #[command(subcommand)]
    Metrics(metrics::MetricsCommand),
    /// What the customer base and the campaigns are worth: tables, --json or --html charts.
    #[command(subcommand)]
    Report(report::ReportCommand),
}

/// Parses the command line, runs the command and maps the outcome to an exit code:
/// 0 success, 1 a problem with the input or environment (explained on stderr), 2 usage.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    output::init_logging(&cli.global);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let g = &cli.global;
    match cli.command {
        Command::Migrate => {
            let store = output::open_store(g).await?;
            output::done(
                g,
                "database is up to date",
                &serde_json::json!({"migrated": true}),
            );
            store.close().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo(args) => demo::run(g, &args).await,
        Command::GenerateSample(args) => sample::run(g, &args),
        Command::Import(args) => import::run(g, &args).await,
        Command::Customer(cmd) => customer::run(g, cmd).await,
        Command::Validate => Ok(segments::validate(g)),
        Command::Plan => segments::plan(g).await,
        Command::Segment(cmd) => segments::run(g, cmd).await,
        Command::Send(args) => campaigns::send(g, &args).await,
        Command::Worker(args) => campaigns::worker(g, &args).await,
        Command::Scheduler => campaigns::scheduler(g).await,
        Command::Run(args) => campaigns::run_all(g, &args).await,
        Command::Serve(args) => campaigns::serve(g, &args).await,
        Command::Metrics(cmd) => metrics::run(g, cmd).await,
        Command::Report(cmd) => report::run(g, cmd).await,
    }
}
