//! `jalin customer show|erase`.

use super::Global;
use super::output::{open_store, outln, print_json, short_time, table};
use clap::Subcommand;
use jalin_engine::customers::{CustomerView, customer_view};
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub(crate) enum CustomerCommand {
    /// Everything about one customer: profile, consent, orders, complaints, points, events.
    Show {
        /// The ERP's customer reference (e.g. C0000042), or #ID for the internal id.
        id: String,
    },
    /// Spend loyalty points (refused when the balance is smaller).
    Redeem {
        /// The ERP's customer reference (e.g. C0000042), or #ID.
        id: String,
        /// Points to spend.
        points: i64,
        /// What for (shown in the ledger).
        #[arg(long, default_value = "redeemed")]
        reason: String,
        /// A unique key for this redemption: repeating the command with it does nothing.
        #[arg(long)]
        key: Option<String>,
    },
}

pub(crate) async fn run(g: &Global, cmd: CustomerCommand) -> anyhow::Result<ExitCode> {
    let store = open_store(g).await?;
    let result = match cmd {
        CustomerCommand::Show { id } => {
            let now = chrono::Utc::now().timestamp();
            customer_view(&store, &id, now).await.map(|view| {
                if g.json {
                    print_json(&view);
                } else {
                    print_view(&view);
                }
            })
        }
        CustomerCommand::Redeem {
            id,
            points,
            reason,
            key,
        } => redeem(g, &store, &id, points, &reason, key).await,
    };
    store.close().await;
    result?;
    Ok(ExitCode::SUCCESS)
}

fn print_view(v: &CustomerView) {
    let p = &v.profile;
    outln!("{} — {} ({})", p.external_ref, p.name, p.kind);
    let dash = "-".to_owned();
    outln!(
        "  email {}  phone {}  locale {}  zone {}",
        p.email.as_ref().unwrap_or(&dash),
        p.phone.as_ref().unwrap_or(&dash),
        p.locale,
        p.time_zone
    );
    outln!(
        "  {}, {}  customer since {}  (times below in {})",
        p.city.as_ref().unwrap_or(&dash),
        p.region.as_ref().unwrap_or(&dash),
        short_time(&p.created_at),
        p.time_zone
    );
    if let Some(at) = &p.erased_at {
        outln!("  erased at {at}");
    }
    outln!(
        "  {} orders, revenue {}   points {} (earned in 12 months {}){}",
        v.order_count,
        v.revenue,
        v.loyalty.balance,
        v.loyalty.earned_12_months,
        v.loyalty
            .tier
            .as_ref()
            .map(|t| format!("  tier {t}"))
            .unwrap_or_default()
    );
    let mut t = table(&["channel", "consent", "source", "since", "suppressed"]);
    for c in &v.consent {
        t.add_row(vec![
            c.channel.clone(),
            if c.opted_in { "opted in" } else { "opted out" }.to_owned(),
            c.source.clone(),
            short_time(&c.changed_at),
            c.suppressed.clone().unwrap_or_default(),
        ]);
    }
    outln!("\nConsent\n{t}");
    let mut t = table(&["order", "status", "placed", "value", "discount"]);
    for o in &v.orders {
        t.add_row(vec![
            o.external_ref.clone(),
            o.status.clone(),
            short_time(&o.placed_at),
            o.value.to_string(),
            o.discount.to_string(),
        ]);
    }
    outln!("\nLatest orders\n{t}");
    if !v.complaints.is_empty() {
        let mut t = table(&["complaint", "category", "severity", "opened", "resolved"]);
        for c in &v.complaints {
            t.add_row(vec![
                c.external_ref.clone(),
                c.category.clone(),
                c.severity.clone(),
                short_time(&c.opened_at),
                c.resolved_at
                    .as_deref()
                    .map_or_else(|| "open".into(), short_time),
            ]);
        }
        outln!("\nComplaints\n{t}");
    }
    if !v.events.is_empty() {
        let mut t = table(&["event", "when", "campaign", "link"]);
        for e in &v.events {
            t.add_row(vec![
                e.event_type.clone(),
                short_time(&e.occurred_at),
                e.campaign.clone().unwrap_or_default(),
                e.link.clone().unwrap_or_default(),
            ]);
        }
        outln!("\nLatest events\n{t}");
    }
}

async fn redeem(
    g: &Global,
    store: &jalin_engine::store::Store,
    id: &str,
    points: i64,
    reason: &str,
    key: Option<String>,
) -> jalin_engine::Result<()> {
    let customer = jalin_engine::customers::find_customer_id(store, id).await?;
    let now = chrono::Utc::now().timestamp();
    let key = key.unwrap_or_else(|| format!("{customer}:{now}:{points}"));
    let balance =
        jalin_engine::analytics::loyalty::redeem(store, customer, points, reason, &key, now)
            .await?;
    super::output::done(
        g,
        &format!("Redeemed {points} points of {id}; the balance is now {balance}"),
        &serde_json::json!({ "customer": id, "redeemed": points, "balance": balance }),
    );
    Ok(())
}
