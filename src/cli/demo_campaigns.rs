//! The campaign half of `jalin demo`: every example campaign in `config/` through the real
//! planner, queue and workers, with live events (an order shipped, complaints opened and
//! resolved, a tier upgrade, first orders) starting the triggered ones.

use super::Global;
use super::campaigns::{Runtime, open_runtime};
use super::output::{count, outln, progress, table};
use chrono::{DateTime, Duration, TimeZone, Timelike, Utc};
use jalin_engine::campaigns::{Audience, init_trigger_cursor, outbox_summary, unsettled};
use jalin_engine::clock::{FixedClock, SharedClock};
use jalin_engine::sample::live_events;
use jalin_workers::queue::worker_name;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// What the campaigns did.
#[derive(Debug, Default, Serialize)]
pub(crate) struct CampaignsReport {
    /// The moment the demo's clock shows.
    pub(crate) clock: String,
    /// Live events recorded, by type.
    pub(crate) events: BTreeMap<String, u64>,
    /// Outbox rows per campaign and status.
    pub(crate) outbox: BTreeMap<String, BTreeMap<String, i64>>,
    /// Files in the outbox.
    pub(crate) emails: usize,
    /// SMS lines.
    pub(crate) sms: usize,
    /// Webhook lines.
    pub(crate) webhooks: usize,
    /// Events recorded by the sample responses through the HTTP server, by type.
    pub(crate) responses: BTreeMap<String, i64>,
}

fn jakarta() -> chrono::FixedOffset {
    // Western Indonesia Time has no daylight saving: UTC+7 all year.
    chrono::FixedOffset::east_opt(7 * 3600).unwrap_or_else(|| chrono::Offset::fix(&Utc))
}

/// 10:00 in Jakarta today (or tomorrow when that has passed): outside everyone's quiet hours,
/// so the demo shows messages going out rather than waiting for the morning.
fn demo_time(now: DateTime<Utc>) -> DateTime<Utc> {
    let jakarta = jakarta();
    let local = now.with_timezone(&jakarta);
    if (9..20).contains(&local.hour()) {
        return now;
    }
    let day = if local.hour() >= 20 {
        local.date_naive() + Duration::days(1)
    } else {
        local.date_naive()
    };
    day.and_hms_opt(10, 0, 0)
        .and_then(|t| jakarta.from_local_datetime(&t).earliest())
        .map_or(now, |t| t.with_timezone(&Utc))
}

/// Runs a worker in this process until no message is due and unsettled.
async fn deliver_all(g: &Global, rt: &Runtime, now: i64) -> anyhow::Result<()> {
    let total = unsettled(&rt.store, None, now).await?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(rt.queue.clone().work(
        worker_name("demo"),
        4,
        rt.delivery.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    let bar = progress(g, Some(u64::try_from(total).unwrap_or(0)), "delivering");
    let mut idle = 0;
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let left = unsettled(&rt.store, None, now).await?;
        bar.set_position(u64::try_from(total - left).unwrap_or(0));
        if left == 0 {
            break;
        }
        idle += 1;
        if idle % 20 == 0 {
            rt.planner.sweep().await?;
        }
        anyhow::ensure!(!worker.is_finished(), "the delivery worker stopped early");
    }
    bar.finish_and_clear();
    let _ = stop.send(());
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), worker).await;
    Ok(())
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
}

/// Plans every scheduled example campaign now, records live events, fires the triggered
/// campaigns, delivers through the queue and reports.
pub(crate) async fn run_campaigns(
    g: &Global,
    dir: &Path,
    database_url: &str,
) -> anyhow::Result<CampaignsReport> {
    let demo = Global {
        database_url: database_url.to_owned(),
        queue_url: format!("sqlite://{}", dir.join("queue.db").display()),
        ..g.clone()
    };
    let at = demo_time(Utc::now());
    let fixed = Arc::new(FixedClock::new(at));
    let clock: SharedClock = fixed.clone();
    let rt = open_runtime(&demo, Some(&dir.join("outbox")), clock.clone()).await?;
    init_trigger_cursor(&rt.store).await?;
    let mut report = CampaignsReport {
        clock: at.to_rfc3339(),
        ..CampaignsReport::default()
    };
    let scheduled: Vec<_> = rt
        .project
        .campaigns
        .iter()
        .filter(|c| c.segment.is_some())
        .collect();
    let bar = progress(g, None, "planning");
    for c in &scheduled {
        rt.planner
            .fire(c, "demo", at, Audience::Segment, None, false, &|n| {
                bar.set_position(n);
            })
            .await?;
    }
    bar.finish_and_clear();
    report.events = live_events(&rt.store, at.timestamp()).await?;
    let fired = rt.planner.tick().await?;
    if !g.json {
        let events: Vec<String> = report
            .events
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        outln!(
            "4. Campaigns at {}: {} scheduled runs planned; live events {} started {} triggered runs",
            at.with_timezone(&jakarta()).format("%Y-%m-%d %H:%M WIB"),
            scheduled.len(),
            events.join(", "),
            fired.len()
        );
    }
    deliver_all(g, &rt, at.timestamp()).await?;
    for (campaign, status, n) in outbox_summary(&rt.store).await? {
        let status = if status == "queued" {
            "waiting".to_owned()
        } else {
            status
        };
        report.outbox.entry(campaign).or_default().insert(status, n);
    }
    let outbox = dir.join("outbox");
    report.emails = std::fs::read_dir(outbox.join("email")).map_or(0, |d| d.count());
    report.sms = lines(&outbox.join("sms.jsonl"));
    report.webhooks = lines(&outbox.join("webhooks.jsonl"));
    if !g.json {
        let mut t = table(&["campaign", "sent", "held out", "failed", "waiting"]);
        for (campaign, by) in &report.outbox {
            let get = |k: &str| count(u64::try_from(by.get(k).copied().unwrap_or(0)).unwrap_or(0));
            t.add_row(vec![
                campaign.clone(),
                get("sent"),
                get("held_out"),
                get("failed"),
                get("waiting"),
            ]);
        }
        outln!("{t}");
        outln!(
            "5. Outbox: {} emails (.eml), {} SMS, {} webhook tasks; \"waiting\" rows go out after a trigger's delay or quiet hours",
            count(report.emails as u64),
            count(report.sms as u64),
            count(report.webhooks as u64)
        );
    }
    // Customers answer in the hours after the send.
    fixed.advance(Duration::hours(2));
    let responses =
        super::demo_responses::respond(&rt, rt.delivery.urls.keys().clone(), clock.clone()).await?;
    report.responses = responses
        .into_iter()
        .filter(|(k, _)| {
            k.starts_with("email.") || k.starts_with("conversion.") || k.starts_with("order.")
        })
        .filter(|(k, _)| k != "order.status_changed")
        .collect();
    if !g.json {
        let parts: Vec<String> = report
            .responses
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        outln!(
            "6. Responses through the real tracking server, a signed order webhook and a bounce: {}",
            parts.join(", ")
        );
    }
    rt.store.close().await;
    Ok(report)
}
