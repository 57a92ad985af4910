//! `jalin import`: good rows, bad rows with line numbers, idempotent re-import, references.

use crate::both_backends;
use crate::common::{TestDb, fixed_as_of, load_sample};
use jalin_engine::import::{ImportKind, ImportOptions, ImportReport, import_file};

async fn import(db: &TestDb, kind: ImportKind, name: &str, csv: &str) -> ImportReport {
    let path = db.scratch.write(name, csv);
    import_file(
        &db.store,
        kind,
        &path,
        &ImportOptions::default(),
        fixed_as_of().timestamp(),
        &|_| {},
    )
    .await
    .expect("import runs")
}

const CUSTOMERS_HEADER: &str = "external_ref,kind,name,email,phone,locale,time_zone,region,city,industry,created_at,attributes\n";

async fn sample_imports_every_row(db: &TestDb) {
    let summary = load_sample(db, 300).await;
    assert_eq!(db.count("customers").await as u64, summary.customers);
    assert_eq!(db.count("orders").await as u64, summary.orders);
    assert_eq!(db.count("order_lines").await as u64, summary.order_lines);
    assert_eq!(db.count("complaints").await as u64, summary.complaints);
    assert_eq!(db.count("consent_history").await as u64, summary.consents);
    assert_eq!(db.count("events").await as u64, summary.events);
    assert_eq!(db.count("products").await as u64, summary.products);
    assert!(
        summary.orders > 1000,
        "about ten orders per customer, got {}",
        summary.orders
    );
    // Money arrives in minor units: the sample writes whole rupiah.
    let min_value = db.scalar("SELECT MIN(value) FROM orders").await;
    assert!(min_value % 100 == 0 && min_value > 0);
    // Consent keeps history but the current state holds one row per channel.
    let dupes = db
        .scalar("SELECT COUNT(*) FROM (SELECT customer_id, channel FROM consents GROUP BY customer_id, channel HAVING COUNT(*) > 1) d")
        .await;
    assert_eq!(dupes, 0);
    // A later opt-out wins over the sign-up consent.
    let withdrawn = db
        .scalar("SELECT COUNT(*) FROM consents c WHERE NOT c.opted_in AND EXISTS (SELECT 1 FROM consent_history h WHERE h.customer_id = c.customer_id AND h.channel = c.channel AND h.opted_in)")
        .await;
    assert!(
        withdrawn > 0,
        "some customers withdrew consent after signing up"
    );
}
both_backends!(sample_imports, sample_imports_every_row);

async fn reimport_is_idempotent(db: &TestDb) {
    load_sample(db, 120).await;
    let before = (
        db.count("customers").await,
        db.count("orders").await,
        db.count("order_lines").await,
        db.count("consent_history").await,
        db.count("events").await,
        db.scalar("SELECT CAST(SUM(value) AS BIGINT) FROM orders")
            .await,
    );
    load_sample(db, 120).await;
    let after = (
        db.count("customers").await,
        db.count("orders").await,
        db.count("order_lines").await,
        db.count("consent_history").await,
        db.count("events").await,
        db.scalar("SELECT CAST(SUM(value) AS BIGINT) FROM orders")
            .await,
    );
    assert_eq!(before, after);
    // A changed row in a later export updates the customer in place.
    let csv = format!(
        "{CUSTOMERS_HEADER}C0000001,distributor,PT Baru Jaya,baru@jaya.co.id,+6281111111111,en,Asia/Makassar,Bali,Denpasar,,2024-01-01,{{}}\n"
    );
    let report = import(db, ImportKind::Customers, "update.csv", &csv).await;
    assert_eq!((report.accepted, report.rejected), (1, 0));
    assert_eq!(db.count("customers").await, before.0);
    assert_eq!(
        db.text("SELECT name FROM customers WHERE external_ref = 'C0000001'")
            .await
            .as_deref(),
        Some("PT Baru Jaya")
    );
    assert_eq!(
        db.text("SELECT time_zone FROM customers WHERE external_ref = 'C0000001'")
            .await
            .as_deref(),
        Some("Asia/Makassar")
    );
}
both_backends!(reimport, reimport_is_idempotent);

async fn bad_rows_are_reported_by_line_and_not_written(db: &TestDb) {
    let csv = format!(
        "{CUSTOMERS_HEADER}\
C1,consumer,Budi Santoso,budi@example.co.id,+6281234567890,id,Asia/Jakarta,Jawa Barat,Bandung,,2025-01-02,{{}}\n\
C2,consumer,Siti,siti-at-example,+6281234567891,id,Asia/Jakarta,,,,2025-01-02,\n\
C3,wholesaler,Agus,,,id,Asia/Jakarta,,,,2025-01-02,\n\
C4,consumer,Dewi,,081234567890,id,Asia/Jakarta,,,,2025-01-02,\n\
C5,consumer,Rina,,,id,Asia/Bandung,,,,2025-01-02,\n\
C6,consumer,Andi,,,id,Asia/Jakarta,,,,2025-02-30,\n\
C7,consumer,Wahyu,,,id,Asia/Jakarta,,,,2025-01-02,\"{{not json\"\n\
C1,consumer,Budi again,,,id,Asia/Jakarta,,,,2025-01-02,\n\
C8,consumer,\"Putri, with a stray\" quote,,,id,Asia/Jakarta,,,,2025-01-02,\n\
C9,consumer,Too,few,fields\n\
C10,consumer,'; DROP TABLE customers; --,,,en,Asia/Jayapura,,,,2025-01-02,{{\"note\":\"x\"}}\n"
    );
    let reject_file = db.scratch.path("rejects.csv");
    let path = db.scratch.write("customers.csv", &csv);
    let options = ImportOptions {
        reject_file: Some(reject_file.clone()),
        ..ImportOptions::default()
    };
    let report = import_file(
        &db.store,
        ImportKind::Customers,
        &path,
        &options,
        0,
        &|_| {},
    )
    .await
    .expect("import");
    let lines: Vec<(u64, &str)> = report
        .rejections
        .iter()
        .map(|r| (r.line, r.reason.as_str()))
        .collect();
    let expect = [
        (3, "email"),
        (4, "kind"),
        (5, "phone"),
        (6, "time_zone"),
        (7, "created_at"),
        (8, "attributes"),
        (9, "duplicate"),
        (11, "fields"),
    ];
    assert_eq!(lines.len(), expect.len(), "{lines:#?}");
    for ((line, reason), (want_line, want_word)) in lines.iter().zip(expect) {
        assert_eq!(*line, want_line, "{lines:#?}");
        assert!(
            reason.contains(want_word),
            "line {line}: {reason:?} should mention {want_word}"
        );
    }
    assert_eq!(
        report.accepted, 3,
        "C1, C8 (quote inside a field is data) and C10"
    );
    assert_eq!(db.count("customers").await, 3);
    // The first C1 row won; the duplicate did not overwrite it.
    assert_eq!(
        db.text("SELECT name FROM customers WHERE external_ref = 'C1'")
            .await
            .as_deref(),
        Some("Budi Santoso")
    );
    // SQL-looking values are only data.
    assert_eq!(
        db.text("SELECT name FROM customers WHERE external_ref = 'C10'")
            .await
            .as_deref(),
        Some("'; DROP TABLE customers; --")
    );
    // Every rejected row is in the reject file with its line and reason.
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(&reject_file)
        .expect("reject file");
    let headers = rdr.headers().expect("header").clone();
    assert_eq!(
        (headers.get(0), headers.get(1), headers.get(2)),
        (Some("line"), Some("reason"), Some("external_ref"))
    );
    let rows: Vec<csv::StringRecord> = rdr.into_records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), expect.len());
    assert_eq!((rows[0].get(0), rows[0].get(2)), (Some("3"), Some("C2")));
    assert!(rows[0].get(1).is_some_and(|r| r.contains("email")));
    assert_eq!(
        rows[7].get(0),
        Some("11"),
        "the short row is kept as it was"
    );
}
both_backends!(bad_rows, bad_rows_are_reported_by_line_and_not_written);

async fn duplicates_across_batches_are_caught(db: &TestDb) {
    let mut csv = String::from(CUSTOMERS_HEADER);
    for i in 0..25 {
        csv.push_str(&format!(
            "C{i},consumer,Name {i},,,id,Asia/Jakarta,,,,2025-01-02,\n"
        ));
    }
    csv.push_str("C3,consumer,Second C3,,,id,Asia/Jakarta,,,,2025-01-02,\n");
    let path = db.scratch.write("dupes.csv", &csv);
    let options = ImportOptions {
        batch_size: 10,
        ..ImportOptions::default()
    };
    let report = import_file(
        &db.store,
        ImportKind::Customers,
        &path,
        &options,
        0,
        &|_| {},
    )
    .await
    .expect("import");
    assert_eq!(report.accepted, 25);
    assert_eq!(report.rejections.len(), 1);
    assert_eq!(report.rejections[0].line, 27);
    assert!(report.rejections[0].reason.contains("duplicate"));
    assert_eq!(
        db.text("SELECT name FROM customers WHERE external_ref = 'C3'")
            .await
            .as_deref(),
        Some("Name 3")
    );
}
both_backends!(
    duplicates_across_batches,
    duplicates_across_batches_are_caught
);

async fn unknown_references_are_rejected(db: &TestDb) {
    import(
        db,
        ImportKind::Customers,
        "c.csv",
        &format!("{CUSTOMERS_HEADER}C1,retailer,Toko A,,,id,Asia/Jakarta,,,,2025-01-02,\n"),
    )
    .await;
    import(db, ImportKind::Products, "p.csv", "sku,name,category,make_to_order,unit_cost,list_price\nSOF-1,Sofa,sofa,yes,1000000,2500000.50\n").await;
    let orders = "external_ref,customer_ref,status,placed_at,value,cost,discount\n\
SO-1,C1,delivered,2025-02-01T10:00:00+07:00,2500000,1200000,0\n\
SO-2,C404,delivered,2025-02-01,100,50,0\n\
SO-3,C1,shipping,2025-02-01,100,50,0\n\
SO-4,C1,delivered,2025-02-01,100,50,200\n\
SO-5,C1,confirmed,2025-02-01,-5,0,0\n";
    let report = import(db, ImportKind::Orders, "o.csv", orders).await;
    let reasons: Vec<(u64, String)> = report
        .rejections
        .iter()
        .map(|r| (r.line, r.reason.clone()))
        .collect();
    assert_eq!(reasons.len(), 4, "{reasons:#?}");
    assert_eq!(reasons[0].0, 3);
    assert!(reasons[0].1.contains("customer_ref") && reasons[0].1.contains("C404"));
    assert!(reasons[1].1.contains("status"));
    assert!(reasons[2].1.contains("discount"));
    assert!(reasons[3].1.contains("value"));
    assert_eq!(
        db.scalar("SELECT value FROM orders WHERE external_ref = 'SO-1'")
            .await,
        250_000_000
    );
    assert_eq!(
        db.scalar("SELECT placed_at FROM orders WHERE external_ref = 'SO-1'")
            .await,
        1_738_378_800
    );
    let lines = "order_ref,line_no,sku,quantity,unit_price\nSO-1,1,SOF-1,1,2500000\nSO-1,2,NOPE,1,10\nSO-404,1,SOF-1,1,10\nSO-1,3,SOF-1,0,10\n";
    let report = import(db, ImportKind::OrderLines, "l.csv", lines).await;
    let got: Vec<u64> = report.rejections.iter().map(|r| r.line).collect();
    assert_eq!(got, vec![3, 4, 5]);
    assert!(report.rejections[0].reason.contains("sku"));
    assert!(report.rejections[1].reason.contains("order_ref"));
    assert!(report.rejections[2].reason.contains("quantity"));
    assert_eq!(db.count("order_lines").await, 1);
    // A product list price with sen survives exactly.
    assert_eq!(
        db.scalar("SELECT list_price FROM products WHERE sku = 'SOF-1'")
            .await,
        250_000_050
    );
}
both_backends!(unknown_references, unknown_references_are_rejected);

async fn wrong_header_writes_nothing(db: &TestDb) {
    let path = db.scratch.write("bad.csv", "external_ref,kind,nmae,locale,time_zone,created_at\nC1,consumer,X,id,Asia/Jakarta,2025-01-01\n");
    let err = import_file(
        &db.store,
        ImportKind::Customers,
        &path,
        &ImportOptions::default(),
        0,
        &|_| {},
    )
    .await
    .expect_err("header is wrong");
    let text = err.to_string();
    assert!(
        text.contains("bad.csv:1") && text.contains("nmae"),
        "{text}"
    );
    let path = db
        .scratch
        .write("missing.csv", "external_ref,kind,locale\nC1,consumer,id\n");
    let err = import_file(
        &db.store,
        ImportKind::Customers,
        &path,
        &ImportOptions::default(),
        0,
        &|_| {},
    )
    .await
    .expect_err("columns missing");
    assert!(err.to_string().contains("name"), "{err}");
    assert_eq!(db.count("customers").await, 0);
    assert_eq!(db.count("import_runs").await, 0);
}
both_backends!(wrong_header, wrong_header_writes_nothing);

async fn consent_and_events_import(db: &TestDb) {
    import(
        db,
        ImportKind::Customers,
        "c.csv",
        &format!("{CUSTOMERS_HEADER}C1,consumer,A,a@b.id,,id,Asia/Jakarta,,,,2025-01-02,\n"),
    )
    .await;
    let consent = "customer_ref,channel,status,source,changed_at\n\
C1,email,opted_in,signup,2025-01-02\n\
C1,email,opted_out,unsubscribe_link,2025-03-01\n\
C1,email,opted_in,old_form,2024-12-01\n\
C1,fax,opted_in,x,2025-01-01\n\
C1,sms,maybe,x,2025-01-01\n";
    let report = import(db, ImportKind::Consent, "consent.csv", consent).await;
    assert_eq!(
        report.rejections.iter().map(|r| r.line).collect::<Vec<_>>(),
        vec![5, 6]
    );
    // The newest change wins, whatever the order in the file; every change is kept.
    assert_eq!(
        db.scalar("SELECT CAST(CASE WHEN opted_in THEN 1 ELSE 0 END AS BIGINT) FROM consents")
            .await,
        0
    );
    assert_eq!(db.count("consent_history").await, 3);
    let events = "idempotency_key,event_type,occurred_at,customer_ref,campaign,link,payload\n\
e1,email.opened,2025-03-01,C1,news,,{}\n\
e1,email.opened,2025-03-01,C1,news,,{}\n\
e2,Opened,2025-03-01,C1,,,\n\
e3,email.clicked,2025-03-01,C1,news,https://x.id/a,\"{\"\"n\"\":1}\"\n";
    let report = import(db, ImportKind::Events, "events.csv", events).await;
    assert_eq!(
        report.rejections.iter().map(|r| r.line).collect::<Vec<_>>(),
        vec![3, 4]
    );
    assert_eq!(db.count("events").await, 2);
    // Importing the same events again records nothing new.
    let report = import(
        db,
        ImportKind::Events,
        "events2.csv",
        "idempotency_key,event_type,occurred_at\ne1,email.opened,2025-03-01\n",
    )
    .await;
    assert_eq!(report.rejected, 0);
    assert_eq!(db.count("events").await, 2);
}
both_backends!(consent_and_events, consent_and_events_import);
