//! Migrations from an empty database, on both backends.

use crate::both_backends;
use crate::common::TestDb;

async fn from_empty_creates_every_table(db: &TestDb) {
    for table in [
        "customers",
        "consents",
        "consent_history",
        "products",
        "orders",
        "order_lines",
        "complaints",
        "loyalty_ledger",
        "suppressions",
        "events",
        "import_runs",
    ] {
        assert_eq!(db.count(table).await, 0, "{table} exists and is empty");
    }
    // Running them again changes nothing and does not fail.
    db.store.migrate().await.expect("second migrate is a no-op");
    let applied = db.scalar("SELECT COUNT(*) FROM _sqlx_migrations").await;
    assert!(applied >= 1);
    db.store.migrate().await.expect("third migrate");
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM _sqlx_migrations").await,
        applied
    );
}
both_backends!(from_empty, from_empty_creates_every_table);
