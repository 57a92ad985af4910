//! Live events on top of the sample data, for the demo's triggered campaigns.

use crate::error::{Error, Result};
use crate::events::{NewEvent, record};
use crate::store::Store;
use crate::with_pool;
use sqlx::AssertSqlSafe;
use std::collections::BTreeMap;

async fn ids(store: &Store, sql: &str, at: i64) -> Result<Vec<(i64, String)>> {
    with_pool!(store, pool => sqlx::query_as::<_, (i64, String)>(AssertSqlSafe(sql.to_owned()))
        .bind(at).fetch_all(pool).await)
    .map_err(Error::db("choosing customers for live events"))
}

/// Records live events for the demo, as the factory and the call center would post them at `at`:
/// orders shipped, complaints opened and resolved, tier upgrades and first orders of
/// consenting customers. Returns how many of each were new.
pub async fn live_events(store: &Store, at: i64) -> Result<BTreeMap<String, u64>> {
    let mut counts = BTreeMap::new();
    let mut add = async |event_type: &str,
                         customer: i64,
                         key: String,
                         payload: serde_json::Value|
           -> Result<()> {
        let e = NewEvent::about(event_type, customer, format!("demo:{key}"), payload, at);
        if record(store, &e, at).await?.is_some() {
            *counts.entry(event_type.to_owned()).or_insert(0) += 1;
        }
        Ok(())
    };
    let consented = "EXISTS (SELECT 1 FROM consents k WHERE k.customer_id = c.id AND k.opted_in AND k.channel IN ('email', 'sms'))";
    let shipped = ids(store, &format!(
        "SELECT o.customer_id, o.external_ref FROM orders o JOIN customers c ON c.id = o.customer_id
         WHERE o.status IN ('confirmed', 'in_production', 'quality_check') AND o.placed_at <= $1 AND {consented}
         ORDER BY o.placed_at DESC, o.id LIMIT 25"), at).await?;
    for (customer, order) in shipped {
        with_pool!(store, pool => sqlx::query("UPDATE orders SET status = 'shipped', shipped_at = $1 WHERE external_ref = $2")
            .bind(at).bind(&order).execute(pool).await.map(|_| ())).map_err(Error::db("shipping an order"))?;
        add(
            "order.status_changed",
            customer,
            format!("shipped:{order}"),
            serde_json::json!({ "order": order, "status": "shipped" }),
        )
        .await?;
    }
    let opened = ids(store, &format!(
        "SELECT p.customer_id, p.external_ref FROM complaints p JOIN customers c ON c.id = p.customer_id
         WHERE p.resolved_at IS NULL AND p.opened_at <= $1 AND {consented} ORDER BY p.opened_at DESC, p.id LIMIT 10"), at).await?;
    for (customer, complaint) in opened {
        add(
            "complaint.opened",
            customer,
            format!("opened:{complaint}"),
            serde_json::json!({ "complaint": complaint }),
        )
        .await?;
    }
    let resolved = ids(store, &format!(
        "SELECT p.customer_id, p.external_ref FROM complaints p JOIN customers c ON c.id = p.customer_id
         WHERE p.resolved_at IS NOT NULL AND p.resolved_at <= $1 AND {consented} ORDER BY p.resolved_at DESC, p.id LIMIT 10"), at).await?;
    for (customer, complaint) in resolved {
        add(
            "complaint.resolved",
            customer,
            format!("resolved:{complaint}"),
            serde_json::json!({ "complaint": complaint }),
        )
        .await?;
    }
    let upgraded = ids(
        store,
        &format!(
            "SELECT c.id, c.external_ref FROM customers c WHERE c.created_at <= $1 AND {consented}
         ORDER BY (SELECT COUNT(*) FROM orders o WHERE o.customer_id = c.id) DESC, c.id LIMIT 10"
        ),
        at,
    )
    .await?;
    for (customer, reference) in upgraded {
        add(
            "tier.upgraded",
            customer,
            format!("tier:{reference}"),
            serde_json::json!({ "tier": "gold", "from": "silver" }),
        )
        .await?;
    }
    let first = ids(store, &format!(
        "SELECT c.id, c.external_ref FROM customers c WHERE c.kind = 'consumer' AND {consented}
           AND (SELECT MIN(o.placed_at) FROM orders o WHERE o.customer_id = c.id) BETWEEN $1 - 2592000 AND $1
         ORDER BY c.id LIMIT 25"), at).await?;
    for (customer, reference) in first {
        add(
            "customer.first_order",
            customer,
            format!("first:{reference}"),
            serde_json::json!({}),
        )
        .await?;
    }
    Ok(counts)
}
