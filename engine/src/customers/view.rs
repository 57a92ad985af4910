//! The single customer view: profile, consent, orders, complaints, points and latest events,
//! with every time shown in the customer's own time zone.

use crate::error::{Error, Result};
use crate::model::{Currency, Money};
use crate::store::Store;
use crate::with_pool;
use chrono::{DateTime, SecondsFormat};
use chrono_tz::Tz;
use serde::Serialize;
use sqlx::types::Json;

/// Who the customer is.
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    /// Internal id.
    pub id: i64,
    /// The ERP's id.
    pub external_ref: String,
    /// consumer, retailer, distributor or project_buyer.
    pub kind: String,
    /// Name (or "(erased)").
    pub name: String,
    /// Email address.
    pub email: Option<String>,
    /// E.164 phone.
    pub phone: Option<String>,
    /// id or en.
    pub locale: String,
    /// IANA time zone.
    pub time_zone: String,
    /// Province.
    pub region: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Industry.
    pub industry: Option<String>,
    /// When the customer was created, in their zone.
    pub created_at: String,
    /// Free attributes.
    pub attributes: serde_json::Value,
    /// When the customer was erased, if they were.
    pub erased_at: Option<String>,
}

/// The current consent on one channel.
#[derive(Debug, Clone, Serialize)]
pub struct ConsentLine {
    /// email, sms or webhook.
    pub channel: String,
    /// Whether the customer may be contacted.
    pub opted_in: bool,
    /// Where the consent came from.
    pub source: String,
    /// When it last changed, in the customer's zone.
    pub changed_at: String,
    /// Why the address is suppressed, if it is.
    pub suppressed: Option<String>,
}

/// One order.
#[derive(Debug, Clone, Serialize)]
pub struct OrderLine {
    /// The ERP's order number.
    pub external_ref: String,
    /// Lifecycle status.
    pub status: String,
    /// When it was placed, in the customer's zone.
    pub placed_at: String,
    /// Gross value.
    pub value: Money,
    /// Discount given.
    pub discount: Money,
    /// The expected delivery date, if known.
    pub expected_at: Option<String>,
}

/// One complaint.
#[derive(Debug, Clone, Serialize)]
pub struct ComplaintLine {
    /// The call center's reference.
    pub external_ref: String,
    /// What it is about.
    pub category: String,
    /// low … critical.
    pub severity: String,
    /// When it was opened.
    pub opened_at: String,
    /// When it was resolved; `None` while open.
    pub resolved_at: Option<String>,
}

/// Loyalty standing.
#[derive(Debug, Clone, Serialize)]
pub struct LoyaltySummary {
    /// Points available now.
    pub balance: i64,
    /// Points earned in the last 12 months (what the tier is based on).
    pub earned_12_months: i64,
    /// The tier from the last metrics run, if any.
    pub tier: Option<String>,
}

/// One recent event.
#[derive(Debug, Clone, Serialize)]
pub struct EventLine {
    /// What happened.
    pub event_type: String,
    /// When, in the customer's zone.
    pub occurred_at: String,
    /// The campaign involved.
    pub campaign: Option<String>,
    /// The link clicked.
    pub link: Option<String>,
}

/// Everything known about one customer.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerView {
    /// Who they are.
    pub profile: Profile,
    /// Consent per channel.
    pub consent: Vec<ConsentLine>,
    /// Number of orders that count as purchases.
    pub order_count: i64,
    /// Net revenue (value − discount) of those orders.
    pub revenue: Money,
    /// The latest orders, newest first.
    pub orders: Vec<OrderLine>,
    /// Complaints, newest first.
    pub complaints: Vec<ComplaintLine>,
    /// Points and tier.
    pub loyalty: LoyaltySummary,
    /// The latest events, newest first.
    pub events: Vec<EventLine>,
    /// Stored scores from the last metrics run (RFM, churn, CLV, profit), if any.
    pub scores: Option<serde_json::Value>,
}

#[derive(sqlx::FromRow)]
struct ProfileRow {
    external_ref: String,
    kind: String,
    name: String,
    email: Option<String>,
    phone: Option<String>,
    locale: String,
    time_zone: String,
    region: Option<String>,
    city: Option<String>,
    industry: Option<String>,
    created_at: i64,
    attributes: Json<serde_json::Value>,
    erased_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct OrderRow {
    external_ref: String,
    status: String,
    placed_at: i64,
    value: i64,
    discount: i64,
    currency: String,
    expected_at: Option<i64>,
}

/// Formats epoch seconds in a time zone as RFC 3339 with the zone's offset.
pub(crate) fn local_time(secs: i64, tz: Tz) -> String {
    DateTime::from_timestamp(secs, 0)
        .map(|t| {
            t.with_timezone(&tz)
                .to_rfc3339_opts(SecondsFormat::Secs, false)
        })
        .unwrap_or_default()
}

/// Finds a customer by external reference, or by internal id when given as `#123`.
pub async fn find_customer_id(store: &Store, id: &str) -> Result<i64> {
    let found: Option<i64> = match id.strip_prefix('#').map(str::parse::<i64>) {
        Some(Ok(n)) => with_pool!(store, pool => sqlx::query_scalar("SELECT id FROM customers WHERE id = $1")
            .bind(n).fetch_optional(pool).await),
        _ => with_pool!(store, pool => sqlx::query_scalar("SELECT id FROM customers WHERE external_ref = $1")
            .bind(id).fetch_optional(pool).await),
    }
    .map_err(Error::db("finding the customer"))?;
    found.ok_or_else(|| {
        Error::NotFound(format!(
            "no customer {id:?} (use the ERP reference, or #ID for the internal id)"
        ))
    })
}

/// Builds the single customer view. `now` is used for the 12-month points window.
pub async fn customer_view(store: &Store, id: &str, now: i64) -> Result<CustomerView> {
    let cid = find_customer_id(store, id).await?;
    let ctx = "reading the customer";
    let row: ProfileRow = with_pool!(store, pool => sqlx::query_as(
        "SELECT external_ref, kind, name, email, phone, locale, time_zone, region, city, \
         industry, created_at, attributes, erased_at FROM customers WHERE id = $1")
        .bind(cid).fetch_one(pool).await)
    .map_err(Error::db(ctx))?;
    let tz: Tz = row.time_zone.parse().unwrap_or(chrono_tz::Asia::Jakarta);
    let (email, phone) = (row.email.clone(), row.phone.clone());
    let profile = Profile {
        id: cid,
        external_ref: row.external_ref,
        kind: row.kind,
        name: row.name,
        email: row.email,
        phone: row.phone,
        locale: row.locale,
        time_zone: row.time_zone,
        region: row.region,
        city: row.city,
        industry: row.industry,
        created_at: local_time(row.created_at, tz),
        attributes: row.attributes.0,
        erased_at: row.erased_at.map(|t| local_time(t, tz)),
    };

    let consent_rows: Vec<(String, bool, String, i64)> = with_pool!(store, pool => sqlx::query_as(
        "SELECT channel, opted_in, source, changed_at FROM consents WHERE customer_id = $1 ORDER BY channel")
        .bind(cid).fetch_all(pool).await)
        .map_err(Error::db(ctx))?;
    let suppressed: Vec<(String, String, String)> = with_pool!(store, pool => sqlx::query_as(
        "SELECT channel, address, reason FROM suppressions WHERE (channel = 'email' AND address = $1) \
         OR (channel = 'sms' AND address = $2)")
        .bind(email.as_deref().unwrap_or(""))
        .bind(phone.as_deref().unwrap_or(""))
        .fetch_all(pool).await)
        .map_err(Error::db(ctx))?;
    let consent = consent_rows
        .into_iter()
        .map(|(channel, opted_in, source, changed_at)| ConsentLine {
            suppressed: suppressed
                .iter()
                .find(|s| s.0 == channel)
                .map(|s| s.2.clone()),
            channel,
            opted_in,
            source,
            changed_at: local_time(changed_at, tz),
        })
        .collect();

    let (order_count, revenue): (i64, i64) = with_pool!(store, pool => sqlx::query_as(
        "SELECT COUNT(*), CAST(COALESCE(SUM(value - discount), 0) AS BIGINT) FROM orders \
         WHERE customer_id = $1 AND status NOT IN ('quoted', 'cancelled')")
        .bind(cid).fetch_one(pool).await)
    .map_err(Error::db(ctx))?;
    let order_rows: Vec<OrderRow> = with_pool!(store, pool => sqlx::query_as(
        "SELECT external_ref, status, placed_at, value, discount, currency, expected_at FROM orders \
         WHERE customer_id = $1 ORDER BY placed_at DESC, id DESC LIMIT 10")
        .bind(cid).fetch_all(pool).await)
        .map_err(Error::db(ctx))?;
    let orders = order_rows
        .into_iter()
        .map(|o| {
            let currency: Currency = o.currency.parse().unwrap_or_default();
            OrderLine {
                external_ref: o.external_ref,
                status: o.status,
                placed_at: local_time(o.placed_at, tz),
                value: Money::new(o.value, currency),
                discount: Money::new(o.discount, currency),
                expected_at: o.expected_at.map(|t| local_time(t, tz)),
            }
        })
        .collect();

    let complaint_rows: Vec<(String, String, String, i64, Option<i64>)> =
        with_pool!(store, pool => sqlx::query_as(
        "SELECT external_ref, category, severity, opened_at, resolved_at FROM complaints \
         WHERE customer_id = $1 ORDER BY opened_at DESC LIMIT 10")
        .bind(cid).fetch_all(pool).await)
        .map_err(Error::db(ctx))?;
    let complaints = complaint_rows
        .into_iter()
        .map(
            |(external_ref, category, severity, opened_at, resolved_at)| ComplaintLine {
                external_ref,
                category,
                severity,
                opened_at: local_time(opened_at, tz),
                resolved_at: resolved_at.map(|t| local_time(t, tz)),
            },
        )
        .collect();

    let year_ago = now - 365 * 86_400;
    let (balance, earned): (i64, i64) = with_pool!(store, pool => sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(points), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN entry_kind = 'earn' AND occurred_at >= $2 THEN points ELSE 0 END), 0) AS BIGINT) \
         FROM loyalty_ledger WHERE customer_id = $1")
        .bind(cid).bind(year_ago).fetch_one(pool).await)
        .map_err(Error::db(ctx))?;

    let event_rows: Vec<(String, i64, Option<String>, Option<String>)> =
        with_pool!(store, pool => sqlx::query_as(
        "SELECT event_type, occurred_at, campaign, link FROM events WHERE customer_id = $1 \
         ORDER BY occurred_at DESC, id DESC LIMIT 15")
        .bind(cid).fetch_all(pool).await)
        .map_err(Error::db(ctx))?;
    let events = event_rows
        .into_iter()
        .map(|(event_type, occurred_at, campaign, link)| EventLine {
            event_type,
            occurred_at: local_time(occurred_at, tz),
            campaign,
            link,
        })
        .collect();

    let scores = crate::customers::scores_of(store, cid).await?;
    let tier = scores
        .as_ref()
        .and_then(|s| s.get("tier"))
        .and_then(|t| t.as_str())
        .map(str::to_owned);
    Ok(CustomerView {
        profile,
        consent,
        order_count,
        revenue: Money::idr(revenue),
        orders,
        complaints,
        loyalty: LoyaltySummary {
            balance,
            earned_12_months: earned,
            tier,
        },
        events,
        scores,
    })
}
