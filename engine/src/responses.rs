//! Responses to messages: unsubscribes and bounces, recorded as events and applied to consent
//! and the suppression list. (Opens and clicks are written in batches: [`crate::hits`].)

use crate::error::{Error, Result};
use crate::events::{NewEvent, record};
use crate::store::Store;
use crate::with_pool;
use serde::Serialize;

/// The message a tracking token names, and its recipient.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct MessageInfo {
    /// The outbox id.
    pub id: i64,
    /// The campaign.
    pub campaign: String,
    /// The channel it went out on.
    pub channel: String,
    /// The customer.
    pub customer_id: i64,
    /// The address it went to.
    pub address: Option<String>,
    /// The customer's locale.
    pub locale: String,
    /// The customer's name.
    pub name: String,
    /// The customer's ERP id.
    pub customer_ref: String,
    /// The recipient's offer code, if the campaign gave one.
    pub offer_code: Option<String>,
}

/// The message with this id, if it exists.
pub async fn message_info(store: &Store, message_id: i64) -> Result<Option<MessageInfo>> {
    with_pool!(store, pool => sqlx::query_as::<_, MessageInfo>(
        "SELECT o.id, o.campaign, o.channel, o.customer_id, o.address, c.locale, c.name,
                c.external_ref AS customer_ref, o.offer_code
         FROM outbox o JOIN customers c ON c.id = o.customer_id WHERE o.id = $1")
        .bind(message_id).fetch_optional(pool).await)
    .map_err(Error::db("reading a message"))
}

fn event(
    m: &MessageInfo,
    event_type: &str,
    key: String,
    now: i64,
    link: Option<&str>,
    payload: serde_json::Value,
) -> NewEvent {
    NewEvent {
        event_type: event_type.into(),
        occurred_at: now,
        customer_id: Some(m.customer_id),
        campaign: Some(m.campaign.clone()),
        message_id: Some(m.id),
        link: link.map(str::to_owned),
        idempotency_key: key,
        payload,
    }
}

/// Withdraws the customer's consent for the message's channel (history kept) and records the
/// unsubscribe. Idempotent: a second request for the same message changes nothing.
pub async fn unsubscribe(store: &Store, m: &MessageInfo, source: &str, now: i64) -> Result<bool> {
    let kind = if m.channel == "sms" {
        "sms.unsubscribed"
    } else {
        "email.unsubscribed"
    };
    let e = event(
        m,
        kind,
        format!("unsubscribe:{}", m.id),
        now,
        None,
        serde_json::json!({ "source": source }),
    );
    let Some(_) = record(store, &e, now).await? else {
        return Ok(false);
    };
    set_consent(store, m.customer_id, &m.channel, false, source, now).await?;
    Ok(true)
}

/// Sets the current consent of a customer on a channel and appends it to the history.
pub async fn set_consent(
    store: &Store,
    customer_id: i64,
    channel: &str,
    opted_in: bool,
    source: &str,
    now: i64,
) -> Result<()> {
    with_pool!(store, pool => {
        let mut tx = pool.begin().await.map_err(Error::db("changing consent"))?;
        sqlx::query(
            "INSERT INTO consents (customer_id, channel, opted_in, source, changed_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (customer_id, channel) DO UPDATE SET opted_in = excluded.opted_in,
               source = excluded.source, changed_at = excluded.changed_at")
            .bind(customer_id).bind(channel).bind(opted_in).bind(source).bind(now)
            .execute(&mut *tx).await.map_err(Error::db("changing consent"))?;
        sqlx::query(
            "INSERT INTO consent_history (customer_id, channel, opted_in, source, changed_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT DO NOTHING")
            .bind(customer_id).bind(channel).bind(opted_in).bind(source).bind(now)
            .execute(&mut *tx).await.map_err(Error::db("recording consent history"))?;
        tx.commit().await.map_err(Error::db("changing consent"))?;
    });
    Ok(())
}

/// A bounce notice from the mail system.
#[derive(Debug, Clone)]
pub struct Bounce {
    /// The address that bounced.
    pub address: String,
    /// Our message id, when the notice carries it.
    pub message_id: Option<i64>,
    /// Hard (the address does not exist) or soft (mailbox full, server down).
    pub hard: bool,
    /// The RFC 3463 status (`5.1.1`).
    pub status: Option<String>,
    /// The diagnostic text.
    pub diagnostic: Option<String>,
    /// Unique per notice (the webhook id): the same notice twice records nothing new.
    pub key: String,
}

/// What a bounce did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum BounceEffect {
    /// Seen before: nothing recorded.
    Duplicate,
    /// Recorded; the address stays usable.
    Recorded,
    /// Recorded and the address suppressed.
    Suppressed,
}

/// Records a bounce; a hard bounce, or `soft_limit` soft bounces in a row (no delivery between),
/// puts the address on the suppression list.
pub async fn record_bounce(
    store: &Store,
    b: &Bounce,
    soft_limit: i64,
    now: i64,
) -> Result<BounceEffect> {
    let address = b.address.trim().to_ascii_lowercase();
    let (customer_id, campaign) = match b.message_id {
        Some(id) => match message_info(store, id).await? {
            Some(m) => (Some(m.customer_id), Some(m.campaign)),
            None => (None, None),
        },
        None => (None, None),
    };
    let customer_id = match customer_id {
        Some(c) => Some(c),
        None => with_pool!(store, pool => sqlx::query_scalar::<_, i64>(
            "SELECT id FROM customers WHERE LOWER(email) = $1 ORDER BY id LIMIT 1")
            .bind(&address).fetch_optional(pool).await)
        .map_err(Error::db("finding the bounced address"))?,
    };
    let e = NewEvent {
        event_type: "email.bounced".into(),
        occurred_at: now,
        customer_id,
        campaign,
        message_id: b.message_id,
        link: None,
        idempotency_key: format!("bounce:{}", b.key),
        payload: serde_json::json!({
            "address": address, "hard": b.hard, "status": b.status, "diagnostic": b.diagnostic,
        }),
    };
    if record(store, &e, now).await?.is_none() {
        return Ok(BounceEffect::Duplicate);
    }
    let suppress = if b.hard {
        true
    } else {
        // Soft bounces of this address since its last delivered message.
        let soft: i64 = with_pool!(store, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM events b WHERE b.event_type = 'email.bounced'
               AND b.idempotency_key LIKE 'bounce:%' AND b.customer_id IS NOT DISTINCT FROM $1
               AND b.occurred_at >= COALESCE((SELECT MAX(d.occurred_at) FROM events d
                   WHERE d.event_type = 'message.delivered' AND d.customer_id IS NOT DISTINCT FROM $1), 0)")
            .bind(customer_id).fetch_one(pool).await)
        .map_err(Error::db("counting soft bounces"))?;
        soft >= soft_limit
    };
    if suppress {
        let reason = if b.hard {
            format!("hard bounce {}", b.status.as_deref().unwrap_or(""))
        } else {
            format!("{soft_limit} soft bounces in a row")
        };
        crate::campaigns::suppress(store, "email", &address, reason.trim(), now).await?;
        return Ok(BounceEffect::Suppressed);
    }
    Ok(BounceEffect::Recorded)
}

/// What the factory tells us about an order (`POST /hooks/orders`).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderNotice {
    /// `order.placed` or `order.status_changed`.
    pub event: String,
    /// The ERP's order number.
    pub order: String,
    /// The ERP's customer id (needed for a new order).
    #[serde(default)]
    pub customer: Option<String>,
    /// The new status (`confirmed` … `delivered`, `cancelled`).
    #[serde(default)]
    pub status: Option<String>,
    /// The order's value in minor units (needed for a new order).
    #[serde(default)]
    pub value: Option<i64>,
    /// The offer code the customer used, if any.
    #[serde(default)]
    pub offer_code: Option<String>,
}

/// What an order notice did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OrderEffect {
    /// The notice was new (not a replay).
    pub recorded: bool,
    /// The campaign (and variant) the order is attributed to.
    pub attributed_to: Option<(String, String)>,
    /// The offer code marked redeemed.
    pub redeemed: Option<String>,
    /// Loyalty points earned.
    pub points: i64,
}

const STATUSES: &[&str] = &[
    "quoted",
    "confirmed",
    "in_production",
    "quality_check",
    "shipped",
    "delivered",
    "cancelled",
];

/// Records an order notice and applies it: a placed order is stored, attributed to the
/// customer's last campaign message inside that campaign's goal window (`goal_days`), its offer
/// code marked redeemed and points earned (1 per Rp 10,000); a status change updates the order
/// (and fires the order-status campaign through its trigger). `key` makes a replay a no-op.
pub async fn record_order(
    store: &Store,
    n: &OrderNotice,
    key: &str,
    goal_days: &(dyn Fn(&str) -> Option<u32> + Sync),
    now: i64,
) -> Result<OrderEffect> {
    let mut effect = OrderEffect::default();
    let existing: Option<(i64, i64, i64)> = with_pool!(store, pool => sqlx::query_as(
        "SELECT id, customer_id, value FROM orders WHERE external_ref = $1").bind(&n.order).fetch_optional(pool).await)
    .map_err(Error::db("reading the order"))?;
    let status = n.status.clone().unwrap_or_else(|| "confirmed".into());
    if !STATUSES.contains(&status.as_str()) {
        return Err(Error::Invalid(format!("unknown order status {status:?}")));
    }
    let (order_id, customer_id, value) = match (n.event.as_str(), existing) {
        (_, Some(o)) => o,
        ("order.placed", None) => {
            let customer = n
                .customer
                .as_deref()
                .ok_or_else(|| Error::Invalid("a new order needs customer".into()))?;
            let value = n
                .value
                .filter(|v| *v >= 0)
                .ok_or_else(|| Error::Invalid("a new order needs a value of 0 or more".into()))?;
            let customer_id = crate::customers::find_customer_id(store, customer).await?;
            let id: i64 = with_pool!(store, pool => sqlx::query_scalar(
                "INSERT INTO orders (external_ref, customer_id, status, placed_at, value, cost, offer_code) VALUES ($1, $2, $3, $4, $5, 0, $6)
                 ON CONFLICT (external_ref) DO UPDATE SET external_ref = excluded.external_ref RETURNING id")
                .bind(&n.order).bind(customer_id).bind(&status).bind(now).bind(value).bind(&n.offer_code)
                .fetch_one(pool).await)
            .map_err(Error::db("storing the order"))?;
            (id, customer_id, value)
        }
        (_, None) => return Err(Error::NotFound(format!("no order {}", n.order))),
    };
    let e = NewEvent::about(
        &n.event,
        customer_id,
        format!("hook:orders:{key}"),
        serde_json::json!({ "order": n.order, "status": status, "value": value, "offer_code": n.offer_code }),
        now,
    );
    if record(store, &e, now).await?.is_none() {
        return Ok(effect);
    }
    effect.recorded = true;
    if n.event == "order.status_changed" {
        let column = format!("{status}_at");
        // The column name comes from the fixed list above, never from the request.
        let sql = format!("UPDATE orders SET status = $1, {column} = $2 WHERE id = $3");
        with_pool!(store, pool => sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&status).bind(now).bind(order_id)
            .execute(pool).await.map(|r| r.rows_affected()))
        .map_err(Error::db("updating the order"))?;
        return Ok(effect);
    }
    // Attribution: the latest message sent to the customer whose campaign's window still runs.
    let touches: Vec<(i64, String, String, i64)> = with_pool!(store, pool => sqlx::query_as(
        "SELECT id, campaign, variant, sent_at FROM outbox WHERE customer_id = $1 AND status = 'sent'
           AND sent_at <= $2 ORDER BY sent_at DESC, id DESC LIMIT 50")
        .bind(customer_id).bind(now).fetch_all(pool).await)
    .map_err(Error::db("finding campaign touches"))?;
    if let Some((message, campaign, variant, _)) = touches
        .into_iter()
        .find(|(_, c, _, sent)| goal_days(c).is_some_and(|d| *sent >= now - i64::from(d) * 86_400))
    {
        let a = NewEvent {
            campaign: Some(campaign.clone()),
            message_id: Some(message),
            ..NewEvent::about(
                "conversion.attributed",
                customer_id,
                format!("conversion:{}", n.order),
                serde_json::json!({ "order": n.order, "variant": variant, "revenue": value }),
                now,
            )
        };
        record(store, &a, now).await?;
        effect.attributed_to = Some((campaign, variant));
    }
    if let Some(code) = &n.offer_code {
        let redeemed = with_pool!(store, pool => sqlx::query(
            "UPDATE offer_codes SET redeemed_at = $1, order_id = $2
             WHERE code = $3 AND customer_id = $4 AND redeemed_at IS NULL AND valid_until >= $1")
            .bind(now).bind(order_id).bind(code).bind(customer_id).execute(pool).await.map(|r| r.rows_affected()))
        .map_err(Error::db("redeeming the offer code"))?;
        if redeemed == 1 {
            effect.redeemed = Some(code.clone());
        }
    }
    // 1 point per Rp 10,000 (value is in sen).
    let points = value / 1_000_000;
    if points > 0 {
        with_pool!(store, pool => sqlx::query(
            "INSERT INTO loyalty_ledger (customer_id, entry_kind, points, occurred_at, reason, order_id, campaign, idempotency_key)
             VALUES ($1, 'earn', $2, $3, 'purchase', $4, $5, $6) ON CONFLICT (idempotency_key) DO NOTHING")
            .bind(customer_id).bind(points).bind(now).bind(order_id)
            .bind(effect.attributed_to.as_ref().map(|a| a.0.clone())).bind(format!("earn:{}", n.order))
            .execute(pool).await.map(|r| r.rows_affected()))
        .map_err(Error::db("earning points"))?;
        effect.points = points;
    }
    Ok(effect)
}

/// What the call center tells us (`POST /hooks/call-center`).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallCenterNotice {
    /// `complaint.opened`, `complaint.updated`, `complaint.resolved`, `call.outcome` or
    /// `call.callback_requested`.
    pub event: String,
    /// The ERP's customer id.
    pub customer: String,
    /// The complaint's reference (complaint events).
    #[serde(default)]
    pub complaint: Option<String>,
    /// What the complaint is about.
    #[serde(default)]
    pub category: Option<String>,
    /// low, medium, high or critical.
    #[serde(default)]
    pub severity: Option<String>,
    /// A line about it.
    #[serde(default)]
    pub summary: Option<String>,
    /// The outcome of a call.
    #[serde(default)]
    pub outcome: Option<String>,
}

const CALL_CENTER_EVENTS: &[&str] = &[
    "complaint.opened",
    "complaint.updated",
    "complaint.resolved",
    "call.outcome",
    "call.callback_requested",
];

/// Records a call-center notice and applies it: a complaint opened is stored (the customer is
/// paused from marketing while it is open, and the acknowledgement campaign fires on the event);
/// a complaint resolved is closed (the survey campaign fires). Returns whether it was new.
pub async fn record_call_center(
    store: &Store,
    n: &CallCenterNotice,
    key: &str,
    now: i64,
) -> Result<bool> {
    if !CALL_CENTER_EVENTS.contains(&n.event.as_str()) {
        return Err(Error::Invalid(format!(
            "event must be one of {}",
            CALL_CENTER_EVENTS.join(", ")
        )));
    }
    let severity = n.severity.clone().unwrap_or_else(|| "medium".into());
    if !["low", "medium", "high", "critical"].contains(&severity.as_str()) {
        return Err(Error::Invalid(format!("unknown severity {severity:?}")));
    }
    let complaint = match (&n.complaint, n.event.starts_with("complaint.")) {
        (Some(c), _) => Some(c.clone()),
        (None, true) => return Err(Error::Invalid("a complaint event needs complaint".into())),
        (None, false) => None,
    };
    let customer_id = crate::customers::find_customer_id(store, &n.customer).await?;
    let e = NewEvent::about(
        &n.event,
        customer_id,
        format!("hook:call-center:{key}"),
        serde_json::json!({
            "complaint": complaint, "category": n.category, "severity": severity,
            "summary": n.summary, "outcome": n.outcome,
        }),
        now,
    );
    if record(store, &e, now).await?.is_none() {
        return Ok(false);
    }
    match (n.event.as_str(), complaint) {
        ("complaint.opened", Some(c)) => {
            with_pool!(store, pool => sqlx::query(
                "INSERT INTO complaints (external_ref, customer_id, category, severity, channel, opened_at, summary)
                 VALUES ($1, $2, $3, $4, 'phone', $5, $6) ON CONFLICT (external_ref) DO NOTHING")
                .bind(&c).bind(customer_id).bind(n.category.as_deref().unwrap_or("other")).bind(&severity)
                .bind(now).bind(n.summary.as_deref().unwrap_or("")).execute(pool).await.map(|r| r.rows_affected()))
            .map_err(Error::db("opening the complaint"))?;
        }
        ("complaint.resolved", Some(c)) => {
            with_pool!(store, pool => sqlx::query(
                "UPDATE complaints SET resolved_at = $1 WHERE external_ref = $2 AND customer_id = $3 AND resolved_at IS NULL")
                .bind(now).bind(&c).bind(customer_id).execute(pool).await.map(|r| r.rows_affected()))
            .map_err(Error::db("resolving the complaint"))?;
        }
        _ => {}
    }
    Ok(true)
}
