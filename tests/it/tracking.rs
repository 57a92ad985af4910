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
        "INSERT INTO outbox (run_id, campaign, kind, customer_id, channel, variant, status, address, offer_code, created_at, sent_at) VALUES ($1, 'win-back', 'marketing', $2, 'email', 'b', 'sent', 'siti@example.co.id', 'KJ-TEST1-CODE2', 0, $3) RETURNING id")
        .bind(run).bind(customer).bind(chrono::Utc::now().timestamp() - 3600).fetch_one(pool).await).expect("outbox");
    with_pool!(&db.store, pool => sqlx::query(
        "INSERT INTO offer_codes (code, campaign, customer_id, outbox_id, percent, valid_until) VALUES ('KJ-TEST1-CODE2', 'win-back', $1, $2, 10, $3)")
        .bind(customer).bind(message).bind(chrono::Utc::now().timestamp() + 86_400).execute(pool).await.map(|_| ())).expect("code");
    (customer, message)
}

/// Waits until every staged hit is in `events`: on SQLite a burst of hits is staged and moved
/// into `events` once the server has been quiet for a moment (PostgreSQL writes them straight
/// in).
async fn settled(db: &TestDb) {
    if !matches!(db.store, jalin_engine::store::Store::Sqlite(_)) {
        return;
    }
    for _ in 0..500 {
        if db.scalar("SELECT COUNT(*) FROM staged_hits").await == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("hits still staged five seconds after the last one");
}

/// The writer's count of hits moved out of staging, once it reaches `at_least` (the count
/// is bumped just after the merge commits), or after a second.
async fn merged(writer: &jalin_engine::hits::HitWriter, at_least: u64) -> u64 {
    for _ in 0..100 {
        if writer.merged() >= at_least {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    writer.merged()
}

async fn events(db: &TestDb, kind: &str) -> i64 {
    settled(db).await;
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

/// `config/jalin.toml` for a server test: a generated tracking key in the scratch folder, then
/// `extra` sections.
fn tracking_config(dir: &Scratch, extra: &str) {
    dir.write(
        "config/jalin.toml",
        &format!(
            "[tracking]\nbase_url = \"http://127.0.0.1\"\nsecret_env = \"JALIN_TEST_NO_SUCH_SECRET\"\nkey_file = \"{}\"\n\n{extra}",
            dir.path("tracking.key").display()
        ),
    );
}

/// `jalin serve` on `db` with the scratch folder's config and `env`, once it listens.
async fn serve(db: &TestDb, dir: &Scratch, env: &[(&str, &str)]) -> (Proc, u16) {
    let port = free_port();
    let mut cmd = std::process::Command::new(jalin_bin());
    cmd.args([
        "--config",
        dir.path("config").to_str().expect("utf-8"),
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
    ])
    .env("JALIN_DATABASE_URL", &db.url)
    .current_dir(&dir.0)
    .stderr(std::process::Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let server = Proc(cmd.spawn().expect("jalin serve"));
    wait_port(port).await;
    (server, port)
}

async fn server_records_responses_once(db: &TestDb) {
    let dir = Scratch::new();
    tracking_config(&dir, "");
    // The campaign's goal window is what attribution reads.
    dir.write(
        "config/campaigns/win-back.toml",
        "segment = \"lapsed\"\nchannels = [\"email\"]\ntemplate = \"win-back\"\ngoal = { event = \"order.placed\", within_days = 30 }\n[schedule]\nmanual = true\n",
    );
    let (customer, message) = setup(db).await;
    let settings = Settings::load(&dir.path("config")).expect("settings");
    let keys = wiring::tracking_keys(&settings).expect("keys");
    let (_server, port) = serve(
        db,
        &dir,
        &[
            ("JALIN_HOOK_SECRET_BOUNCE", SECRET),
            ("JALIN_HOOK_SECRET_ORDERS", SECRET),
            ("JALIN_HOOK_SECRET_CALL_CENTER", SECRET),
        ],
    )
    .await;
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
    let mut req = http.post(&hook).body(body.clone());
    for (k, v) in signed("msg_form", now, &body) {
        req = req.header(
            k,
            if k == "content-type" {
                "application/x-www-form-urlencoded".to_owned()
            } else {
                v
            },
        );
    }
    assert_eq!(
        req.send().await.expect("form").status(),
        415,
        "wrong content type"
    );
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

    // An order placed with the code, an hour after the message: attributed to the campaign and
    // variant, the code redeemed, points earned; the replay changes nothing.
    let orders = format!("{base}/hooks/orders");
    let order = r#"{"type": "order.placed", "timestamp": "2026-11-22T10:00:00Z", "data": {"event": "order.placed", "order": "SO-9", "customer": "C1", "value": 1250000000, "offer_code": "KJ-TEST1-CODE2"}}"#;
    for round in 0..2 {
        let mut req = http.post(&orders).body(order);
        for (k, v) in signed("msg_order_9", now, order) {
            req = req.header(k, v);
        }
        let r = req.send().await.expect("order");
        assert_eq!(r.status(), 200);
        let effect: serde_json::Value = r.json().await.expect("json");
        assert_eq!(effect["recorded"], round == 0, "{effect}");
        if round == 0 {
            assert_eq!(
                effect["attributed_to"],
                serde_json::json!(["win-back", "b"]),
                "{effect}"
            );
            assert_eq!(effect["redeemed"], "KJ-TEST1-CODE2");
            assert_eq!(
                effect["points"], 1250,
                "1 point per Rp 10,000 of Rp 12,500,000"
            );
        }
    }
    assert_eq!(events(db, "conversion.attributed").await, 1);
    assert_eq!(
        db.scalar("SELECT CAST(SUM(points) AS BIGINT) FROM loyalty_ledger")
            .await,
        1250
    );
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM offer_codes WHERE redeemed_at IS NOT NULL")
            .await,
        1
    );
    let shipped = r#"{"event": "order.status_changed", "order": "SO-9", "status": "shipped"}"#;
    let mut req = http.post(&orders).body(shipped);
    for (k, v) in signed("msg_order_9_shipped", now, shipped) {
        req = req.header(k, v);
    }
    assert_eq!(req.send().await.expect("status").status(), 200);
    assert_eq!(
        db.text("SELECT status FROM orders WHERE external_ref = 'SO-9'")
            .await
            .as_deref(),
        Some("shipped")
    );
    let unknown = r#"{"event": "order.status_changed", "order": "SO-404", "status": "shipped"}"#;
    let mut req = http.post(&orders).body(unknown);
    for (k, v) in signed("msg_order_404", now, unknown) {
        req = req.header(k, v);
    }
    assert_eq!(req.send().await.expect("unknown order").status(), 422);

    // The call center: a complaint opened pauses marketing (an open complaint row), its replay
    // records nothing, resolving closes it; a bad severity is refused.
    let calls = format!("{base}/hooks/call-center");
    let post = async |id: &str, body: &str| {
        let mut req = http.post(&calls).body(body.to_owned());
        for (k, v) in signed(id, now, body) {
            req = req.header(k, v);
        }
        req.send().await.expect("call-center").status().as_u16()
    };
    let opened = r#"{"event": "complaint.opened", "customer": "C1", "complaint": "CMP-9", "category": "late_delivery", "severity": "high", "summary": "Sofa two weeks late"}"#;
    assert_eq!(post("msg_call_1", opened).await, 200);
    assert_eq!(post("msg_call_1", opened).await, 200);
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM complaints WHERE resolved_at IS NULL")
            .await,
        1
    );
    assert_eq!(
        events(db, "complaint.opened").await,
        1,
        "the replay recorded nothing"
    );
    let resolved = r#"{"event": "complaint.resolved", "customer": "C1", "complaint": "CMP-9"}"#;
    assert_eq!(post("msg_call_2", resolved).await, 200);
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM complaints WHERE resolved_at IS NULL")
            .await,
        0
    );
    let bad = r#"{"event": "complaint.opened", "customer": "C1", "complaint": "CMP-10", "severity": "apocalyptic"}"#;
    assert_eq!(post("msg_call_3", bad).await, 422);
    assert_eq!(db.count("complaints").await, 1);

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

const TWILIO_TOKEN: &str = "twilio-test-auth-token";
const TWILIO_URL: &str = "https://jalin.example/hooks/sms/twilio";

/// Twilio's scheme, written out independently of the server's: base64 HMAC-SHA1 of the URL
/// and the sorted name/value pairs.
fn twilio_signed(params: &[(&str, &str)]) -> (String, String) {
    use base64::Engine as _;
    use hmac::{KeyInit, Mac};
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut data = TWILIO_URL.to_owned();
    for (k, v) in &sorted {
        data.push_str(k);
        data.push_str(v);
    }
    let mut mac =
        <hmac::Hmac<sha1::Sha1> as KeyInit>::new_from_slice(TWILIO_TOKEN.as_bytes()).expect("key");
    mac.update(data.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter())
        .finish();
    (body, signature)
}

async fn twilio_receipts_and_stop(db: &TestDb) {
    let dir = Scratch::new();
    tracking_config(
        &dir,
        &format!(
            "[sms.twilio]\naccount_sid = \"AC00000000000000000000000000000000\"\nauth_token_env = \"JALIN_TEST_TWILIO_TOKEN\"\nstatus_callback = \"{TWILIO_URL}\"\n"
        ),
    );
    let phone = "+6281234567890";
    let customer: i64 = with_pool!(&db.store, pool => sqlx::query_scalar(
        "INSERT INTO customers (external_ref, kind, name, phone, locale, time_zone, created_at) VALUES ('C7', 'consumer', 'Budi', $1, 'id', 'Asia/Jakarta', 0) RETURNING id")
        .bind(phone).fetch_one(pool).await).expect("customer");
    with_pool!(&db.store, pool => sqlx::query(
        "INSERT INTO consents (customer_id, channel, opted_in, source, changed_at) VALUES ($1, 'sms', TRUE, 'test', 0)")
        .bind(customer).execute(pool).await.map(|_| ())).expect("consent");
    for (sid, number) in [("SM0001", phone), ("SM0002", "+6289999999999")] {
        let run: i64 = with_pool!(&db.store, pool => sqlx::query_scalar(
            "INSERT INTO campaign_runs (campaign, trigger_key, kind, scheduled_for, created_at, status) VALUES ('order-status', $1, 'transactional', 0, 0, 'planned') RETURNING id")
            .bind(format!("send:{sid}")).fetch_one(pool).await).expect("run");
        with_pool!(&db.store, pool => sqlx::query(
            "INSERT INTO outbox (run_id, campaign, kind, customer_id, channel, variant, status, address, provider_id, created_at, sent_at) VALUES ($1, 'order-status', 'transactional', $2, 'sms', 'a', 'sent', $3, $4, 0, 0)")
            .bind(run).bind(customer).bind(number).bind(sid).execute(pool).await.map(|_| ())).expect("outbox");
    }
    let (_server, port) = serve(db, &dir, &[("JALIN_TEST_TWILIO_TOKEN", TWILIO_TOKEN)]).await;
    let hook = format!("http://127.0.0.1:{port}/hooks/sms/twilio");
    jalin_channels::install_crypto_provider();
    let http = reqwest::Client::new();
    let post =
        |params: Vec<(&'static str, &'static str)>, forge: bool, content_type: &'static str| {
            let (body, mut signature) = twilio_signed(&params);
            if forge {
                signature = format!("x{}", &signature[1..]);
            }
            http.post(&hook)
                .header("content-type", content_type)
                .header("x-twilio-signature", signature)
                .body(body)
                .send()
        };
    let form = "application/x-www-form-urlencoded";
    let delivered = vec![
        ("MessageSid", "SM0001"),
        ("MessageStatus", "delivered"),
        ("To", "+6281234567890"),
        ("AccountSid", "AC00000000000000000000000000000000"),
    ];
    // Forged signature and wrong content type: refused, nothing recorded.
    assert_eq!(
        post(delivered.clone(), true, form)
            .await
            .expect("post")
            .status(),
        401
    );
    assert_eq!(
        post(delivered.clone(), false, "application/json")
            .await
            .expect("post")
            .status(),
        415
    );
    assert_eq!(events(db, "sms.delivered").await, 0);
    // A delivery receipt, then the same again (Twilio retries): one event.
    for _ in 0..2 {
        assert_eq!(
            post(delivered.clone(), false, form)
                .await
                .expect("post")
                .status(),
            204
        );
    }
    assert_eq!(events(db, "sms.delivered").await, 1);
    // Unknown destination: failed and the number suppressed.
    let failed = vec![
        ("MessageSid", "SM0002"),
        ("MessageStatus", "undelivered"),
        ("ErrorCode", "30005"),
    ];
    assert_eq!(post(failed, false, form).await.expect("post").status(), 204);
    assert_eq!(events(db, "sms.failed").await, 1);
    assert_eq!(
        db.scalar(
            "SELECT COUNT(*) FROM suppressions WHERE channel = 'sms' AND address = '+6289999999999'"
        )
        .await,
        1
    );
    // A question is kept for the call center; BERHENTI withdraws SMS consent.
    let question = vec![
        ("MessageSid", "SMin0001"),
        ("From", "+6281234567890"),
        ("Body", "Kapan pesanan saya dikirim?"),
    ];
    let r = post(question, false, form).await.expect("post");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/xml");
    assert_eq!(events(db, "sms.inbound").await, 1);
    let stop = vec![
        ("MessageSid", "SMin0002"),
        ("From", "+6281234567890"),
        ("Body", "BERHENTI"),
    ];
    assert_eq!(post(stop, false, form).await.expect("post").status(), 200);
    assert_eq!(events(db, "sms.unsubscribed").await, 1);
    let opted_in = db.scalar(&format!("SELECT COUNT(*) FROM consents WHERE customer_id = {customer} AND channel = 'sms' AND opted_in")).await;
    assert_eq!(opted_in, 0);
    // Without a sid the form is not a Twilio callback.
    assert_eq!(
        post(
            vec![("From", "+6281234567890"), ("Body", "STOP")],
            false,
            form
        )
        .await
        .expect("post")
        .status(),
        422
    );
}
both_backends!(twilio, twilio_receipts_and_stop);

const KANNEL_KEY: &str = "kannel-mo-key-0123456789";

async fn kannel_reports_and_stop(db: &TestDb) {
    let dir = Scratch::new();
    tracking_config(&dir, "");
    let settings = Settings::load(&dir.path("config")).expect("settings");
    let keys = wiring::tracking_keys(&settings).expect("keys");
    let phone = "+6281298765432";
    let customer: i64 = with_pool!(&db.store, pool => sqlx::query_scalar(
        "INSERT INTO customers (external_ref, kind, name, phone, locale, time_zone, created_at) VALUES ('C8', 'consumer', 'Dewi', $1, 'id', 'Asia/Jakarta', 0) RETURNING id")
        .bind(phone).fetch_one(pool).await).expect("customer");
    with_pool!(&db.store, pool => sqlx::query(
        "INSERT INTO consents (customer_id, channel, opted_in, source, changed_at) VALUES ($1, 'sms', TRUE, 'test', 0)")
        .bind(customer).execute(pool).await.map(|_| ())).expect("consent");
    let run: i64 = with_pool!(&db.store, pool => sqlx::query_scalar(
        "INSERT INTO campaign_runs (campaign, trigger_key, kind, scheduled_for, created_at, status) VALUES ('order-status', 'send:k', 'transactional', 0, 0, 'planned') RETURNING id")
        .fetch_one(pool).await).expect("run");
    let message: i64 = with_pool!(&db.store, pool => sqlx::query_scalar(
        "INSERT INTO outbox (run_id, campaign, kind, customer_id, channel, variant, status, address, created_at, sent_at) VALUES ($1, 'order-status', 'transactional', $2, 'sms', 'a', 'sent', $3, 0, 0) RETURNING id")
        .bind(run).bind(customer).bind(phone).fetch_one(pool).await).expect("outbox");
    // The Kannel channel reports the message's own id as the provider's.
    with_pool!(&db.store, pool => sqlx::query("UPDATE outbox SET provider_id = CAST(id AS TEXT)")
        .execute(pool).await.map(|_| ()))
    .expect("provider id");
    let (_server, port) = serve(db, &dir, &[("JALIN_HOOK_SECRET_KANNEL", KANNEL_KEY)]).await;
    jalin_channels::install_crypto_provider();
    let http = reqwest::Client::new();
    let hook = format!("http://127.0.0.1:{port}/hooks/sms/kannel");
    let get = |query: Vec<(&'static str, String)>| http.get(&hook).query(&query).send();
    use jalin_channels::tracking::Purpose;
    let sig = keys.sign(Purpose::Receipt, message, None);
    let report = |sig: String, status: &'static str| {
        vec![
            ("id", message.to_string()),
            ("sig", sig),
            ("status", status.to_owned()),
            ("to", phone.to_owned()),
            ("reply", "ACK".to_owned()),
        ]
    };
    // A forged sig, a token for another message, or a token for another purpose: refused.
    let forged = format!("{}x", &sig[..sig.len() - 1]);
    assert_eq!(get(report(forged, "1")).await.expect("get").status(), 401);
    assert_eq!(
        get(report(keys.sign(Purpose::Receipt, message + 1, None), "1"))
            .await
            .expect("get")
            .status(),
        401
    );
    assert_eq!(
        get(report(keys.sign(Purpose::Open, message, None), "1"))
            .await
            .expect("get")
            .status(),
        401
    );
    // Submitted (8) is not final; delivered (1) is recorded once however often Kannel retries.
    assert_eq!(
        get(report(sig.clone(), "8")).await.expect("get").status(),
        204
    );
    for _ in 0..2 {
        assert_eq!(
            get(report(sig.clone(), "1")).await.expect("get").status(),
            204
        );
    }
    assert_eq!(events(db, "sms.delivered").await, 1);
    assert_eq!(
        get(report(sig.clone(), "99")).await.expect("get").status(),
        422
    );
    // Incoming messages need the sms-service key.
    let mo = |key: &'static str, text: &'static str| {
        vec![
            ("key", key.to_owned()),
            ("from", phone.to_owned()),
            ("text", text.to_owned()),
            ("ts", "1795400000".to_owned()),
        ]
    };
    assert_eq!(
        get(mo("wrong-key-0123456789", "STOP"))
            .await
            .expect("get")
            .status(),
        401
    );
    assert_eq!(events(db, "sms.unsubscribed").await, 0);
    for _ in 0..2 {
        assert_eq!(
            get(mo(KANNEL_KEY, "berhenti")).await.expect("get").status(),
            204
        );
    }
    assert_eq!(events(db, "sms.unsubscribed").await, 1);
    let opted_in = db.scalar(&format!("SELECT COUNT(*) FROM consents WHERE customer_id = {customer} AND channel = 'sms' AND opted_in")).await;
    assert_eq!(opted_in, 0);
}
both_backends!(kannel, kannel_reports_and_stop);

async fn raw_dsn_bounce(db: &TestDb) {
    let dir = Scratch::new();
    tracking_config(&dir, "");
    let (_customer, message) = setup(db).await;
    let (_server, port) = serve(db, &dir, &[("JALIN_HOOK_SECRET_BOUNCE", SECRET)]).await;
    jalin_channels::install_crypto_provider();
    let http = reqwest::Client::new();
    let hook = format!("http://127.0.0.1:{port}/hooks/email/bounce");
    // A notification as a mail server writes it (RFC 3464 §6 shape): the report, the
    // per-recipient block, and the returned headers with our Message-ID.
    let dsn = format!(
        "From: MAILER-DAEMON@mx.example.co.id\r\nTo: bounces@kayujaya.example\r\nSubject: Undelivered Mail Returned to Sender\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B1\"\r\n\r\n\
         --B1\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n\
         --B1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.co.id\r\nArrival-Date: Mon, 23 Nov 2026 10:00:00 +0700\r\n\r\n\
         Final-Recipient: rfc822; siti@example.co.id\r\nOriginal-Recipient: rfc822;siti@example.co.id\r\nAction: failed\r\nStatus: 5.1.1\r\n\
         Remote-MTA: dns; mx.example.co.id\r\nDiagnostic-Code: smtp; 550 5.1.1 <siti@example.co.id>: Recipient address rejected: User unknown\r\n\r\n\
         --B1\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <{message}@kayujaya.example>\r\nSubject: Kami rindu Anda\r\n\r\n--B1--\r\n"
    );
    let post = |body: String, signed_ok: bool| {
        let now = chrono::Utc::now().timestamp();
        let mut req = http.post(&hook).header(
            "content-type",
            "multipart/report; report-type=delivery-status; boundary=\"B1\"",
        );
        if signed_ok {
            for (k, v) in signed("msg_dsn_1", now, &body) {
                if k != "content-type" {
                    req = req.header(k, v);
                }
            }
        }
        req.body(body).send()
    };
    assert_eq!(post(dsn.clone(), false).await.expect("post").status(), 401);
    assert_eq!(events(db, "email.bounced").await, 0);
    for _ in 0..2 {
        let r = post(dsn.clone(), true).await.expect("post");
        assert_eq!(r.status(), 200);
    }
    assert_eq!(
        events(db, "email.bounced").await,
        1,
        "a replay records nothing new"
    );
    assert_eq!(db.scalar("SELECT COUNT(*) FROM suppressions WHERE channel = 'email' AND address = 'siti@example.co.id'").await, 1);
    assert_eq!(db.scalar(&format!("SELECT COUNT(*) FROM events WHERE event_type = 'email.bounced' AND message_id = {message}")).await, 1);
    // A report of a delivery is not a bounce.
    let delivered = dsn
        .replace("Action: failed", "Action: delivered")
        .replace("Status: 5.1.1", "Status: 2.0.0");
    let now = chrono::Utc::now().timestamp();
    let mut req = http.post(&hook).header(
        "content-type",
        "multipart/report; report-type=delivery-status",
    );
    for (k, v) in signed("msg_dsn_2", now, &delivered) {
        if k != "content-type" {
            req = req.header(k, v);
        }
    }
    assert_eq!(
        req.body(delivered).send().await.expect("post").status(),
        422
    );
}
both_backends!(dsn, raw_dsn_bounce);

/// Opens and clicks fired concurrently are grouped into few transactions, and each is
/// stored exactly once: repeats and unknown messages are reported, not written.
async fn hits_batched(db: &TestDb) {
    use jalin_engine::hits::{Hit, HitWriter, Recorded};
    const N: i64 = 300;
    db.exec(&format!(
        "INSERT INTO customers (external_ref, kind, name, email, locale, time_zone, created_at)
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {N})
         SELECT 'H' || i, 'consumer', 'Pelanggan', 'p' || i || '@example.co.id', 'id', 'Asia/Jakarta', 0 FROM n"
    ))
    .await;
    db.exec(
        "INSERT INTO campaign_runs (campaign, trigger_key, kind, scheduled_for, created_at, status)
         VALUES ('promo', 'send:1', 'marketing', 0, 0, 'planned')",
    )
    .await;
    // Every customer an email; the first also an SMS.
    db.exec(
        "INSERT INTO outbox (run_id, campaign, kind, customer_id, channel, variant, status, created_at)
         SELECT r.id, 'promo', 'marketing', c.id, 'email', 'a', 'sent', 0 FROM customers c, campaign_runs r
         UNION ALL
         SELECT r.id, 'promo', 'marketing', MIN(c.id), 'sms', 'a', 'sent', 0 FROM customers c, campaign_runs r GROUP BY r.id",
    )
    .await;
    let emails: Vec<i64> = with_pool!(&db.store, pool => sqlx::query_scalar(
        "SELECT id FROM outbox WHERE channel = 'email' ORDER BY id").fetch_all(pool).await)
    .expect("messages");
    let sms: i64 = db
        .scalar("SELECT id FROM outbox WHERE channel = 'sms'")
        .await;
    assert_eq!(emails.len() as i64, N);

    let writer = HitWriter::start(&db.store);
    let at = 1_700_000_000;
    let mut hits = Vec::new();
    for &id in &emails {
        // Each open twice (the second a repeat), two different links, one of them twice.
        hits.push((id, Hit::Open));
        hits.push((id, Hit::Open));
        hits.push((id, Hit::Click("https://kayujaya.example/a".into())));
        hits.push((id, Hit::Click("https://kayujaya.example/b".into())));
        hits.push((id, Hit::Click("https://kayujaya.example/b".into())));
    }
    hits.push((sms, Hit::Click("https://kayujaya.example/s".into())));
    let unknown = emails.iter().max().copied().unwrap_or_default() + 1000;
    hits.push((unknown, Hit::Open));
    let total = hits.len() as u64;
    let tasks: Vec<_> = hits
        .into_iter()
        .map(|(id, hit)| {
            let w = writer.clone();
            tokio::spawn(async move { w.record(id, hit, at).await })
        })
        .collect();
    let (mut new, mut repeat, mut missing) = (0, 0, 0);
    for t in tasks {
        match t.await.expect("task").expect("recorded") {
            Recorded::New => new += 1,
            Recorded::Repeat => repeat += 1,
            Recorded::NoMessage => missing += 1,
        }
    }
    assert_eq!((new, repeat, missing), (3 * N + 1, 2 * N, 1));
    let sqlite = matches!(db.store, jalin_engine::store::Store::Sqlite(_));
    assert_eq!(events(db, "email.opened").await, N);
    assert_eq!(events(db, "email.clicked").await, 2 * N);
    assert_eq!(events(db, "sms.clicked").await, 1);
    let linked = db
        .scalar("SELECT COUNT(*) FROM events WHERE link = 'https://kayujaya.example/b' AND campaign = 'promo' AND occurred_at = 1700000000")
        .await;
    assert_eq!(linked, N);
    assert!(
        writer.batches() * 2 < total,
        "{} transactions for {total} hits: not batched",
        writer.batches()
    );
    // SQLite staged the burst and moved it into `events` (counted above); PostgreSQL has
    // nothing to merge.
    let merged = merged(&writer, 1).await;
    assert_eq!(merged > 0, sqlite, "{merged} hits merged");

    // The same burst again, now that every hit is in `events`: all repeats, nothing written,
    // whether a batch is staged (its keys looked up in `events`) or not.
    let again: Vec<_> = emails
        .iter()
        .flat_map(|&id| {
            [
                (id, Hit::Open),
                (id, Hit::Click("https://kayujaya.example/b".into())),
            ]
        })
        .map(|(id, hit)| {
            let w = writer.clone();
            tokio::spawn(async move { w.record(id, hit, at).await })
        })
        .collect();
    for t in again {
        assert_eq!(t.await.expect("task").expect("recorded"), Recorded::Repeat);
    }
    settled(db).await;
    assert_eq!(db.scalar("SELECT COUNT(*) FROM events").await, 3 * N + 1);
}
both_backends!(hit_batches, hits_batched);

/// Hits left staged by a crash are moved into `events` when the writer starts again, except a
/// hit whose customer was deleted meanwhile; the staging table is left empty. (Only SQLite
/// stages hits.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staged_hits_survive_a_restart() {
    use jalin_engine::hits::HitWriter;
    let db = TestDb::new(crate::common::Backend::Sqlite).await;
    let (customer, message) = setup(&db).await;
    db.exec(&format!(
        "INSERT INTO staged_hits (event_type, occurred_at, customer_id, campaign, message_id, link, idempotency_key)
         VALUES ('email.opened', 1700000000, {customer}, 'win-back', {message}, NULL, 'open:{message}:28333333'),
                ('email.clicked', 1700000040, {customer}, 'win-back', {message}, 'https://kayujaya.example/a', 'click:{message}:1:1700000040'),
                ('email.opened', 1700000000, {gone}, 'win-back', {message}, NULL, 'open:gone')",
        gone = customer + 1000
    ))
    .await;
    let writer = HitWriter::start(&db.store);
    settled(&db).await;
    assert_eq!(merged(&writer, 2).await, 2);
    assert_eq!(
        db.scalar(&format!(
            "SELECT COUNT(*) FROM events WHERE customer_id = {customer} AND message_id = {message}
               AND event_type IN ('email.opened', 'email.clicked') AND recorded_at = occurred_at"
        ))
        .await,
        2
    );
    assert_eq!(db.scalar("SELECT COUNT(*) FROM events").await, 2);
}

/// A stage larger than one step of a merge (1,024 hits) is moved in several transactions, and
/// every hit arrives once: none skipped at a step's edge, none moved twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_stage_moves_in_steps() {
    use jalin_engine::hits::HitWriter;
    const STAGED: i64 = 3000;
    let db = TestDb::new(crate::common::Backend::Sqlite).await;
    let (customer, message) = setup(&db).await;
    db.exec(&format!(
        "INSERT INTO staged_hits (event_type, occurred_at, customer_id, campaign, message_id, link, idempotency_key)
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {STAGED})
         SELECT 'email.opened', 1700000000 + 60 * ({STAGED} - i), {customer}, 'win-back', {message}, NULL, 'open:{message}:' || i FROM n"
    ))
    .await;
    let writer = HitWriter::start(&db.store);
    settled(&db).await;
    assert_eq!(merged(&writer, STAGED as u64).await, STAGED as u64);
    assert_eq!(
        db.scalar(
            "SELECT COUNT(DISTINCT idempotency_key) FROM events WHERE event_type = 'email.opened'"
        )
        .await,
        STAGED
    );
    assert_eq!(db.scalar("SELECT COUNT(*) FROM events").await, STAGED);
}
