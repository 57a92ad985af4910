//! The HTTP server through the real binary: opens, clicks, unsubscribes and a signed bounce
//! webhook, each changing the customer record exactly once; tampered tokens and unsigned,
//! stale, replayed or oversized webhooks change nothing.

use crate::both_backends;
use crate::common::{Scratch, TestDb, jalin_bin};
use crate::support::{Proc, free_port, wait_port};
use jalin_channels::tracking::TrackingUrls;
use jalin_channels::webhook::standard::{Secret, sign};
use jalin_engine::with_pool;
use jalin_workers::settings::Settings;
use jalin_workers::wiring;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

async fn setup(db: &TestDb) -> (i64, i64) {
    let customer: i64 = with_pool!(&db.store, pool => sqlx::query_scalar(
        "INSERT INTO customers (external_ref, kind, name, email, locale, time_zone, created_at) VALUES ('C1', 'consumer', 'Siti <b>Aminah</b>', 'siti@example.co.id', 'id', 'Asia/Jakarta', 0) RETURNING id")
        .fetch_one(pool).await).expect("customer");
    with_pool!(&db.store, pool => sqlx::query(
        "INSERT INTO consents (customer_id, channel, opted_in, source, changed_at) VALUES ($1, 'email', TRUE, 'test', 0)")
        .bind(customer).execute(pool).await.map(|_| ())).expect("consent");
    let run: i64 = with_pool!(&db.store, pool => sqlx::query_scalar(
        "INSERT INTO campaign_runs (campaign, trigger_key, kind, scheduled_for, created_at, status) VALUES ('win-back', 'send:1', 'marketing', 0, 0, 'planned') RETURNING id")
        .fetch_one(pool).await).expect("run");
    let message: i64 = with_pool!(&db.store, pool => sqlx::query_scalar(
        "INSERT INTO outbox (run_id, campaign, kind, customer_id, channel, variant, status, address, created_at) VALUES ($1, 'win-back', 'marketing', $2, 'email', 'a', 'sent', 'siti@example.co.id', 0) RETURNING id")
        .bind(run).bind(customer).fetch_one(pool).await).expect("outbox");
    (customer, message)
}

async fn events(db: &TestDb, kind: &str) -> i64 {
    db.scalar(&format!(
        "SELECT COUNT(*) FROM events WHERE event_type = '{kind}'"
    ))
    .await
}

fn signed(id: &str, timestamp: i64, body: &str) -> Vec<(&'static str, String)> {
    let secrets = Secret::parse_list(SECRET).expect("secret");
    vec![
        ("webhook-id", id.to_owned()),
        ("webhook-timestamp", timestamp.to_string()),
        (
            "webhook-signature",
            sign(&secrets, id, timestamp, body.as_bytes()),
        ),
        ("content-type", "application/json".to_owned()),
    ]
}

async fn server_records_responses_once(db: &TestDb) {
    let dir = Scratch::new();
    dir.write("config/jalin.toml", &format!(
        "[tracking]\nbase_url = \"http://127.0.0.1\"\nsecret_env = \"JALIN_TEST_NO_SUCH_SECRET\"\nkey_file = \"{}\"\n",
        dir.path("tracking.key").display()
    ));
    let (customer, message) = setup(db).await;
    let settings = Settings::load(&dir.path("config")).expect("settings");
    let keys = wiring::tracking_keys(&settings).expect("keys");
    let port = free_port();
    let _server = Proc(
        std::process::Command::new(jalin_bin())
            .args([
                "--config",
                dir.path("config").to_str().expect("utf-8"),
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .env("JALIN_DATABASE_URL", &db.url)
            .env("JALIN_HOOK_SECRET_BOUNCE", SECRET)
            .current_dir(&dir.0)
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("jalin serve"),
    );
    wait_port(port).await;
    let base = format!("http://127.0.0.1:{port}");
    let urls = TrackingUrls::new(&base, keys);
    jalin_channels::install_crypto_provider();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");

    // Open pixel.
    let r = http.get(urls.open(message)).send().await.expect("open");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/gif");
    assert_eq!(&r.bytes().await.expect("gif")[..6], b"GIF89a");
    assert_eq!(events(db, "email.opened").await, 1);

    // Click: a redirect to exactly the signed URL.
    let target = "https://kayujaya.example/p/CUS-SET-4?utm_campaign=win-back";
    let r = http
        .get(urls.click(message, target))
        .send()
        .await
        .expect("click");
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], target);
    assert_eq!(events(db, "email.clicked").await, 1);
    assert_eq!(
        db.text("SELECT link FROM events WHERE event_type = 'email.clicked'")
            .await
            .as_deref(),
        Some(target)
    );

    // A tampered token: 404 problem, nothing recorded.
    let good = urls.click(message, target);
    let mut bad = good.clone().into_bytes();
    let i = bad.len() - 3;
    bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
    let r = http
        .get(String::from_utf8(bad).expect("utf-8"))
        .send()
        .await
        .expect("tampered");
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    assert_eq!(events(db, "email.clicked").await, 1);
    // An open token is not a click token.
    let r = http
        .get(urls.open(message).replace("/t/o/", "/t/c/"))
        .send()
        .await
        .expect("wrong purpose");
    assert_eq!(r.status(), 404);

    // Unsubscribe: a page in Indonesian with the name escaped, then one click.
    let r = http
        .get(urls.unsubscribe(message))
        .send()
        .await
        .expect("page");
    assert_eq!(r.status(), 200);
    let page = r.text().await.expect("html");
    assert!(
        page.contains("Berhenti berlangganan") && page.contains("Siti &lt;b&gt;Aminah&lt;/b&gt;"),
        "{page}"
    );
    for _ in 0..2 {
        let r = http
            .post(urls.unsubscribe(message))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click")
            .send()
            .await
            .expect("one-click");
        assert_eq!(r.status(), 200);
    }
    assert_eq!(events(db, "email.unsubscribed").await, 1, "twice is once");
    assert_eq!(db.scalar(&format!("SELECT CAST(CASE WHEN opted_in THEN 1 ELSE 0 END AS BIGINT) FROM consents WHERE customer_id = {customer} AND channel = 'email'")).await, 0);
    assert_eq!(
        db.scalar(&format!(
            "SELECT COUNT(*) FROM consent_history WHERE customer_id = {customer}"
        ))
        .await,
        1
    );

    // Bounce webhook: unsigned, stale, oversized and malformed requests change nothing.
    let hook = format!("{base}/hooks/email/bounce");
    let body = format!(
        r#"{{"email": "siti@example.co.id", "type": "hard", "status": "5.1.1", "message_id": {message}}}"#
    );
    let now = chrono::Utc::now().timestamp();
    let r = http
        .post(&hook)
        .body(body.clone())
        .send()
        .await
        .expect("unsigned");
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let mut req = http.post(&hook).body(body.clone());
    for (k, v) in signed("msg_stale", now - 600, &body) {
        req = req.header(k, v);
    }
    assert_eq!(req.send().await.expect("stale").status(), 401);
    let mut req = http.post(&hook).body(body.replace("5.1.1", "5.1.2"));
    for (k, v) in signed("msg_forged", now, &body) {
        req = req.header(k, v);
    }
    assert_eq!(
        req.send().await.expect("forged").status(),
        401,
        "signature over another body"
    );
    let huge = format!(
        r#"{{"email": "x@example.co.id", "type": "hard", "diagnostic": "{}"}}"#,
        "x".repeat(70_000)
    );
    let mut req = http.post(&hook).body(huge.clone());
    for (k, v) in signed("msg_huge", now, &huge) {
        req = req.header(k, v);
    }
    let r = req.send().await.expect("huge");
    assert_eq!(r.status(), 413);
    let bad = r#"{"email": "siti@example.co.id", "type": "bouncy"}"#;
    let mut req = http.post(&hook).body(bad);
    for (k, v) in signed("msg_bad", now, bad) {
        req = req.header(k, v);
    }
    assert_eq!(req.send().await.expect("bad").status(), 422);
    assert_eq!(events(db, "email.bounced").await, 0);
    assert_eq!(db.count("suppressions").await, 0);

    // A signed hard bounce suppresses the address; its replay records nothing new.
    for expected in ["Suppressed", "Duplicate"] {
        let mut req = http.post(&hook).body(body.clone());
        for (k, v) in signed("msg_bounce_1", now, &body) {
            req = req.header(k, v);
        }
        let r = req.send().await.expect("bounce");
        assert_eq!(r.status(), 200);
        let answer: serde_json::Value = r.json().await.expect("json");
        assert_eq!(answer["effect"], expected);
    }
    assert_eq!(events(db, "email.bounced").await, 1);
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM suppressions WHERE address = 'siti@example.co.id'")
            .await,
        1
    );

    // Health, metrics, OpenAPI; unknown paths are problems too.
    assert_eq!(
        http.get(format!("{base}/healthz"))
            .send()
            .await
            .expect("health")
            .status(),
        200
    );
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("jalin_opens_total 1") && metrics.contains("jalin_clicks_total 1"),
        "{metrics}"
    );
    let doc: serde_json::Value = http
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .expect("openapi")
        .json()
        .await
        .expect("json");
    assert!(
        doc["paths"]["/hooks/email/bounce"]["post"]["responses"]["401"].is_object(),
        "{doc}"
    );
    let r = http.get(format!("{base}/nope")).send().await.expect("404");
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
}
both_backends!(
    server_records_opens_clicks_unsubscribes_and_bounces_once,
    server_records_responses_once
);
