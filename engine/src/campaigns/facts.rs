//! What a message is rendered from: the recipient's profile, last order, points and latest
//! complaint, and for a triggered run the event with the order or complaint it names. Loaded
//! for a whole batch of recipients with one query per kind of fact.

use crate::error::{Error, Result};
use crate::model::{Currency, Money};
use crate::store::{Store, in_list};
use crate::with_pool;
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, QueryBuilder};
use std::collections::HashMap;

/// The facts of one recipient, as JSON blocks of the template context.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFacts {
    /// `customer`.
    pub customer: Value,
    /// The customer's locale.
    pub locale: String,
    /// The customer's time zone.
    pub time_zone: String,
    /// `last_order`, when there is one.
    pub last_order: Option<Value>,
    /// `points`: balance, earned in 12 months, expiring, expires_at, tier.
    pub points: Value,
    /// `complaint`: the latest complaint, when there is one.
    pub complaint: Option<Value>,
    /// SKUs the customer has bought (for recommendations).
    pub bought: Vec<String>,
}

/// The event behind a triggered run, with the order it names.
#[derive(Debug, Clone)]
pub struct TriggerFacts {
    /// `event`.
    pub event: Value,
    /// `order`, when the event names one.
    pub order: Option<Value>,
}

fn money(minor: i64, currency: &str) -> Value {
    serde_json::to_value(Money::new(
        minor,
        currency.parse::<Currency>().unwrap_or_default(),
    ))
    .unwrap_or(Value::Null)
}

type CustomerRow = (
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
);
type ComplaintRow = (i64, String, String, String, i64, Option<i64>, String);
type OrderRow = (
    i64,
    i64,
    String,
    String,
    i64,
    i64,
    String,
    Option<i64>,
    Option<String>,
);

async fn orders_with_items(store: &Store, rows: Vec<OrderRow>) -> Result<HashMap<i64, Value>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let mut items: HashMap<i64, Vec<Value>> = HashMap::new();
    if !ids.is_empty() {
        let lines: Vec<(i64, String, String, String, i64)> = with_pool!(store, pool, DB => {
            let mut qb = QueryBuilder::<DB>::new(
                "SELECT l.order_id, p.sku, p.name, p.category, CAST(l.quantity AS BIGINT) FROM order_lines l
                 JOIN products p ON p.id = l.product_id WHERE l.order_id IN (");
            in_list!(qb, &ids);
            qb.push(" ORDER BY l.order_id, l.line_no");
            qb.build_query_as().fetch_all(pool).await
        })
        .map_err(Error::db("reading order lines"))?;
        for (order, sku, name, category, quantity) in lines {
            items.entry(order).or_default().push(
                json!({ "sku": sku, "name": name, "category": category, "quantity": quantity }),
            );
        }
    }
    Ok(rows
        .into_iter()
        .map(|r| {
            let (
                id,
                _,
                external_ref,
                status,
                placed_at,
                value,
                currency,
                expected_at,
                tracking_url,
            ) = r;
            let o = json!({
                "ref": external_ref, "status": status, "placed_at": placed_at,
                "expected_at": expected_at, "tracking_url": tracking_url,
                "value": money(value, &currency),
                "items": items.remove(&id).unwrap_or_default(),
            });
            (id, o)
        })
        .collect())
}

const ORDER_COLUMNS: &str = "o.id, o.customer_id, o.external_ref, o.status, o.placed_at, o.value, o.currency, o.expected_at, o.tracking_url";

/// The facts of each customer in `ids` (missing customers are left out).
pub async fn delivery_facts(
    store: &Store,
    ids: &[i64],
    now: i64,
) -> Result<HashMap<i64, DeliveryFacts>> {
    let mut out = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let customers: Vec<CustomerRow> = with_pool!(store, pool, DB => {
        let mut qb = QueryBuilder::<DB>::new(
            "SELECT id, external_ref, name, kind, email, phone, locale, time_zone, city, region, industry,
                    CAST(attributes AS TEXT) FROM customers WHERE erased_at IS NULL AND id IN (");
        in_list!(qb, ids);
        qb.build_query_as().fetch_all(pool).await
    })
    .map_err(Error::db("reading recipients"))?;
    for c in customers {
        let attributes: Value = serde_json::from_str(&c.11).unwrap_or_else(|_| json!({}));
        out.insert(
            c.0,
            DeliveryFacts {
                customer: json!({
                    "id": c.0, "ref": c.1, "name": c.2, "kind": c.3, "email": c.4, "phone": c.5,
                    "locale": c.6, "time_zone": c.7, "city": c.8, "region": c.9, "industry": c.10,
                    "attributes": attributes,
                }),
                locale: c.6,
                time_zone: c.7,
                points: json!({ "balance": 0, "earned_12_months": 0, "expiring": 0, "tier": null }),
                ..DeliveryFacts::default()
            },
        );
    }
    let last: Vec<OrderRow> = with_pool!(store, pool, DB => {
        let mut qb = QueryBuilder::<DB>::new(format!(
            "SELECT {ORDER_COLUMNS} FROM orders o WHERE o.placed_at = (SELECT MAX(x.placed_at) FROM orders x
               WHERE x.customer_id = o.customer_id) AND o.customer_id IN ("));
        in_list!(qb, ids);
        qb.push(" ORDER BY o.id");
        qb.build_query_as().fetch_all(pool).await
    })
    .map_err(Error::db("reading last orders"))?;
    let owner: HashMap<i64, i64> = last.iter().map(|r| (r.0, r.1)).collect();
    for (order_id, o) in orders_with_items(store, last).await? {
        if let Some(f) = owner.get(&order_id).and_then(|c| out.get_mut(c)) {
            f.last_order = Some(o);
        }
    }
    let year_ago = now - 365 * 86_400;
    let points: Vec<(i64, i64, i64)> = with_pool!(store, pool, DB => {
        let mut qb = QueryBuilder::<DB>::new(
            "SELECT customer_id, CAST(SUM(points) AS BIGINT),
                    CAST(SUM(CASE WHEN entry_kind = 'earn' AND occurred_at >= ");
        qb.push_bind(year_ago);
        qb.push(" THEN points ELSE 0 END) AS BIGINT) FROM loyalty_ledger WHERE customer_id IN (");
        in_list!(qb, ids);
        qb.push(" GROUP BY customer_id");
        qb.build_query_as().fetch_all(pool).await
    })
    .map_err(Error::db("reading loyalty points"))?;
    let tiers: Vec<(i64, Option<String>)> = with_pool!(store, pool, DB => {
        let mut qb = QueryBuilder::<DB>::new("SELECT customer_id, tier FROM customer_scores WHERE customer_id IN (");
        in_list!(qb, ids);
        qb.build_query_as().fetch_all(pool).await
    })
    .map_err(Error::db("reading loyalty tiers"))?;
    let tiers: HashMap<i64, Option<String>> = tiers.into_iter().collect();
    // Points not earned in the last 12 months expire at the end of the year.
    let year_end = chrono::DateTime::from_timestamp(now, 0)
        .and_then(|t| chrono::NaiveDate::from_ymd_opt(chrono::Datelike::year(&t) + 1, 1, 1))
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(now, |d| d.and_utc().timestamp());
    for (customer, balance, earned) in points {
        if let Some(f) = out.get_mut(&customer) {
            f.points = json!({
                "balance": balance.max(0), "earned_12_months": earned,
                "expiring": (balance - earned).max(0), "expires_at": year_end,
                "tier": tiers.get(&customer).cloned().flatten(),
            });
        }
    }
    let complaints: Vec<ComplaintRow> = with_pool!(store, pool, DB => {
        let mut qb = QueryBuilder::<DB>::new(
            "SELECT customer_id, external_ref, category, severity, opened_at, resolved_at, summary
             FROM complaints WHERE customer_id IN (");
        in_list!(qb, ids);
        qb.push(" ORDER BY opened_at");
        qb.build_query_as().fetch_all(pool).await
    })
    .map_err(Error::db("reading complaints"))?;
    for (customer, r, category, severity, opened_at, resolved_at, summary) in complaints {
        if let Some(f) = out.get_mut(&customer) {
            f.complaint = Some(json!({
                "ref": r, "category": category, "severity": severity, "opened_at": opened_at,
                "resolved_at": resolved_at, "summary": summary,
            }));
        }
    }
    let bought: Vec<(i64, String)> = with_pool!(store, pool, DB => {
        let mut qb = QueryBuilder::<DB>::new(
            "SELECT DISTINCT o.customer_id, p.sku FROM orders o JOIN order_lines l ON l.order_id = o.id
             JOIN products p ON p.id = l.product_id WHERE o.customer_id IN (");
        in_list!(qb, ids);
        qb.build_query_as().fetch_all(pool).await
    })
    .map_err(Error::db("reading purchased products"))?;
    for (customer, sku) in bought {
        if let Some(f) = out.get_mut(&customer) {
            f.bought.push(sku);
        }
    }
    Ok(out)
}

/// The event of a triggered run and the order it names (by `order` / `order_ref` in its
/// payload), if the run has one.
pub async fn trigger_facts(store: &Store, run_id: i64) -> Result<Option<TriggerFacts>> {
    let row: Option<(String, i64, String)> = with_pool!(store, pool => sqlx::query_as(
        "SELECT e.event_type, e.occurred_at, CAST(e.payload AS TEXT) FROM campaign_runs r
         JOIN events e ON e.id = r.event_id WHERE r.id = $1")
        .bind(run_id).fetch_optional(pool).await)
    .map_err(Error::db("reading a run's event"))?;
    let Some((event_type, occurred_at, payload)) = row else {
        return Ok(None);
    };
    let payload: Value = serde_json::from_str(&payload).unwrap_or_else(|_| json!({}));
    let order_ref = payload
        .get("order")
        .or_else(|| payload.get("order_ref"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut order = None;
    if let Some(r) = order_ref {
        let rows: Vec<OrderRow> = with_pool!(store, pool => sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {ORDER_COLUMNS} FROM orders o WHERE o.external_ref = $1")))
            .bind(&r).fetch_all(pool).await)
        .map_err(Error::db("reading the event's order"))?;
        let mut orders = orders_with_items(store, rows).await?;
        order = orders.drain().next().map(|(_, o)| o);
    }
    Ok(Some(TriggerFacts {
        event: json!({ "type": event_type, "occurred_at": occurred_at, "payload": payload }),
        order,
    }))
}

/// Products of `categories` as recommendation candidates: sku, name, category and price.
pub async fn products_in(store: &Store, categories: &[String]) -> Result<Vec<Value>> {
    if categories.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(String, String, String, i64, String)> = with_pool!(store, pool, DB => {
        let mut qb = QueryBuilder::<DB>::new(
            "SELECT sku, name, category, list_price, currency FROM products WHERE category IN (");
        in_list!(qb, categories);
        qb.push(" ORDER BY category, list_price DESC, sku");
        qb.build_query_as().fetch_all(pool).await
    })
    .map_err(Error::db("reading the catalogue"))?;
    Ok(rows
        .into_iter()
        .map(|(sku, name, category, price, currency)| {
            json!({ "sku": sku, "name": name, "category": category, "price": money(price, &currency) })
        })
        .collect())
}
