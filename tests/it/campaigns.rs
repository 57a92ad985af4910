//! Campaigns end to end: planning into the outbox (consent, suppression, complaint pause, cap,
//! holdout, variants, offer codes), the queue on SQLite and Redis, delivery over a real SMTP
//! server with retries and permanent failures, triggers, two schedulers, and crash safety.

use crate::both_backends;
use crate::common::{Scratch, TestDb, jalin_bin};
use crate::support::{Proc, SmtpCapture};
use chrono::{DateTime, TimeZone, Utc};
use jalin_engine::campaigns::{Audience, PlanOptions, held_out};
use jalin_engine::clock::{Clock, FixedClock, SharedClock};
use jalin_engine::with_pool;
use jalin_templates::Links;
use jalin_workers::delivery::Delivery;
use jalin_workers::links::TrackingLinks;
use jalin_workers::project::Project;
use jalin_workers::queue::Queue;
use jalin_workers::scheduler::Planner;
use jalin_workers::settings::Settings;
use jalin_workers::wiring;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// 10:00 in Jakarta: outside quiet hours everywhere in Indonesia.
fn ten_am() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 3, 0, 0).unwrap()
}

const SEGMENT: &str = "[rule]\nfield = \"kind\"\nin = [\"consumer\", \"retailer\", \"distributor\", \"project_buyer\"]\n";

/// A config folder: one segment (everyone), one email+SMS template that needs
/// `customer.attributes.sales_rep`, and the given campaigns.
fn write_config(
    dir: &Scratch,
    smtp_port: Option<u16>,
    extra_toml: &str,
    campaigns: &[(&str, &str)],
) -> std::path::PathBuf {
    let smtp = smtp_port.map_or(String::new(), |p| {
        format!(
            "[email.smtp]\nhost = \"127.0.0.1\"\nport = {p}\nsecurity = \"none\"\npool_size = 4\n"
        )
    });
    dir.write(
        "config/jalin.toml",
        &format!(
            "[tracking]\nbase_url = \"https://t.example\"\nsecret_env = \"JALIN_TEST_NO_SUCH_SECRET\"\nkey_file = \"{}\"\n\n[outbox]\ndir = \"{}\"\n\n{smtp}\n{extra_toml}",
            dir.path("tracking.key").display(),
            dir.path("outbox").display()
        ),
    );
    dir.write("config/segments/everyone.toml", SEGMENT);
    for (locale, hello) in [("id", "Halo"), ("en", "Hello")] {
        dir.write(
            &format!("config/templates/hello/subject.{locale}.hbs"),
            &format!("{hello} {{{{first_name customer.name}}}}"),
        );
        dir.write(
            &format!("config/templates/hello/html.{locale}.hbs"),
            &format!("<p>{hello} {{{{customer.name}}}}, rep {{{{customer.attributes.sales_rep}}}}.</p><p><a href=\"{{{{link 'https://kayujaya.example/sale'}}}}\">Sale</a></p>{{{{#if offer}}}}<p>Code {{{{offer.code}}}}</p>{{{{/if}}}}"),
        );
        dir.write(
            &format!("config/templates/hello/sms.{locale}.hbs"),
            &format!(
                "{hello} {{{{first_name customer.name}}}} ({{{{customer.attributes.sales_rep}}}})"
            ),
        );
        dir.write(
            &format!("config/templates/hello/variants/b/subject.{locale}.hbs"),
            &format!("B: {hello} {{{{first_name customer.name}}}}"),
        );
        dir.write(
            &format!("config/templates/status/subject.{locale}.hbs"),
            "{{order.ref}}: {{order.status_label}}",
        );
        dir.write(
            &format!("config/templates/status/html.{locale}.hbs"),
            "<p>{{order.ref}} {{order.status_label}}</p>",
        );
    }
    dir.write(
        "config/templates/hello/template.toml",
        "description = \"test\"\nfallback_locale = \"id\"\nlayout = \"none\"\n",
    );
    dir.write(
        "config/templates/status/template.toml",
        "description = \"test\"\nfallback_locale = \"id\"\nlayout = \"none\"\n",
    );
    for (name, text) in campaigns {
        dir.write(&format!("config/campaigns/{name}.toml"), text);
    }
    dir.path("config")
}

/// One test customer.
struct Person {
    reference: &'static str,
    email: Option<&'static str>,
    phone: Option<&'static str>,
    consent: &'static [(&'static str, bool)],
    rep: bool,
    open_complaint: bool,
}

async fn add_people(db: &TestDb, people: &[Person]) -> BTreeMap<&'static str, i64> {
    let mut ids = BTreeMap::new();
    let t = ten_am().timestamp() - 86_400 * 400;
    for p in people {
        let attributes = if p.rep {
            r#"{"sales_rep":"Andi"}"#
        } else {
            "{}"
        };
        let id: i64 = with_pool!(&db.store, pool => {
            let sql = match db.backend() {
                crate::common::Backend::Postgres => "INSERT INTO customers (external_ref, kind, name, email, phone, locale, time_zone, created_at, attributes) VALUES ($1, 'consumer', $2, $3, $4, 'id', 'Asia/Jakarta', $5, CAST($6 AS JSONB)) RETURNING id",
                crate::common::Backend::Sqlite => "INSERT INTO customers (external_ref, kind, name, email, phone, locale, time_zone, created_at, attributes) VALUES ($1, 'consumer', $2, $3, $4, 'id', 'Asia/Jakarta', $5, $6) RETURNING id",
            };
            sqlx::query_scalar(sql).bind(p.reference).bind(format!("Budi {}", p.reference)).bind(p.email).bind(p.phone)
                .bind(t).bind(attributes).fetch_one(pool).await
        })
        .expect("insert customer");
        for (channel, opted_in) in p.consent {
            with_pool!(&db.store, pool => sqlx::query(
                "INSERT INTO consents (customer_id, channel, opted_in, source, changed_at) VALUES ($1, $2, $3, 'test', $4)")
                .bind(id).bind(*channel).bind(*opted_in).bind(t).execute(pool).await.map(|_| ()))
            .expect("consent");
        }
        if p.open_complaint {
            with_pool!(&db.store, pool => sqlx::query(
                "INSERT INTO complaints (external_ref, customer_id, category, severity, channel, opened_at) VALUES ($1, $2, 'late_delivery', 'high', 'phone', $3)")
                .bind(format!("CMP-{}", p.reference)).bind(id).bind(t).execute(pool).await.map(|_| ()))
            .expect("complaint");
        }
        ids.insert(p.reference, id);
    }
    ids
}

/// The planner and delivery of a config folder, on `db`, with a fixed clock.
struct Rig {
    project: Project,
    planner: Planner,
    delivery: Arc<Delivery>,
    queue: Queue,
    clock: Arc<FixedClock>,
}

impl Rig {
    /// Fires `campaign` for its whole segment at `at` under `key`, as `jalin send` does;
    /// `resume` plans a run that exists again.
    async fn send(
        &self,
        campaign: &jalin_engine::campaigns::Campaign,
        key: &str,
        at: DateTime<Utc>,
        resume: bool,
    ) -> jalin_workers::scheduler::Fired {
        self.planner
            .fire(campaign, key, at, Audience::Segment, None, resume, &|_| {})
            .await
            .expect("plan")
    }
}

async fn rig(db: &TestDb, config: &Path, queue_url: &str) -> Rig {
    rig_named(
        db,
        config,
        queue_url,
        &format!("jalin.test.{}", uuid::Uuid::new_v4().simple()),
    )
    .await
}

async fn rig_named(db: &TestDb, config: &Path, queue_url: &str, queue_name: &str) -> Rig {
    let settings = Settings::load(config).expect("settings");
    let keys = wiring::tracking_keys(&settings).expect("keys");
    let links: Arc<dyn Links> = Arc::new(TrackingLinks(
        jalin_channels::tracking::TrackingUrls::new(&settings.tracking.base_url, keys.clone()),
    ));
    let (project, errors) = Project::load_with(config, &links);
    assert!(errors.is_empty(), "{errors:?}");
    let queue = Queue::connect_named(queue_url, queue_name)
        .await
        .expect("queue");
    let clock = Arc::new(FixedClock::new(ten_am()));
    let shared: SharedClock = clock.clone();
    let channels = wiring::channels(&settings, Path::new(&settings.outbox.dir)).expect("channels");
    let delivery = wiring::delivery(
        db.store.clone(),
        &settings,
        Arc::new(project.templates.clone()),
        project.campaigns.clone(),
        channels,
        keys,
        shared.clone(),
    )
    .await
    .expect("delivery");
    let planner = Planner {
        store: db.store.clone(),
        segments: project.segments.clone(),
        campaigns: project.campaigns.clone(),
        queue: queue.clone(),
        options: PlanOptions {
            batch: 3,
            frequency_cap: Some((settings.marketing.cap_messages, settings.marketing.cap_days)),
            offer_salt: b"test-salt".to_vec(),
            lease_seconds: 60,
            ..PlanOptions::default()
        },
        clock: shared,
    };
    Rig {
        project,
        planner,
        delivery: Arc::new(delivery),
        queue,
        clock,
    }
}

async fn statuses(db: &TestDb, run: i64) -> BTreeMap<String, i64> {
    jalin_engine::campaigns::campaign_funnel(
        &db.store,
        &{
            db.text(&format!(
                "SELECT campaign FROM campaign_runs WHERE id = {run}"
            ))
            .await
            .expect("run")
        },
        Some(run),
    )
    .await
    .expect("funnel")
    .into_iter()
    .collect()
}

/// Runs a worker on the rig's queue until `done` holds or 30 s pass.
async fn work_until<F: AsyncFn() -> bool>(r: &Rig, done: F) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(r.queue.clone().work(
        format!("test-{}", uuid::Uuid::new_v4().simple()),
        2,
        r.delivery.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done().await {
        assert!(Instant::now() < deadline, "delivery did not finish in time");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), worker).await;
}

const WIN_BACK: &str = r#"
segment = "everyone"
channels = ["email", "sms"]
template = "hello"
offer = { percent = 10 }
[schedule]
manual = true
"#;

async fn plan_and_deliver(db: &TestDb, queue_url: &str) {
    let smtp = SmtpCapture::start();
    let dir = Scratch::new();
    let config = write_config(&dir, Some(smtp.port), "", &[("win-back", WIN_BACK)]);
    let ids = add_people(
        db,
        &[
            Person {
                reference: "mail",
                email: Some("ani@example.co.id"),
                phone: Some("+6281200000001"),
                consent: &[("email", true), ("sms", true)],
                rep: true,
                open_complaint: false,
            },
            Person {
                reference: "smsonly",
                email: Some("no-email-consent@example.co.id"),
                phone: Some("+6281200000002"),
                consent: &[("email", false), ("sms", true)],
                rep: true,
                open_complaint: false,
            },
            Person {
                reference: "noconsent",
                email: Some("x@example.co.id"),
                phone: Some("+6281200000003"),
                consent: &[],
                rep: true,
                open_complaint: false,
            },
            Person {
                reference: "complaint",
                email: Some("c@example.co.id"),
                phone: None,
                consent: &[("email", true)],
                rep: true,
                open_complaint: true,
            },
            Person {
                reference: "suppressed",
                email: Some("bounced@example.co.id"),
                phone: None,
                consent: &[("email", true)],
                rep: true,
                open_complaint: false,
            },
            Person {
                reference: "gone",
                email: Some("gone@example.co.id"),
                phone: None,
                consent: &[("email", true)],
                rep: true,
                open_complaint: false,
            },
            Person {
                reference: "later",
                email: Some("later@example.co.id"),
                phone: None,
                consent: &[("email", true)],
                rep: true,
                open_complaint: false,
            },
            Person {
                reference: "norep",
                email: Some("norep@example.co.id"),
                phone: None,
                consent: &[("email", true)],
                rep: false,
                open_complaint: false,
            },
        ],
    )
    .await;
    with_pool!(&db.store, pool => sqlx::query(
        "INSERT INTO suppressions (channel, address, reason, created_at) VALUES ('email', 'bounced@example.co.id', 'test', 0)")
        .execute(pool).await.map(|_| ()))
    .expect("suppress");
    let r = rig(db, &config, queue_url).await;
    let campaign = r.project.campaigns.get("win-back").expect("campaign");

    let fired = r.send(campaign, "send:1", ten_am(), false).await;
    let stats = fired.stats.expect("planned");
    assert_eq!(stats.audience, 8);
    assert_eq!(stats.paused_complaint, 1, "open complaint pauses marketing");
    assert_eq!(
        stats.unreachable, 2,
        "no consent anywhere, and a suppressed address"
    );
    assert_eq!(stats.queued, 5);
    assert_eq!(stats.by_channel.get("sms"), Some(&1), "email refused → SMS");
    assert_eq!(stats.by_channel.get("email"), Some(&4));
    assert_eq!(stats.jobs, 2, "5 rows in batches of 3");

    // The same trigger key again starts nothing and writes nothing.
    let again = r.send(campaign, "send:1", ten_am(), false).await;
    assert!(again.stats.is_none());
    assert_eq!(again.run_id, fired.run_id);
    // Resuming the planned run writes no second row either.
    let resumed = r.send(campaign, "send:1", ten_am(), true).await;
    assert_eq!(resumed.stats.expect("replanned").existing, 5);
    assert_eq!(db.count("outbox").await, 5);
    assert_eq!(
        db.count("offer_codes").await,
        5,
        "one code per queued message"
    );

    let run = fired.run_id;
    work_until(&r, async || {
        let s = statuses(db, run).await;
        s.get("sent").copied().unwrap_or(0) + s.get("failed").copied().unwrap_or(0) >= 3
            && s.get("queued").copied().unwrap_or(0) == 1
            && !s.contains_key("sending")
    })
    .await;
    let s = statuses(db, run).await;
    assert_eq!(s.get("sent"), Some(&2), "{s:?}");
    assert_eq!(
        s.get("failed"),
        Some(&2),
        "550 and the render failure: {s:?}"
    );
    assert_eq!(s.get("queued"), Some(&1), "451 waits for a retry: {s:?}");

    // What each row says.
    let row = |reference: &str| {
        let id = ids[reference];
        async move {
            db.text(&format!("SELECT status || '|' || COALESCE(error_code, '') || '|' || COALESCE(error, '') FROM outbox WHERE customer_id = {id}"))
                .await
                .expect("row")
        }
    };
    assert!(
        row("gone").await.starts_with("failed|5.1.1|"),
        "{}",
        row("gone").await
    );
    assert!(
        row("norep").await.starts_with("failed|render|"),
        "{}",
        row("norep").await
    );
    assert!(
        row("norep").await.contains("rep"),
        "the reason names the missing field"
    );
    assert!(
        row("later").await.starts_with("queued||"),
        "{}",
        row("later").await
    );
    let retry_at = db
        .scalar(&format!(
            "SELECT not_before FROM outbox WHERE customer_id = {}",
            ids["later"]
        ))
        .await;
    let wait = retry_at - ten_am().timestamp();
    assert!(
        (45..=75).contains(&wait),
        "first retry after 60 s ± 25%: {wait}"
    );
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM suppressions WHERE address = 'gone@example.co.id'")
            .await,
        1,
        "hard bounce suppresses"
    );
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM events WHERE event_type = 'message.sent'")
            .await,
        2
    );
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM events WHERE event_type = 'message.failed'")
            .await,
        2
    );

    // The SMTP server got exactly the email to the consented address, with a signed link, the
    // open pixel, one-click unsubscribe and the recipient's code.
    let mails = smtp.wait_for(1);
    assert_eq!(mails.len(), 1);
    let text = String::from_utf8_lossy(&mails[0]).replace("=\r\n", "");
    assert!(
        text.contains("To: \"Budi mail\" <ani@example.co.id>")
            || text.contains("ani@example.co.id"),
        "{text}"
    );
    assert!(text.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
    assert!(text.contains("https://t.example/t/c/"), "tracked link");
    assert!(text.contains("https://t.example/t/o/"), "open pixel");
    let code = db
        .text(&format!(
            "SELECT offer_code FROM outbox WHERE customer_id = {}",
            ids["mail"]
        ))
        .await
        .expect("code");
    assert!(text.contains(&code), "the offer code {code} is in the mail");
    // The SMS went to the outbox file (no gateway configured).
    let sms = std::fs::read_to_string(dir.path("outbox/sms.jsonl")).expect("sms outbox");
    assert_eq!(sms.lines().count(), 1);
    assert!(
        sms.contains("+6281200000002") && sms.contains("(Andi)"),
        "{sms}"
    );

    // Later, the retry goes out again and fails again with 451; after max attempts it is final.
    r.clock.advance(chrono::Duration::seconds(200));
    let pushed = r.planner.sweep().await.expect("sweep");
    assert_eq!(pushed, 1, "the due retry is queued again");
    work_until(&r, async || {
        db.scalar(&format!(
            "SELECT CAST(attempts AS BIGINT) FROM outbox WHERE customer_id = {}",
            ids["later"]
        ))
        .await
            >= 2
            && db
                .text(&format!(
                    "SELECT status FROM outbox WHERE customer_id = {}",
                    ids["later"]
                ))
                .await
                .as_deref()
                == Some("queued")
    })
    .await;

    // A second run within the cap window: the cap (2 per 7 days) stops nobody yet, a third does.
    let second = r.send(campaign, "send:2", ten_am(), false).await;
    assert_eq!(second.stats.expect("planned").capped, 0);
    let third = r.send(campaign, "send:3", ten_am(), false).await;
    let third = third.stats.expect("planned");
    assert_eq!(
        third.capped, 3,
        "mail, smsonly and later have 2 recent messages: {third:?}"
    );
}

both_backends!(
    plans_and_delivers_on_the_sqlite_queue,
    plan_and_deliver_sqlite_queue
);
async fn plan_and_deliver_sqlite_queue(db: &TestDb) {
    let q = format!("sqlite://{}", db.scratch.path("queue.db").display());
    plan_and_deliver(db, &q).await;
}

both_backends!(
    plans_and_delivers_on_the_redis_queue,
    plan_and_deliver_redis_queue
);
async fn plan_and_deliver_redis_queue(db: &TestDb) {
    plan_and_deliver(db, "redis://127.0.0.1:6379").await;
}

async fn holdout_variants_and_quiet_hours(db: &TestDb) {
    let dir = Scratch::new();
    let campaign = r#"
segment = "everyone"
channels = ["email"]
template = "hello"
holdout_percent = 20
variants = [{ name = "a", weight = 70 }, { name = "b", weight = 30 }]
[schedule]
manual = true
"#;
    let config = write_config(&dir, None, "", &[("ab", campaign)]);
    let people: Vec<Person> = (0..300)
        .map(|i| Person {
            reference: Box::leak(format!("P{i:04}").into_boxed_str()),
            email: Some(Box::leak(format!("p{i}@example.co.id").into_boxed_str())),
            phone: None,
            consent: &[("email", true)],
            rep: true,
            open_complaint: false,
        })
        .collect();
    let ids = add_people(db, &people).await;
    let r = rig(
        db,
        &config,
        &format!("sqlite://{}", db.scratch.path("q.db").display()),
    )
    .await;
    let c = r.project.campaigns.get("ab").expect("campaign");
    // 23:00 in Jakarta: quiet for everyone; messages wait for 08:00 local.
    r.clock
        .set(Utc.with_ymd_and_hms(2026, 6, 1, 16, 0, 0).unwrap());
    let stats = r
        .send(c, "send:x", r.clock.now(), false)
        .await
        .stats
        .expect("stats");
    let expected_held: u64 = ids.values().filter(|id| held_out("ab", **id, 20.0)).count() as u64;
    assert_eq!(stats.held_out, expected_held);
    assert!(
        (40..=80).contains(&stats.held_out),
        "about 20% of 300: {}",
        stats.held_out
    );
    assert_eq!(stats.deferred, stats.queued, "all in quiet hours");
    assert_eq!(stats.jobs, 0, "nothing is queued before 08:00");
    let b = stats.by_variant.get("b").copied().unwrap_or(0) as f64 / stats.queued as f64;
    assert!((0.2..0.4).contains(&b), "variant b share {b}");
    let earliest = db
        .scalar("SELECT MIN(not_before) FROM outbox WHERE status = 'queued'")
        .await;
    assert_eq!(
        earliest,
        Utc.with_ymd_and_hms(2026, 6, 2, 1, 0, 0)
            .unwrap()
            .timestamp(),
        "08:00 WIB"
    );
    // Re-planning assigns the same variants and holdout.
    let before: Vec<(i64, String)> = with_pool!(&db.store, pool => sqlx::query_as("SELECT customer_id, variant FROM outbox ORDER BY customer_id").fetch_all(pool).await).expect("rows");
    with_pool!(&db.store, pool => sqlx::query("DELETE FROM outbox").execute(pool).await.map(|_| ())).expect("clear");
    r.send(c, "send:x", r.clock.now(), true).await;
    let after: Vec<(i64, String)> = with_pool!(&db.store, pool => sqlx::query_as("SELECT customer_id, variant FROM outbox ORDER BY customer_id").fetch_all(pool).await).expect("rows");
    assert_eq!(before, after);
    // At 08:00 the sweep queues them.
    r.clock
        .set(Utc.with_ymd_and_hms(2026, 6, 2, 1, 0, 1).unwrap());
    assert_eq!(r.planner.sweep().await.expect("sweep"), stats.queued);
}
both_backends!(
    holdout_variants_and_quiet_hours_are_deterministic,
    holdout_variants_and_quiet_hours
);

const ORDER_STATUS: &str = r#"
kind = "transactional"
channels = ["email"]
template = "status"
[schedule]
trigger = "order.status_changed"
where = { status = "shipped" }
"#;

const ONCE: &str = r#"
segment = "everyone"
channels = ["email"]
template = "hello"
[schedule]
at = 2026-06-01T10:00:00+07:00
"#;

async fn schedulers_and_triggers(db: &TestDb) {
    let dir = Scratch::new();
    let config = write_config(
        &dir,
        None,
        "",
        &[("order-status", ORDER_STATUS), ("once", ONCE)],
    );
    let ids = add_people(
        db,
        &[
            Person {
                reference: "a",
                email: Some("a@example.co.id"),
                phone: None,
                consent: &[("email", true)],
                rep: true,
                open_complaint: false,
            },
            Person {
                reference: "b",
                email: Some("b@example.co.id"),
                phone: None,
                consent: &[("email", true)],
                rep: true,
                open_complaint: false,
            },
        ],
    )
    .await;
    let q = format!("sqlite://{}", db.scratch.path("q.db").display());
    // Two schedulers, each with its own connections, ticking at the same moment.
    let name = format!("jalin.test.{}", uuid::Uuid::new_v4().simple());
    let r1 = rig_named(db, &config, &q, &name).await;
    let db2 = jalin_engine::store::Store::connect(&db.url)
        .await
        .expect("second pool");
    let mut r2 = rig_named(db, &config, &q, &name).await;
    r2.planner.store = db2;
    jalin_engine::campaigns::init_trigger_cursor(&db.store)
        .await
        .expect("cursor");
    // The first tick at 09:59:59 sets the cursor; the one-shot is due at 10:00:00.
    r1.clock.set(ten_am() - chrono::Duration::seconds(1));
    r1.planner.tick().await.expect("first tick");
    r1.clock.set(ten_am() + chrono::Duration::seconds(1));
    r2.clock.set(ten_am() + chrono::Duration::seconds(1));
    let (a, b) = tokio::join!(r1.planner.tick(), r2.planner.tick());
    let fired: usize = a.expect("tick 1").len() + b.expect("tick 2").len();
    assert_eq!(fired, 1, "one of the two schedulers fires the one-shot");
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM campaign_runs WHERE campaign = 'once'")
            .await,
        1
    );
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM outbox WHERE campaign = 'once'")
            .await,
        2,
        "each customer once"
    );

    // An order shipped: the trigger fires for that customer only, once.
    with_pool!(&db.store, pool => sqlx::query(
        "INSERT INTO orders (external_ref, customer_id, status, placed_at, value, cost) VALUES ('SO-1', $1, 'shipped', $2, 100000000, 60000000)")
        .bind(ids["b"]).bind(ten_am().timestamp() - 86_400).execute(pool).await.map(|_| ()))
    .expect("order");
    for (key, status) in [("e1", "shipped"), ("e2", "confirmed")] {
        with_pool!(&db.store, pool => sqlx::query(
            "INSERT INTO events (event_type, occurred_at, customer_id, idempotency_key, payload, recorded_at) VALUES ('order.status_changed', $1, $2, $3, $4, $1)")
            .bind(ten_am().timestamp()).bind(ids["b"]).bind(key)
            .bind(sqlx::types::Json(serde_json::json!({"status": status, "order": "SO-1"})))
            .execute(pool).await.map(|_| ()))
        .expect("event");
    }
    let (a, b) = tokio::join!(r1.planner.tick(), r2.planner.tick());
    let fired: Vec<_> = a.expect("t1").into_iter().chain(b.expect("t2")).collect();
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0].campaign, "order-status");
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM outbox WHERE campaign = 'order-status'")
            .await,
        1
    );
    assert_eq!(
        db.scalar("SELECT customer_id FROM outbox WHERE campaign = 'order-status'")
            .await,
        ids["b"]
    );
    // Ticking again fires nothing new.
    assert!(r1.planner.tick().await.expect("t3").is_empty());
    // Delivered with the order in the context.
    work_until(&r1, async || {
        db.scalar("SELECT COUNT(*) FROM outbox WHERE status = 'sent'")
            .await
            == 3
    })
    .await;
    let eml = std::fs::read_dir(dir.path("outbox/email"))
        .expect("outbox")
        .filter_map(Result::ok)
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .find(|t| t.contains("SO-1"))
        .expect("the status email");
    assert!(eml.contains("dikirim"), "status label in Indonesian: {eml}");
}
both_backends!(
    two_schedulers_fire_once_and_events_trigger,
    schedulers_and_triggers
);

/// Crash safety: a worker process is killed with SIGKILL mid-campaign; a new process finishes
/// the run. Every recipient ends with one `sent` row, and the SMTP server saw no message twice
/// beyond what was in flight at the kill.
async fn crash_safety(db: &TestDb, queue_url: &str) {
    let smtp = SmtpCapture::start();
    let dir = Scratch::new();
    let config = write_config(
        &dir,
        Some(smtp.port),
        "[delivery]\nbatch_size = 20\nparallel_sends = 4\nlease_seconds = 2\ntick_seconds = 0.2\n[marketing]\nquiet_start = \"00:00\"\nquiet_end = \"00:00\"\n",
        &[(
            "big",
            "segment = \"everyone\"\nchannels = [\"email\"]\ntemplate = \"hello\"\nfrequency_cap = false\nquiet_hours = { start = \"00:00\", end = \"00:00\" }\n[schedule]\nmanual = true\n",
        )],
    );
    let people: Vec<Person> = (0..1500)
        .map(|i| Person {
            reference: Box::leak(format!("K{i:05}").into_boxed_str()),
            email: Some(Box::leak(format!("k{i}@example.co.id").into_boxed_str())),
            phone: None,
            consent: &[("email", true)],
            rep: true,
            open_complaint: false,
        })
        .collect();
    add_people(db, &people).await;
    let queue_name = format!("jalin.crash.{}", uuid::Uuid::new_v4().simple());
    let spawn = |args: &[&str]| {
        let log = std::fs::File::create(dir.path(&format!("{}.log", args[0]))).expect("log file");
        Proc(
            std::process::Command::new(jalin_bin())
                .args(args)
                .args(["--config", config.to_str().expect("utf-8")])
                .env("JALIN_DATABASE_URL", &db.url)
                .env("JALIN_QUEUE_URL", queue_url)
                .env("JALIN_QUEUE_NAME", &queue_name)
                .current_dir(&dir.0)
                .env("JALIN_LOG", "info")
                .stdout(std::process::Stdio::null())
                .stderr(log)
                .spawn()
                .expect("spawn jalin"),
        )
    };
    // Plan (no delivery) with the CLI, then start a worker.
    let out = std::process::Command::new(jalin_bin())
        .args([
            "--config",
            config.to_str().expect("utf-8"),
            "--json",
            "send",
            "big",
        ])
        .env("JALIN_DATABASE_URL", &db.url)
        .env("JALIN_QUEUE_URL", queue_url)
        .env("JALIN_QUEUE_NAME", &queue_name)
        .current_dir(&dir.0)
        .output()
        .expect("send");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let planned: serde_json::Value = serde_json::from_slice(&out.stdout).expect("send --json");
    assert_eq!(planned["plan"]["queued"], 1500, "{planned}");
    let mut worker = spawn(&["worker", "--concurrency", "4"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while smtp.messages().len() < 300 {
        assert!(
            Instant::now() < deadline,
            "the worker did not start sending (first error {:?}, {} sent): {}",
            db.text("SELECT MIN(error) FROM outbox").await,
            db.scalar("SELECT COUNT(*) FROM outbox WHERE status = 'sent'")
                .await,
            std::fs::read_to_string(dir.path("worker.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // SIGKILL: no chance to finish or release anything.
    worker.0.kill().expect("kill");
    let _ = worker.0.wait();
    let in_flight = db
        .scalar("SELECT COUNT(*) FROM outbox WHERE status = 'sending'")
        .await;
    // A new process (scheduler + worker) takes over once the dead worker's lease expires.
    let _second = spawn(&["run", "--concurrency", "4", "--listen", "127.0.0.1:0"]);
    let deadline = Instant::now() + Duration::from_secs(120);
    while db
        .scalar("SELECT COUNT(*) FROM outbox WHERE status = 'sent'")
        .await
        < 1500
    {
        assert!(
            Instant::now() < deadline,
            "the run was not finished after the crash: {}",
            std::fs::read_to_string(dir.path("run.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM outbox").await,
        1500,
        "one row per recipient"
    );
    assert_eq!(
        db.scalar("SELECT COUNT(DISTINCT customer_id) FROM outbox WHERE status = 'sent'")
            .await,
        1500
    );
    // Every message the SMTP server got, by our message id.
    std::thread::sleep(Duration::from_millis(300));
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for m in smtp.messages() {
        let text = String::from_utf8_lossy(&m).into_owned();
        let id = text
            .lines()
            .find_map(|l| l.strip_prefix("X-Jalin-Message: "))
            .expect("message id header")
            .trim()
            .to_owned();
        *seen.entry(id).or_default() += 1;
    }
    let distinct = seen.len();
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    eprintln!(
        "crash safety ({queue_url}): {distinct} distinct messages, {duplicates} sent twice, {in_flight} in flight at the kill"
    );
    assert_eq!(distinct, 1500, "every recipient got the message");
    assert!(
        duplicates as i64 <= in_flight,
        "duplicates ({duplicates}) only from what was in flight at the kill ({in_flight})"
    );
    let twice: BTreeSet<usize> = seen.values().copied().collect();
    assert!(
        twice.iter().all(|n| *n <= 2),
        "nothing sent three times: {twice:?}"
    );
}

both_backends!(crash_safety_on_the_sqlite_queue, crash_safety_sqlite_queue);
async fn crash_safety_sqlite_queue(db: &TestDb) {
    let q = format!("sqlite://{}", db.scratch.path("queue.db").display());
    crash_safety(db, &q).await;
}

both_backends!(crash_safety_on_the_redis_queue, crash_safety_redis_queue);
async fn crash_safety_redis_queue(db: &TestDb) {
    crash_safety(db, "redis://127.0.0.1:6379").await;
}

/// More jobs than one Lua `unpack` takes (about 8,000) pushed before any worker fetches: the
/// Redis queue still hands every one of them out (apalis-redis alone stops its workers here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_queue_survives_a_burst_of_ten_thousand_jobs() {
    use jalin_workers::queue::{DeliverBatch, Handler};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let queue = Queue::connect_named(
        "redis://127.0.0.1:6379",
        &format!("jalin.test.{}", uuid::Uuid::new_v4().simple()),
    )
    .await
    .expect("Redis");
    for chunk in (0..10_000i64).collect::<Vec<_>>().chunks(1000) {
        queue
            .push_many(
                chunk
                    .iter()
                    .map(|i| DeliverBatch { ids: vec![*i] })
                    .collect(),
            )
            .await
            .expect("push");
    }
    let seen = Arc::new(std::sync::Mutex::new(BTreeSet::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let handler = {
        let (seen, count) = (seen.clone(), count.clone());
        Handler::new(move |job: DeliverBatch| {
            let (seen, count) = (seen.clone(), count.clone());
            Box::pin(async move {
                if let Ok(mut s) = seen.lock() {
                    s.extend(job.ids);
                }
                count.fetch_add(1, Ordering::Relaxed);
                Ok(())
            })
        })
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(queue.work_with("burst".into(), 20, handler, async move {
        let _ = stopped.await;
    }));
    let deadline = Instant::now() + Duration::from_secs(60);
    while count.load(Ordering::Relaxed) < 10_000 {
        assert!(
            !worker.is_finished(),
            "the worker stopped: {:?}",
            worker.await
        );
        assert!(
            Instant::now() < deadline,
            "only {} of 10,000 jobs processed",
            count.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(());
    assert_eq!(
        seen.lock().map(|s| s.len()).unwrap_or(0),
        10_000,
        "every job exactly once"
    );
}

/// A campaign naming a segment or template that does not exist, or a variant its template does
/// not have, is a validate error at the line of the reference.
#[test]
fn campaign_references_are_checked_at_their_line() {
    let dir = Scratch::new();
    let config = write_config(
        &dir,
        None,
        "",
        &[
            (
                "broken",
                "segment = \"everybody\"\nchannels = [\"email\", \"webhook\"]\ntemplate = \"hello\"\nvariants = [{ name = \"a\", weight = 50 }, { name = \"c\", weight = 50 }]\n[schedule]\nmanual = true\n",
            ),
            (
                "missing",
                "segment = \"everyone\"\nchannels = [\"email\"]\ntemplate = \"helo\"\n[schedule]\nmanual = true\n",
            ),
        ],
    );
    let (_, errors) = Project::load(&config);
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let has = |file_line: &str, text: &str| {
        shown
            .iter()
            .any(|e| e.contains(file_line) && e.contains(text))
    };
    assert!(
        has("broken.toml:1:", "unknown segment \"everybody\""),
        "{shown:#?}"
    );
    assert!(has("broken.toml:3:", "no Task part"), "{shown:#?}");
    assert!(has("broken.toml:3:", "variant \"c\""), "{shown:#?}");
    assert!(
        has("missing.toml:3:", "unknown template \"helo\""),
        "{shown:#?}"
    );
    assert_eq!(shown.len(), 4, "{shown:#?}");
}

/// `jalin send --deliver` delivers the run in-process and returns, leaving a message that
/// waits for its retry to the workers instead of hanging on it.
async fn send_and_deliver(db: &TestDb) {
    let smtp = SmtpCapture::start();
    let dir = Scratch::new();
    let config = write_config(
        &dir,
        Some(smtp.port),
        "[marketing]\nquiet_start = \"00:00\"\nquiet_end = \"00:00\"\n",
        &[("win-back", WIN_BACK)],
    );
    add_people(
        db,
        &[
            Person {
                reference: "mail",
                email: Some("ani@example.co.id"),
                phone: None,
                consent: &[("email", true)],
                rep: true,
                open_complaint: false,
            },
            Person {
                reference: "later",
                email: Some("later@example.co.id"),
                phone: None,
                consent: &[("email", true)],
                rep: true,
                open_complaint: false,
            },
        ],
    )
    .await;
    let out = std::process::Command::new(jalin_bin())
        .args([
            "--config",
            config.to_str().expect("utf-8"),
            "--json",
            "send",
            "win-back",
            "--deliver",
        ])
        .env("JALIN_DATABASE_URL", &db.url)
        .env(
            "JALIN_QUEUE_URL",
            format!("sqlite://{}", dir.path("queue.db").display()),
        )
        .current_dir(&dir.0)
        .output()
        .expect("send");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["outbox"]["sent"], 1, "{report}");
    assert_eq!(
        report["outbox"]["queued"], 1,
        "the 451 waits for its retry: {report}"
    );
    assert_eq!(smtp.wait_for(1).len(), 1);
}
both_backends!(send_deliver_returns_with_retries_pending, send_and_deliver);

/// A history imported just before the scheduler starts (thousands of events recorded a moment
/// ago, below the trigger cursor) must not crowd a live event out of the trigger scan.
async fn fresh_history_does_not_crowd_out_live_events(db: &TestDb) {
    let now = Utc::now().timestamp();
    db.exec("INSERT INTO customers (external_ref, kind, name, locale, time_zone, created_at) VALUES ('T1', 'consumer', 'T', 'id', 'Asia/Jakarta', 0)").await;
    let customer = db.scalar("SELECT id FROM customers").await;
    db.exec(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 6000)
         INSERT INTO events (event_type, occurred_at, customer_id, idempotency_key, recorded_at)
         SELECT 'email.opened', 1000000 + i, {customer}, 'old-' || CAST(i AS TEXT), {now} FROM n"
    ))
    .await;
    jalin_engine::campaigns::init_trigger_cursor(&db.store)
        .await
        .expect("cursor");
    let cursor = jalin_engine::campaigns::read_cursor(&db.store, "triggers")
        .await
        .expect("read");
    db.exec(&format!(
        "INSERT INTO events (event_type, occurred_at, customer_id, idempotency_key, payload, recorded_at)
         VALUES ('order.status_changed', {now}, {customer}, 'live-1', '{{\"status\":\"shipped\",\"order\":\"SO-1\"}}', {now})"
    ))
    .await;
    let (project, errors) = Project::load(&crate::segments::repo_config());
    assert!(errors.is_empty(), "{errors:?}");
    let (fires, next) = jalin_engine::campaigns::scan_triggers(
        &db.store,
        &project.campaigns,
        cursor,
        now,
        30,
        5000,
    )
    .await
    .expect("scan");
    assert!(
        fires
            .iter()
            .any(|f| f.campaign == "order-status" && f.customer_id == customer),
        "{fires:?}"
    );
    assert_eq!(next, cursor + 1);
}
both_backends!(fresh_history, fresh_history_does_not_crowd_out_live_events);

const LOOP_CAMPAIGN: &str = r#"
segment = "everyone"
channels = ["email"]
template = "hello"
variants = [{ name = "a", weight = 50 }, { name = "b", weight = 50 }]
offer = { percent = 10, valid_days = 730 }
goal = { event = "order.placed", within_days = 730 }
[schedule]
manual = true
"#;

/// The whole loop: a campaign goes to a real SMTP server, the link in the received email is
/// followed through `jalin serve`, the factory's order webhook arrives with the email's offer
/// code — the order is attributed to that campaign and variant, the code redeemed, the points
/// in the ledger.
async fn whole_loop_from_inbox_to_points(db: &TestDb) {
    let smtp = SmtpCapture::start();
    let dir = Scratch::new();
    let config = write_config(&dir, Some(smtp.port), "", &[("promo", LOOP_CAMPAIGN)]);
    let ids = add_people(
        db,
        &[Person {
            reference: "loop",
            email: Some("loop@example.co.id"),
            phone: None,
            consent: &[("email", true)],
            rep: true,
            open_complaint: false,
        }],
    )
    .await;
    let r = rig(
        db,
        &config,
        &format!("sqlite://{}", dir.path("queue.db").display()),
    )
    .await;
    let campaign = r.project.campaigns.get("promo").expect("campaign");
    let fired = r.send(campaign, "send:loop", ten_am(), false).await;
    let run = fired.run_id;
    work_until(&r, async || {
        statuses(db, run).await.get("sent").copied().unwrap_or(0) == 1
    })
    .await;
    let variant = db
        .text(&format!("SELECT variant FROM outbox WHERE run_id = {run}"))
        .await
        .expect("variant");

    // The email as the SMTP server received it: quoted-printable undone, the tracked link and
    // the offer code read out of it.
    let raw = smtp.wait_for(1).into_iter().next().expect("one email");
    let text = String::from_utf8_lossy(&raw)
        .replace("=\r\n", "")
        .replace("=3D", "=");
    let at = text
        .find("https://t.example/t/c/")
        .expect("a tracked link in the email");
    let link: String = text[at..]
        .chars()
        .take_while(|c| !matches!(c, '"' | '<' | '>' | ' ' | ')' | ']' | '\r' | '\n'))
        .collect();
    let code_at = text.find("Code ").expect("the offer code in the email") + 5;
    let code: String = text[code_at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    assert_eq!(
        db.text(&format!(
            "SELECT code FROM offer_codes WHERE customer_id = {}",
            ids["loop"]
        ))
        .await
        .as_deref(),
        Some(code.as_str())
    );

    let port = crate::support::free_port();
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let _server = Proc(
        std::process::Command::new(jalin_bin())
            .args([
                "--config",
                config.to_str().expect("utf-8"),
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .env("JALIN_DATABASE_URL", &db.url)
            .env("JALIN_HOOK_SECRET_ORDERS", secret)
            .current_dir(&dir.0)
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("jalin serve"),
    );
    crate::support::wait_port(port).await;
    jalin_channels::install_crypto_provider();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let click = link.replace("https://t.example", &format!("http://127.0.0.1:{port}"));
    let resp = http.get(&click).send().await.expect("click");
    assert_eq!(resp.status(), 302, "{link}");
    assert_eq!(resp.headers()["location"], "https://kayujaya.example/sale");
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM events WHERE event_type = 'email.clicked'")
            .await,
        1
    );

    // The order, Rp 2,500,000 with the email's code, signed like the factory's system signs it.
    let body = serde_json::json!({
        "event": "order.placed", "order": "SO-LOOP-1", "customer": "loop",
        "status": "confirmed", "value": 250_000_000, "offer_code": code
    })
    .to_string();
    let secrets = jalin_channels::webhook::standard::Secret::parse_list(secret).expect("secret");
    let now = Utc::now().timestamp();
    let resp = http
        .post(format!("http://127.0.0.1:{port}/hooks/orders"))
        .header("content-type", "application/json")
        .header("webhook-id", "msg_loop_1")
        .header("webhook-timestamp", now.to_string())
        .header(
            "webhook-signature",
            jalin_channels::webhook::standard::sign(&secrets, "msg_loop_1", now, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .expect("order");
    assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
    let attributed = db
        .text("SELECT CAST(payload AS TEXT) FROM events WHERE event_type = 'conversion.attributed' AND campaign = 'promo'")
        .await
        .expect("the order is attributed to the campaign");
    assert!(
        attributed.contains(&format!("\"variant\":\"{variant}\""))
            || attributed.contains(&format!("\"variant\": \"{variant}\"")),
        "{attributed}"
    );
    assert_eq!(
        db.scalar(&format!(
            "SELECT COUNT(*) FROM offer_codes WHERE code = '{code}' AND redeemed_at IS NOT NULL"
        ))
        .await,
        1
    );
    assert_eq!(
        db.scalar(&format!(
            "SELECT CAST(SUM(points) AS BIGINT) FROM loyalty_ledger WHERE customer_id = {}",
            ids["loop"]
        ))
        .await,
        250,
        "1 point per Rp 10,000"
    );
    // And the campaign report sees the conversion in that variant.
    let report = jalin_engine::analytics::aggregates::campaign_report(
        &db.store,
        "promo",
        730,
        &jalin_engine::analytics::AnalyticsSettings::default(),
    )
    .await
    .expect("report");
    let v = report
        .variants
        .iter()
        .find(|f| f.variant == variant)
        .expect("variant row");
    assert_eq!((v.sent, v.clicked, v.converted), (1, 1, 1));
    assert_eq!(v.revenue, 2_500_000.0);
}
both_backends!(whole_loop, whole_loop_from_inbox_to_points);
