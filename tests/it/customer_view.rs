//! The single customer view.

use crate::both_backends;
use crate::common::{TestDb, fixed_as_of, load_sample};
use jalin_engine::customers::customer_view;

async fn view_shows_profile_consent_orders_and_events(db: &TestDb) {
    load_sample(db, 200).await;
    // Pick a customer with orders, a complaint and events, whoever that is in the sample.
    let external_ref = db
        .text("SELECT c.external_ref FROM customers c WHERE EXISTS (SELECT 1 FROM complaints k WHERE k.customer_id = c.id) ORDER BY c.id LIMIT 1")
        .await
        .expect("a customer with a complaint");
    let view = customer_view(&db.store, &external_ref, fixed_as_of().timestamp())
        .await
        .expect("view");
    let id = view.profile.id;
    assert_eq!(view.profile.external_ref, external_ref);
    let orders = db.scalar(&format!("SELECT COUNT(*) FROM orders WHERE customer_id = {id} AND status NOT IN ('quoted','cancelled')")).await;
    assert_eq!(view.order_count, orders);
    let revenue = db.scalar(&format!("SELECT CAST(SUM(value - discount) AS BIGINT) FROM orders WHERE customer_id = {id} AND status NOT IN ('quoted','cancelled')")).await;
    assert_eq!(view.revenue.minor, revenue);
    assert!(!view.orders.is_empty() && view.orders.len() <= 10);
    // Newest first, and shown in the customer's own zone.
    assert!(
        view.orders
            .windows(2)
            .all(|w| w[0].placed_at >= w[1].placed_at)
    );
    let offset = match view.profile.time_zone.as_str() {
        "Asia/Jakarta" => "+07:00",
        "Asia/Makassar" => "+08:00",
        "Asia/Jayapura" => "+09:00",
        other => panic!("unexpected zone {other}"),
    };
    assert!(
        view.orders[0].placed_at.ends_with(offset),
        "{}",
        view.orders[0].placed_at
    );
    assert!(!view.complaints.is_empty());
    let channels = db
        .scalar(&format!(
            "SELECT COUNT(*) FROM consents WHERE customer_id = {id}"
        ))
        .await;
    assert_eq!(view.consent.len() as i64, channels);
    // By internal id too, and a clear error for a customer that does not exist.
    let again = customer_view(&db.store, &format!("#{id}"), 0)
        .await
        .expect("by id");
    assert_eq!(again.profile.external_ref, external_ref);
    let err = customer_view(&db.store, "C9999999", 0)
        .await
        .expect_err("missing");
    assert!(err.to_string().contains("C9999999"));
}
both_backends!(view, view_shows_profile_consent_orders_and_events);
