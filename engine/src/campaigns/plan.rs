//! Planning a run: the audience streamed page by page, each customer checked (erased, paused by
//! an open complaint, reachable on a consented channel, under the frequency cap), then held out
//! or given a variant, an offer code and a send time, and written to the outbox under its unique
//! key. New rows that may go now are handed to `enqueue` in batches.

use super::assign::{held_out, not_before, offer_code, variant};
use super::definition::{Campaign, CampaignKind};
use super::outbox::{due_for_enqueue, mark_enqueued};
use crate::error::{Error, Result};
use crate::model::Channel;
use crate::segments::{SegmentSet, members};
use crate::store::columns::{Columns, Tail, insert};
use crate::store::{Store, in_list};
use crate::with_pool;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use sqlx::QueryBuilder;
use std::collections::{BTreeMap, HashMap, HashSet};

/// How a run is planned.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// Audience page size (customers read and written per step).
    pub page: u64,
    /// Outbox rows per queue job.
    pub batch: usize,
    /// At most this many marketing messages per customer within `.1` days.
    pub frequency_cap: Option<(u32, u32)>,
    /// Secret material mixed into offer codes, so they cannot be guessed.
    pub offer_salt: Vec<u8>,
    /// A queued row not picked up within this many seconds is pushed to the queue again.
    pub lease_seconds: i64,
    /// Decide everything, write and queue nothing (`jalin send --dry-run`).
    pub dry_run: bool,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            page: 2_000,
            batch: 100,
            frequency_cap: Some((2, 7)),
            offer_salt: Vec::new(),
            lease_seconds: 300,
            dry_run: false,
        }
    }
}

/// What planning a run did, customer by customer.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PlanStats {
    /// Customers in the segment (or the one customer of a triggered run).
    pub audience: u64,
    /// Erased customers, never contacted.
    pub erased: u64,
    /// Marketing skipped while a complaint is open.
    pub paused_complaint: u64,
    /// No channel with an address, consent and no suppression.
    pub unreachable: u64,
    /// Over the frequency cap.
    pub capped: u64,
    /// Held out to measure lift (recorded, not sent).
    pub held_out: u64,
    /// Written to the outbox to be sent.
    pub queued: u64,
    /// Of those, deferred past quiet hours or a trigger's delay.
    pub deferred: u64,
    /// Already in the outbox from an earlier attempt at this run.
    pub existing: u64,
    /// Queued rows by channel.
    pub by_channel: BTreeMap<String, u64>,
    /// Queued rows by variant.
    pub by_variant: BTreeMap<String, u64>,
    /// Queue jobs pushed.
    pub jobs: u64,
    /// A few of the planned messages (dry runs): customer, channel, variant, offer code.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sample: Vec<PlannedMessage>,
}

/// One message a dry run would plan.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedMessage {
    /// The customer.
    pub customer_id: i64,
    /// The channel chosen.
    pub channel: String,
    /// The variant.
    pub variant: String,
    /// The offer code.
    pub offer_code: Option<String>,
    /// Deferred to this time by quiet hours (Unix seconds).
    pub not_before: Option<i64>,
}

/// Who a run goes to.
#[derive(Debug, Clone, Copy)]
pub enum Audience {
    /// The campaign's segment, evaluated now.
    Segment,
    /// One customer (a triggered run).
    Customer(i64),
}

/// What the planner knows about one customer.
#[derive(Debug)]
struct Facts {
    id: i64,
    email: Option<String>,
    phone: Option<String>,
    time_zone: String,
    erased: bool,
    consent: [Option<bool>; 3],
    suppressed: [bool; 3],
    open_complaint: bool,
    recent_marketing: i64,
}

fn slot(c: Channel) -> usize {
    match c {
        Channel::Email => 0,
        Channel::Sms => 1,
        Channel::Webhook => 2,
    }
}

/// id, email, phone, time zone, erased.
type ContactRow = (i64, Option<String>, Option<String>, String, bool);

type FactsRow = (
    i64,
    Option<String>,
    Option<String>,
    String,
    bool,
    Option<bool>,
    Option<bool>,
    Option<bool>,
    bool,
    bool,
    bool,
    bool,
    i64,
);

/// The facts of a page on SQLite: one query with a correlated subquery per fact, which an
/// embedded database answers from its index pages without a round trip.
async fn load_facts_sqlite(
    pool: &sqlx::SqlitePool,
    ids: &[i64],
    cap_since: i64,
) -> Result<Vec<Facts>> {
    let rows: Vec<FactsRow> = {
        let mut qb = QueryBuilder::<sqlx::Sqlite>::new(
            "SELECT c.id, c.email, c.phone, c.time_zone, c.erased_at IS NOT NULL,
              (SELECT k.opted_in FROM consents k WHERE k.customer_id = c.id AND k.channel = 'email'),
              (SELECT k.opted_in FROM consents k WHERE k.customer_id = c.id AND k.channel = 'sms'),
              (SELECT k.opted_in FROM consents k WHERE k.customer_id = c.id AND k.channel = 'webhook'),
              EXISTS (SELECT 1 FROM suppressions s WHERE s.channel = 'email' AND s.address = c.email),
              EXISTS (SELECT 1 FROM suppressions s WHERE s.channel = 'sms' AND s.address = c.phone),
              EXISTS (SELECT 1 FROM suppressions s WHERE s.channel = 'webhook' AND s.address = c.phone),
              EXISTS (SELECT 1 FROM complaints p WHERE p.customer_id = c.id AND p.resolved_at IS NULL),
              (SELECT CAST(COUNT(*) AS BIGINT) FROM outbox o WHERE o.customer_id = c.id
                 AND o.kind = 'marketing' AND o.status NOT IN ('failed', 'held_out', 'cancelled') AND o.created_at >= ",
        );
        qb.push_bind(cap_since);
        qb.push(") FROM customers c WHERE c.id IN (");
        in_list!(qb, ids);
        qb.build_query_as::<FactsRow>().fetch_all(pool).await
    }
    .map_err(Error::db("reading the audience's consent and contact history"))?;
    Ok(rows
        .into_iter()
        .map(|r| Facts {
            id: r.0,
            email: r.1.filter(|e| !e.is_empty()),
            phone: r.2.filter(|p| !p.is_empty()),
            time_zone: r.3,
            erased: r.4,
            consent: [r.5, r.6, r.7],
            suppressed: [r.8, r.9, r.10],
            open_complaint: r.11,
            recent_marketing: r.12,
        })
        .collect())
}

/// The facts of a page of customers. On PostgreSQL, one set-based query per kind of fact: a
/// correlated subquery per customer costs it about a third of a millisecond each.
async fn load_facts(store: &Store, ids: &[i64], cap_since: i64) -> Result<Vec<Facts>> {
    if let Store::Sqlite(pool) = store {
        return load_facts_sqlite(pool, ids, cap_since).await;
    }
    let what = "reading the audience's consent and contact history";
    let customers: Vec<ContactRow> = with_pool!(store, pool, DB => {
        let mut qb = QueryBuilder::<DB>::new(
            "SELECT id, email, phone, time_zone, erased_at IS NOT NULL FROM customers WHERE id IN (");
        in_list!(qb, ids);
        qb.build_query_as().fetch_all(pool).await
    })
    .map_err(Error::db(what))?;
    let consents: Vec<(i64, String, bool)> = with_pool!(store, pool, DB => {
        let mut qb = QueryBuilder::<DB>::new(
            "SELECT customer_id, channel, opted_in FROM consents WHERE customer_id IN (");
        in_list!(qb, ids);
        qb.build_query_as().fetch_all(pool).await
    })
    .map_err(Error::db(what))?;
    let addresses: Vec<String> = customers
        .iter()
        .flat_map(|c| [c.1.clone(), c.2.clone()])
        .flatten()
        .collect();
    let suppressed: Vec<(String, String)> = if addresses.is_empty() {
        Vec::new()
    } else {
        with_pool!(store, pool, DB => {
            let mut qb = QueryBuilder::<DB>::new("SELECT channel, address FROM suppressions WHERE address IN (");
            in_list!(qb, &addresses);
            qb.build_query_as().fetch_all(pool).await
        })
        .map_err(Error::db(what))?
    };
    let complaints: Vec<(i64,)> = with_pool!(store, pool, DB => {
        let mut qb = QueryBuilder::<DB>::new(
            "SELECT DISTINCT customer_id FROM complaints WHERE resolved_at IS NULL AND customer_id IN (");
        in_list!(qb, ids);
        qb.build_query_as().fetch_all(pool).await
    })
    .map_err(Error::db(what))?;
    // Written as NOT IN the other statuses: `IN ('queued', 'sending', 'sent')` lets PostgreSQL
    // AND in the status index, which reads every queued row of the outbox for each page.
    let recent: Vec<(i64, i64)> = if cap_since == i64::MAX {
        Vec::new()
    } else {
        with_pool!(store, pool, DB => {
            let mut qb = QueryBuilder::<DB>::new(
                "SELECT customer_id, CAST(COUNT(*) AS BIGINT) FROM outbox WHERE kind = 'marketing'
                   AND status NOT IN ('failed', 'held_out', 'cancelled') AND created_at >= ");
            qb.push_bind(cap_since);
            qb.push(" AND customer_id IN (");
            in_list!(qb, ids);
            qb.push(" GROUP BY customer_id");
            qb.build_query_as().fetch_all(pool).await
        })
        .map_err(Error::db(what))?
    };
    let mut consent: HashMap<i64, [Option<bool>; 3]> = HashMap::new();
    for (id, channel, opted_in) in consents {
        if let Ok(ch) = channel.parse::<Channel>() {
            consent.entry(id).or_default()[slot(ch)] = Some(opted_in);
        }
    }
    let suppressed: HashSet<(String, String)> = suppressed.into_iter().collect();
    let complaints: HashSet<i64> = complaints.into_iter().map(|c| c.0).collect();
    let recent: HashMap<i64, i64> = recent.into_iter().collect();
    Ok(customers
        .into_iter()
        .map(|(id, email, phone, time_zone, erased)| {
            let email = email.filter(|e| !e.is_empty());
            let phone = phone.filter(|p| !p.is_empty());
            let is_suppressed = |channel: &str, address: &Option<String>| {
                address
                    .as_ref()
                    .is_some_and(|a| suppressed.contains(&(channel.to_owned(), a.clone())))
            };
            Facts {
                id,
                suppressed: [
                    is_suppressed("email", &email),
                    is_suppressed("sms", &phone),
                    is_suppressed("webhook", &phone),
                ],
                email,
                phone,
                time_zone,
                erased,
                consent: consent.get(&id).copied().unwrap_or_default(),
                open_complaint: complaints.contains(&id),
                recent_marketing: recent.get(&id).copied().unwrap_or(0),
            }
        })
        .collect())
}

/// One outbox row about to be written.
struct Row {
    customer_id: i64,
    channel: Channel,
    variant: String,
    status: &'static str,
    not_before: Option<i64>,
    address: Option<String>,
    offer_code: Option<String>,
}

/// Decides what one customer gets; `None` (with the reason counted) when nothing.
fn decide(
    c: &Campaign,
    f: &Facts,
    run_id: i64,
    at: DateTime<Utc>,
    opts: &PlanOptions,
    stats: &mut PlanStats,
) -> Option<Row> {
    let marketing = c.kind == CampaignKind::Marketing;
    if f.erased {
        stats.erased += 1;
        return None;
    }
    if marketing && f.open_complaint {
        stats.paused_complaint += 1;
        return None;
    }
    // The first channel, in the campaign's order of preference, with an address, consent and
    // no suppression. Consent is required for every kind of campaign: a customer who never
    // agreed to a channel is not contacted on it.
    let reachable = c.channels.iter().copied().find_map(|ch| {
        let address = match ch {
            Channel::Email => f.email.clone(),
            Channel::Sms | Channel::Webhook => f.phone.clone(),
        }?;
        (f.consent[slot(ch)] == Some(true) && !f.suppressed[slot(ch)]).then_some((ch, address))
    });
    let Some((channel, address)) = reachable else {
        stats.unreachable += 1;
        return None;
    };
    if marketing
        && c.frequency_cap
        && let Some((max, _)) = opts.frequency_cap
        && f.recent_marketing >= i64::from(max)
    {
        stats.capped += 1;
        return None;
    }
    if c.holdout_percent > 0.0 && held_out(&c.name, f.id, c.holdout_percent) {
        return Some(Row {
            customer_id: f.id,
            channel,
            variant: "holdout".into(),
            status: "held_out",
            not_before: None,
            address: None,
            offer_code: None,
        });
    }
    let v = variant(&c.name, f.id, &c.variants).to_owned();
    let tz: Tz = f.time_zone.parse().unwrap_or(chrono_tz::Asia::Jakarta);
    let quiet = c
        .quiet_hours
        .as_ref()
        .filter(|q| q.channels.contains(&channel))
        .and_then(|q| not_before(at, tz, q));
    let code = c
        .offer
        .as_ref()
        .map(|o| offer_code(&o.prefix, &opts.offer_salt, &c.name, run_id, f.id, 0));
    Some(Row {
        customer_id: f.id,
        channel,
        variant: v,
        status: "queued",
        not_before: quiet.map(|t| t.timestamp()),
        address: Some(address),
        offer_code: code,
    })
}

/// Plans run `run_id` of `campaign`: writes the outbox and pushes batches of row ids to
/// `enqueue`. `at` is when the messages are due (a trigger's delay puts it in the future);
/// `progress` hears the number of customers looked at so far. Planning the same run again
/// writes nothing twice and picks up rows an interrupted attempt left unqueued.
#[allow(clippy::too_many_arguments)]
pub async fn plan_run<E>(
    store: &Store,
    segments: &SegmentSet,
    campaign: &Campaign,
    run_id: i64,
    audience: Audience,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
    opts: &PlanOptions,
    mut enqueue: E,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<PlanStats>
where
    E: AsyncFnMut(Vec<i64>) -> Result<()>,
{
    let mut stats = PlanStats::default();
    let cap_since = opts.frequency_cap.map_or(i64::MAX, |(_, days)| {
        now.timestamp() - i64::from(days) * 86_400
    });
    let mut page_fn = async |ids: &[i64]| -> Result<()> {
        stats.audience += ids.len() as u64;
        let facts = load_facts(store, ids, cap_since).await?;
        let mut rows = Vec::with_capacity(facts.len());
        for f in &facts {
            if let Some(r) = decide(campaign, f, run_id, at, opts, &mut stats) {
                rows.push(r);
            }
        }
        let due_later = |r: &Row| r.not_before.is_some_and(|t| t > now.timestamp());
        if opts.dry_run {
            for r in &rows {
                if r.status == "held_out" {
                    stats.held_out += 1;
                    continue;
                }
                stats.queued += 1;
                stats.deferred += u64::from(due_later(r) || at.timestamp() > now.timestamp());
                *stats.by_channel.entry(r.channel.to_string()).or_default() += 1;
                *stats.by_variant.entry(r.variant.clone()).or_default() += 1;
                if stats.sample.len() < 5 {
                    stats.sample.push(PlannedMessage {
                        customer_id: r.customer_id,
                        channel: r.channel.to_string(),
                        variant: r.variant.clone(),
                        offer_code: r.offer_code.clone(),
                        not_before: r.not_before,
                    });
                }
            }
            progress(stats.audience);
            return Ok(());
        }
        let at_ts = at.timestamp();
        let mut cols = Columns::default();
        cols.int("run_id", rows.iter().map(|_| Some(run_id)))
            .text(
                "campaign",
                rows.iter().map(|_| Some(campaign.name.as_str())),
            )
            .text("kind", rows.iter().map(|_| Some(campaign.kind.as_str())))
            .int("customer_id", rows.iter().map(|r| Some(r.customer_id)))
            .text("channel", rows.iter().map(|r| Some(r.channel.as_str())))
            .text("variant", rows.iter().map(|r| Some(r.variant.as_str())))
            .text("status", rows.iter().map(|r| Some(r.status)))
            .int(
                "not_before",
                rows.iter().map(|r| match r.not_before {
                    Some(t) => Some(t.max(at_ts)),
                    None if at_ts > now.timestamp() => Some(at_ts),
                    None => None,
                }),
            )
            .text("address", rows.iter().map(|r| r.address.as_deref()))
            .text("offer_code", rows.iter().map(|r| r.offer_code.as_deref()))
            .int("created_at", rows.iter().map(|_| Some(now.timestamp())));
        let inserted: Vec<(i64, i64, String)> = insert(
            store,
            "outbox",
            &cols,
            &Tail {
                on_conflict: "ON CONFLICT (run_id, customer_id, channel) DO NOTHING",
                returning: "RETURNING id, customer_id, status",
            },
            "writing the outbox",
        )
        .await?;
        stats.existing += (rows.len() - inserted.len()) as u64;
        let by_customer: BTreeMap<i64, &Row> = rows.iter().map(|r| (r.customer_id, r)).collect();
        let mut now_ids = Vec::new();
        let mut codes = Vec::new();
        for (id, customer_id, status) in &inserted {
            let Some(r) = by_customer.get(customer_id) else {
                continue;
            };
            if status == "held_out" {
                stats.held_out += 1;
                continue;
            }
            stats.queued += 1;
            *stats.by_channel.entry(r.channel.to_string()).or_default() += 1;
            *stats.by_variant.entry(r.variant.clone()).or_default() += 1;
            if due_later(r) || at_ts > now.timestamp() {
                stats.deferred += 1;
            } else {
                now_ids.push(*id);
            }
            if let Some(code) = &r.offer_code {
                codes.push((code.clone(), *customer_id, *id));
            }
        }
        if let Some(offer) = &campaign.offer {
            record_offer_codes(store, campaign, offer, &opts.offer_salt, run_id, codes, now)
                .await?;
        }
        for chunk in now_ids.chunks(opts.batch.max(1)) {
            enqueue(chunk.to_vec()).await?;
            mark_enqueued(store, chunk, now.timestamp()).await?;
            stats.jobs += 1;
        }
        progress(stats.audience);
        Ok(())
    };
    match audience {
        Audience::Segment => {
            let name = campaign.segment.as_deref().unwrap_or_default();
            let segment = segments
                .get(name)
                .ok_or_else(|| Error::NotFound(format!("segment {name:?} does not exist")))?;
            members(
                store,
                segments,
                &segment.rule,
                now.timestamp(),
                opts.page,
                &mut page_fn,
            )
            .await?;
        }
        Audience::Customer(id) => page_fn(&[id]).await?,
    }
    if opts.dry_run {
        return Ok(stats);
    }
    // Rows an interrupted earlier attempt wrote but did not queue.
    let leftovers = due_for_enqueue(
        store,
        Some(run_id),
        now.timestamp(),
        opts.lease_seconds,
        100_000,
    )
    .await?;
    for chunk in leftovers.chunks(opts.batch.max(1)) {
        enqueue(chunk.to_vec()).await?;
        mark_enqueued(store, chunk, now.timestamp()).await?;
        stats.jobs += 1;
    }
    Ok(stats)
}

/// Stores each new row's offer code so a redemption can be matched; a code that collides with
/// one already issued is replaced by the next candidate (and the outbox row updated).
async fn record_offer_codes(
    store: &Store,
    campaign: &Campaign,
    offer: &super::definition::Offer,
    salt: &[u8],
    run_id: i64,
    mut pending: Vec<(String, i64, i64)>,
    now: DateTime<Utc>,
) -> Result<()> {
    let valid_until = now.timestamp() + i64::from(offer.valid_days) * 86_400;
    for attempt in 1..=8u32 {
        if pending.is_empty() {
            return Ok(());
        }
        let mut cols = Columns::default();
        cols.text("code", pending.iter().map(|p| Some(p.0.as_str())))
            .text(
                "campaign",
                pending.iter().map(|_| Some(campaign.name.as_str())),
            )
            .int("customer_id", pending.iter().map(|p| Some(p.1)))
            .int("outbox_id", pending.iter().map(|p| Some(p.2)))
            .int(
                "percent",
                pending.iter().map(|_| Some(i64::from(offer.percent))),
            )
            .int("valid_until", pending.iter().map(|_| Some(valid_until)));
        let stored: Vec<(String,)> = insert(
            store,
            "offer_codes",
            &cols,
            &Tail {
                on_conflict: "ON CONFLICT (code) DO NOTHING",
                returning: "RETURNING code",
            },
            "recording offer codes",
        )
        .await?;
        let stored: std::collections::HashSet<String> = stored.into_iter().map(|s| s.0).collect();
        pending.retain(|p| !stored.contains(&p.0));
        for p in &mut pending {
            p.0 = offer_code(&offer.prefix, salt, &campaign.name, run_id, p.1, attempt);
            with_pool!(store, pool => sqlx::query("UPDATE outbox SET offer_code = $1 WHERE id = $2")
                .bind(&p.0).bind(p.2).execute(pool).await.map(|r| r.rows_affected()))
            .map_err(Error::db("replacing a colliding offer code"))?;
        }
    }
    Err(Error::Invalid(format!(
        "could not find unused offer codes for {} recipients",
        pending.len()
    )))
}
