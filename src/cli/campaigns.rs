//! `jalin send`, `jalin worker`, `jalin scheduler` and `jalin run`.

use super::Global;
use super::output::{count, open_store, outln, print_json, progress, table};
use anyhow::Context as _;
use clap::Args;
use jalin_engine::campaigns::{
    Audience, PlanOptions, PlanStats, campaign_funnel, init_trigger_cursor, unsettled,
};
use jalin_engine::clock::{SharedClock, SystemClock};
use jalin_engine::store::Store;
use jalin_templates::Links;
use jalin_workers::delivery::Delivery;
use jalin_workers::links::TrackingLinks;
use jalin_workers::project::Project;
use jalin_workers::queue::{Queue, worker_name};
use jalin_workers::scheduler::Planner;
use jalin_workers::settings::Settings;
use jalin_workers::wiring;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Everything the campaign commands open.
pub(crate) struct Runtime {
    pub(crate) project: Project,
    pub(crate) store: Store,
    pub(crate) queue: Queue,
    pub(crate) planner: Planner,
    pub(crate) delivery: Arc<Delivery>,
}

/// Loads the config with the real link signer, opens the database and the queue, and builds the
/// channels (health-checked) and the planner.
pub(crate) async fn open_runtime(
    g: &Global,
    outbox: Option<&Path>,
    clock: SharedClock,
) -> anyhow::Result<Runtime> {
    let settings = Settings::load(&g.config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let keys = wiring::tracking_keys(&settings).map_err(|e| anyhow::anyhow!(e))?;
    let links: Arc<dyn Links> = Arc::new(TrackingLinks(
        jalin_channels::tracking::TrackingUrls::new(&settings.tracking.base_url, keys.clone()),
    ));
    let (project, errors) = Project::load_with(&g.config, &links);
    if !errors.is_empty() {
        for e in &errors {
            eprintln!("{e}");
        }
        anyhow::bail!(
            "{} has {} problem(s); fix them (jalin validate lists them) and run again",
            g.config.display(),
            errors.len()
        );
    }
    if g.queue_url == g.database_url {
        anyhow::bail!(
            "the queue needs its own database: give --queue-url a different file than --database-url"
        );
    }
    let store = open_store(g).await?;
    let queue = Queue::connect_named(&g.queue_url, &g.queue_name).await?;
    let outbox_dir = outbox.map_or_else(
        || Path::new(&settings.outbox.dir).to_path_buf(),
        Path::to_path_buf,
    );
    let channels = wiring::channels(&settings, &outbox_dir)?;
    channels
        .health_check()
        .await
        .context("checking the channels")?;
    tracing::info!(channels = %channels.describe(), "channels ready");
    let offer_salt = keys
        .sign(jalin_channels::tracking::Purpose::Open, 0, None)
        .into_bytes();
    let options = PlanOptions {
        batch: settings.delivery.batch_size,
        frequency_cap: Some((settings.marketing.cap_messages, settings.marketing.cap_days)),
        offer_salt,
        lease_seconds: i64::try_from(settings.delivery.lease_seconds).unwrap_or(300),
        ..PlanOptions::default()
    };
    let planner = Planner {
        store: store.clone(),
        segments: project.segments.clone(),
        campaigns: project.campaigns.clone(),
        queue: queue.clone(),
        options,
        clock: clock.clone(),
    };
    let delivery = wiring::delivery(
        store.clone(),
        &settings,
        Arc::new(project.templates.clone()),
        project.campaigns.clone(),
        channels,
        keys,
        clock,
    )
    .await?;
    Ok(Runtime {
        project,
        store,
        queue,
        planner,
        delivery: Arc::new(delivery),
    })
}

/// Arguments of `jalin send`.
#[derive(Debug, Args)]
pub(crate) struct SendArgs {
    /// The campaign (its file name in config/campaigns without .toml).
    campaign: String,
    /// Show who would get what (audience, variants, holdout, sample messages) and send nothing.
    #[arg(long)]
    dry_run: bool,
    /// Also deliver the run in this process and wait until every message is settled (without
    /// it, running `jalin worker` or `jalin run` processes deliver it).
    #[arg(long)]
    deliver: bool,
    /// Workers' concurrency with --deliver (queue jobs at once).
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
}

/// `jalin send CAMPAIGN`.
pub(crate) async fn send(g: &Global, args: &SendArgs) -> anyhow::Result<ExitCode> {
    let rt = open_runtime(g, None, Arc::new(SystemClock)).await?;
    let Some(campaign) = rt.project.campaigns.get(&args.campaign) else {
        let known: Vec<&str> = rt
            .project
            .campaigns
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        anyhow::bail!(
            "unknown campaign {:?} (known: {})",
            args.campaign,
            known.join(", ")
        );
    };
    if campaign.segment.is_none() {
        anyhow::bail!(
            "{} is triggered by {} events; it runs for one customer at a time from `jalin scheduler`",
            campaign.name,
            match &campaign.schedule {
                jalin_engine::campaigns::Schedule::Trigger { event, .. } => event.as_str(),
                _ => "its",
            }
        );
    }
    let bar = progress(g, None, "planning");
    if args.dry_run {
        let stats = rt
            .planner
            .dry_run(campaign, &|n| bar.set_position(n))
            .await?;
        bar.finish_and_clear();
        report_plan(g, &campaign.name, None, &stats, true, &rt, None).await?;
        rt.store.close().await;
        return Ok(ExitCode::SUCCESS);
    }
    let key = format!("send:{}", chrono::Utc::now().timestamp_millis());
    let now = chrono::Utc::now();
    let fired = rt
        .planner
        .fire(campaign, &key, now, Audience::Segment, None, false, &|n| {
            bar.set_position(n);
        })
        .await?;
    bar.finish_and_clear();
    let stats = fired.stats.clone().unwrap_or_default();
    let delivered = if args.deliver {
        Some(
            deliver_run(
                g,
                &rt,
                &campaign.name,
                fired.run_id,
                stats.queued - stats.deferred,
                args.concurrency,
            )
            .await?,
        )
    } else {
        None
    };
    report_plan(
        g,
        &campaign.name,
        Some(fired.run_id),
        &stats,
        false,
        &rt,
        delivered,
    )
    .await?;
    rt.store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// Runs workers in this process until every due message of the run is settled; returns the
/// outbox counts by status.
pub(crate) async fn deliver_run(
    g: &Global,
    rt: &Runtime,
    campaign: &str,
    run_id: i64,
    due: u64,
    concurrency: usize,
) -> anyhow::Result<Vec<(String, i64)>> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(rt.queue.clone().work(
        worker_name("send"),
        concurrency,
        rt.delivery.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    let bar = progress(g, Some(due), "delivering");
    let mut last_sweep = std::time::Instant::now();
    let funnel = loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Done when nothing of the run is due and unsettled (a retry waiting for its time
        // is left to `jalin worker` / `jalin run`). Counted before the funnel is read, so the
        // funnel reported is never older than the decision.
        let now = rt.planner.clock.now().timestamp();
        let idle = unsettled(&rt.store, Some(run_id), now).await? == 0;
        let funnel = campaign_funnel(&rt.store, campaign, Some(run_id)).await?;
        let get = |s: &str| funnel.iter().find(|(k, _)| k == s).map_or(0, |(_, n)| *n);
        let settled = get("sent") + get("failed");
        bar.set_position(u64::try_from(settled).unwrap_or(0));
        if idle || settled as u64 >= due {
            break funnel;
        }
        if worker.is_finished() {
            anyhow::bail!("the delivery worker stopped before the run was delivered");
        }
        // Retries and rows whose job was lost go back to the queue.
        if last_sweep.elapsed() > Duration::from_secs(2) {
            rt.planner.sweep().await?;
            last_sweep = std::time::Instant::now();
        }
    };
    bar.finish_and_clear();
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), worker).await;
    Ok(funnel)
}

async fn report_plan(
    g: &Global,
    campaign: &str,
    run_id: Option<i64>,
    stats: &PlanStats,
    dry_run: bool,
    rt: &Runtime,
    delivered: Option<Vec<(String, i64)>>,
) -> anyhow::Result<()> {
    if g.json {
        print_json(&serde_json::json!({
            "campaign": campaign, "run_id": run_id, "dry_run": dry_run, "plan": stats,
            "outbox": delivered.map(|d| d.into_iter().collect::<std::collections::BTreeMap<_, _>>()),
        }));
        return Ok(());
    }
    let mut t = table(&["", "customers"]);
    for (label, n) in [
        ("in the segment", stats.audience),
        ("erased", stats.erased),
        ("paused: open complaint", stats.paused_complaint),
        ("no consented channel", stats.unreachable),
        ("over the frequency cap", stats.capped),
        ("held out (control group)", stats.held_out),
        (
            if dry_run { "would be sent" } else { "queued" },
            stats.queued,
        ),
        ("  of which after quiet hours", stats.deferred),
    ] {
        t.add_row(vec![label.to_owned(), count(n)]);
    }
    for (ch, n) in &stats.by_channel {
        t.add_row(vec![format!("  by {ch}"), count(*n)]);
    }
    for (v, n) in &stats.by_variant {
        t.add_row(vec![format!("  variant {v}"), count(*n)]);
    }
    match run_id {
        Some(id) => outln!("{campaign}: run {id}\n{t}"),
        None => outln!("{campaign} (dry run: nothing written or sent)\n{t}"),
    }
    if dry_run {
        sample_renders(rt, campaign, stats).await?;
    }
    if let Some(d) = delivered {
        let parts: Vec<String> = d
            .iter()
            .map(|(s, n)| format!("{s} {}", count(*n as u64)))
            .collect();
        outln!("Outbox: {}", parts.join(", "));
    }
    Ok(())
}

/// Renders the first planned messages of a dry run, so the marketer sees what goes out.
async fn sample_renders(rt: &Runtime, campaign: &str, stats: &PlanStats) -> anyhow::Result<()> {
    let Some(c) = rt.project.campaigns.get(campaign) else {
        return Ok(());
    };
    let ids: Vec<i64> = stats.sample.iter().map(|s| s.customer_id).collect();
    let now = chrono::Utc::now().timestamp();
    let facts = jalin_engine::campaigns::delivery_facts(&rt.store, &ids, now).await?;
    for (i, s) in stats.sample.iter().take(3).enumerate() {
        let Some(f) = facts.get(&s.customer_id) else {
            continue;
        };
        let row = jalin_engine::campaigns::Claimed {
            id: -(i as i64) - 1,
            run_id: 0,
            campaign: campaign.to_owned(),
            customer_id: s.customer_id,
            channel: s.channel.clone(),
            variant: s.variant.clone(),
            address: None,
            offer_code: s.offer_code.clone(),
            attempts: 0,
        };
        let ctx = rt.delivery.context(&row, f, None);
        let variant = (s.variant != "a").then_some(s.variant.as_str());
        let name = f
            .customer
            .get("name")
            .and_then(|n| n.as_str())
            .unwrap_or_default();
        let shown = match s.channel.as_str() {
            "email" => rt
                .delivery
                .templates
                .render_email(&c.template, &f.locale, variant, &ctx)
                .map(|e| {
                    format!(
                        "Subject: {}\n{}",
                        e.subject,
                        e.text.lines().take(12).collect::<Vec<_>>().join("\n")
                    )
                }),
            "sms" => rt
                .delivery
                .templates
                .render_sms(&c.template, &f.locale, variant, &ctx),
            _ => rt
                .delivery
                .templates
                .render_task(&c.template, &f.locale, variant, &ctx),
        };
        let shown = shown.unwrap_or_else(|e| format!("(would fail: {e})"));
        outln!(
            "\n── sample {} · {} · {} · variant {} ──\n{shown}",
            i + 1,
            name,
            s.channel,
            s.variant
        );
    }
    Ok(())
}

/// Arguments of `jalin worker`.
#[derive(Debug, Args)]
pub(crate) struct WorkerArgs {
    /// Queue jobs processed at the same time (each sends its messages in parallel too).
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
}

/// `jalin worker`: delivers queued messages until Ctrl-C.
pub(crate) async fn worker(g: &Global, args: &WorkerArgs) -> anyhow::Result<ExitCode> {
    let rt = open_runtime(g, None, Arc::new(SystemClock)).await?;
    if !g.json {
        eprintln!(
            "worker ready on {} (Ctrl-C stops after the jobs in hand)",
            jalin_engine::store::redact_url(&g.queue_url)
        );
    }
    rt.queue
        .clone()
        .work(
            worker_name("worker"),
            args.concurrency,
            rt.delivery.clone(),
            shutdown_signal(),
        )
        .await?;
    rt.store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// `jalin scheduler`: fires due runs and keeps the queue fed until Ctrl-C.
pub(crate) async fn scheduler(g: &Global) -> anyhow::Result<ExitCode> {
    let rt = open_runtime(g, None, Arc::new(SystemClock)).await?;
    run_scheduler(
        &rt,
        rt.project.settings.delivery.tick_seconds,
        shutdown_signal(),
    )
    .await?;
    rt.store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// The scheduler loop until `stop` completes.
pub(crate) async fn run_scheduler(
    rt: &Runtime,
    tick_seconds: f64,
    stop: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    init_trigger_cursor(&rt.store).await?;
    let mut ticker =
        tokio::time::interval(Duration::from_secs_f64(tick_seconds.clamp(0.05, 3600.0)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(stop);
    let mut last_vacuum = std::time::Instant::now();
    let nightly_busy = Arc::new(std::sync::atomic::AtomicBool::new(false));
    loop {
        nightly_metrics(rt, &nightly_busy);
        if last_vacuum.elapsed() > Duration::from_secs(600) {
            last_vacuum = std::time::Instant::now();
            match rt.queue.vacuum().await {
                Ok(n) => tracing::debug!(removed = n, "finished jobs removed from the queue"),
                Err(e) => tracing::warn!(error = %e, "cleaning the queue failed"),
            }
        }
        tokio::select! {
            () = &mut stop => return Ok(()),
            _ = ticker.tick() => {
                match rt.planner.tick().await {
                    Ok(fired) => for f in fired {
                        if let Some(s) = &f.stats {
                            tracing::info!(campaign = %f.campaign, run = f.run_id, key = %f.trigger_key, queued = s.queued, "fired");
                        }
                    },
                    Err(e) => tracing::error!(error = %e, "scheduler step failed; retrying next tick"),
                }
            }
        }
    }
}

/// Starts the nightly score recompute in the background when it is due and not running.
fn nightly_metrics(rt: &Runtime, busy: &Arc<std::sync::atomic::AtomicBool>) {
    use std::sync::atomic::Ordering;
    if busy.swap(true, Ordering::AcqRel) {
        return;
    }
    let (store, settings, busy) = (
        rt.store.clone(),
        rt.project.settings.analytics.clone(),
        busy.clone(),
    );
    let now = rt.planner.clock.now().timestamp();
    tokio::spawn(async move {
        match jalin_engine::analytics::nightly::run_if_due(&store, &settings, now).await {
            Ok(Some(r)) => tracing::info!(
                customers = r.customers,
                converged = r.bgnbd.converged,
                upgrades = r.tier_upgrades,
                downgrades = r.tier_downgrades,
                "nightly scores recomputed"
            ),
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "nightly recompute failed; retrying next tick"),
        }
        busy.store(false, Ordering::Release);
    });
}

/// Arguments of `jalin run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Queue jobs processed at the same time.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Where the HTTP server listens.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
}

/// Arguments of `jalin serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Where the HTTP server listens.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
}

/// Binds the HTTP server and returns its task.
async fn start_server(
    g: &Global,
    state: crate::server::AppState,
    listen: &str,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<tokio::task::JoinHandle<std::io::Result<()>>> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    if !g.json {
        eprintln!(
            "HTTP server on http://{}",
            listener
                .local_addr()
                .map_or_else(|_| listen.to_owned(), |a| a.to_string())
        );
    }
    Ok(tokio::spawn(crate::server::serve(listener, state, stop)))
}

/// Inbound webhook secrets: Standard Webhooks secrets from the environment, and Twilio's auth
/// token (named by `[sms.twilio]`) with the URL Twilio calls back.
fn hook_secrets(settings: &Settings) -> anyhow::Result<crate::server::HookSecrets> {
    let mut secrets = crate::server::HookSecrets::from_env().map_err(|e| anyhow::anyhow!(e))?;
    if let Some(t) = &settings.sms.twilio {
        let token = std::env::var(&t.auth_token_env).map_err(|_| {
            anyhow::anyhow!(
                "[sms.twilio] auth_token_env: {} is not set",
                t.auth_token_env
            )
        })?;
        let url = t.status_callback.clone().unwrap_or_else(|| {
            format!(
                "{}/hooks/sms/twilio",
                settings.tracking.base_url.trim_end_matches('/')
            )
        });
        secrets.twilio = Some(crate::server::TwilioHook { token, url });
    }
    Ok(secrets)
}

/// `jalin serve`.
pub(crate) async fn serve(g: &Global, args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(&g.config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let keys = wiring::tracking_keys(&settings).map_err(|e| anyhow::anyhow!(e))?;
    let (project, _) = Project::load(&g.config);
    let store = open_store(g).await?;
    let state = crate::server::AppState::new(
        store.clone(),
        keys,
        hook_secrets(&settings)?,
        &project.campaigns,
        Arc::new(SystemClock),
    );
    let server = start_server(g, state, &args.listen, shutdown_signal()).await?;
    server.await??;
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// `jalin run`: the scheduler and a worker in one process.
pub(crate) async fn run_all(g: &Global, args: &RunArgs) -> anyhow::Result<ExitCode> {
    let rt = open_runtime(g, None, Arc::new(SystemClock)).await?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut rx = stop_rx.clone();
    let worker = tokio::spawn(rt.queue.clone().work(
        worker_name("run"),
        args.concurrency,
        rt.delivery.clone(),
        async move {
            let _ = rx.wait_for(|s| *s).await;
        },
    ));
    let mut rx = stop_rx.clone();
    let state = crate::server::AppState::new(
        rt.store.clone(),
        rt.delivery.urls.keys().clone(),
        hook_secrets(&rt.project.settings)?,
        &rt.project.campaigns,
        Arc::new(SystemClock),
    );
    let server = start_server(g, state, &args.listen, async move {
        let _ = rx.wait_for(|s| *s).await;
    })
    .await?;
    if !g.json {
        eprintln!("scheduler, worker and HTTP server running (Ctrl-C stops)");
    }
    run_scheduler(
        &rt,
        rt.project.settings.delivery.tick_seconds,
        shutdown_signal(),
    )
    .await?;
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(30), worker).await;
    let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
    rt.store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// Ctrl-C or SIGTERM.
pub(crate) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
