//! The command line contract: exit codes, messages, `--json`.

use crate::common::{Backend, Scratch, TestDb, run_jalin};

#[tokio::test]
async fn sample_import_show_through_the_binary() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = TestDb::new(backend).await;
        let dir = &db.scratch.0;
        let (code, _, err) = run_jalin(
            &db.url,
            dir,
            &[
                "generate-sample",
                "--customers",
                "50",
                "--out",
                "s",
                "--as-of",
                "2026-06-01",
            ],
        );
        assert_eq!(code, 0, "{err}");
        for kind in [
            "products",
            "customers",
            "consent",
            "orders",
            "order-lines",
            "complaints",
            "events",
        ] {
            let file = format!("s/{kind}.csv");
            let (code, out, err) = run_jalin(&db.url, dir, &["import", kind, &file]);
            assert_eq!(code, 0, "{kind}: {out} {err}");
            assert!(out.contains("accepted"), "{out}");
        }
        let (code, out, err) = run_jalin(&db.url, dir, &["customer", "show", "C0000001", "--json"]);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value =
            serde_json::from_str(&out).expect("--json prints one JSON document");
        assert_eq!(v["profile"]["external_ref"], "C0000001");
        let (code, out, _) = run_jalin(&db.url, dir, &["customer", "show", "C0000001"]);
        assert_eq!(code, 0);
        assert!(out.contains("C0000001") && out.contains("Consent"));
    }
}

#[tokio::test]
async fn bad_csv_exits_1_with_file_and_line() {
    let db = TestDb::new(Backend::Sqlite).await;
    let dir = &db.scratch.0;
    db.scratch.write(
        "c.csv",
        "external_ref,kind,name,locale,time_zone,created_at\nC1,consumer,A,id,Asia/Jakarta,2025-01-01\nC2,consumer,B,xx,Asia/Jakarta,2025-01-01\n",
    );
    let (code, out, err) = run_jalin(
        &db.url,
        dir,
        &["import", "customers", "c.csv", "--reject-file", "rej.csv"],
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("c.csv:3: locale"), "{err}");
    assert!(
        std::fs::read_to_string(dir.join("rej.csv"))
            .expect("rejects")
            .contains("C2")
    );
    // A wrong header: exit 1, the file and line 1 named.
    db.scratch.write("h.csv", "id,name\n1,x\n");
    let (code, _, err) = run_jalin(&db.url, dir, &["import", "customers", "h.csv"]);
    assert_eq!(code, 1);
    assert!(err.contains("h.csv:1"), "{err}");
    // Not a kind at all: a usage error.
    let (code, _, err) = run_jalin(&db.url, dir, &["import", "invoices", "h.csv"]);
    assert_eq!(code, 2, "{err}");
    // A missing file.
    let (code, _, err) = run_jalin(&db.url, dir, &["import", "customers", "nope.csv"]);
    assert_eq!(code, 1);
    assert!(err.contains("nope.csv"), "{err}");
}

#[test]
fn unreachable_database_is_one_line_without_the_password() {
    let scratch = Scratch::new();
    let (code, _, err) = run_jalin(
        "postgres://app:s3cret@127.0.0.1:1/crm",
        &scratch.0,
        &["migrate"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("postgres://app:***@127.0.0.1:1/crm"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let (code, _, err) = run_jalin("mysql://x/y", &scratch.0, &["migrate"]);
    assert_eq!(code, 1);
    assert!(err.contains("unsupported"), "{err}");
}

#[test]
fn default_database_is_created_on_first_use() {
    let scratch = Scratch::new();
    let out = std::process::Command::new(crate::common::jalin_bin())
        .arg("migrate")
        .env_remove("JALIN_DATABASE_URL")
        .current_dir(&scratch.0)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(scratch.path("var/jalin.db").exists());
}

/// `jalin demo`: sample data, every example campaign through the real queue and workers, and
/// files in the outbox a person can open.
#[test]
fn demo_runs_every_example_campaign_end_to_end() {
    let dir = crate::common::Scratch::new();
    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let out = std::process::Command::new(crate::common::jalin_bin())
        .args([
            "--json",
            "--config",
            config.to_str().expect("utf-8"),
            "demo",
            "--customers",
            "1500",
            "--dir",
        ])
        .arg(dir.path("demo"))
        .current_dir(&dir.0)
        .env_remove("JALIN_DATABASE_URL")
        .env_remove("JALIN_QUEUE_URL")
        .output()
        .expect("run demo");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    let c = &report["campaigns"];
    let sent = |name: &str| c["outbox"][name]["sent"].as_i64().unwrap_or(0);
    for name in [
        "win-back",
        "order-status",
        "complaint-ack",
        "complaint-callback",
        "tier-upgraded",
        "welcome-thanks",
    ] {
        assert!(sent(name) > 0, "{name} sent nothing: {c}");
    }
    // Every row the demo left is settled or waiting for its time: nothing stuck in `sending`.
    for (name, by_status) in c["outbox"].as_object().expect("outbox by campaign") {
        for status in by_status.as_object().expect("statuses").keys() {
            assert!(
                ["sent", "held_out", "failed", "waiting"].contains(&status.as_str()),
                "{name}: {status}"
            );
        }
    }
    assert!(
        c["outbox"]["welcome-review"]["waiting"]
            .as_i64()
            .unwrap_or(0)
            > 0,
        "day-7 step waits: {c}"
    );
    let emails = c["emails"].as_u64().expect("emails");
    assert!(
        emails > 0 && c["sms"].as_u64().unwrap_or(0) > 0 && c["webhooks"].as_u64().unwrap_or(0) > 0,
        "{c}"
    );
    let eml_dir = dir.path("demo/outbox/email");
    let files: Vec<_> = std::fs::read_dir(&eml_dir)
        .expect("eml dir")
        .filter_map(Result::ok)
        .collect();
    assert_eq!(files.len() as u64, emails);
    let eml = std::fs::read_to_string(files[0].path()).expect("read eml");
    assert!(
        eml.contains("Subject: ")
            && eml.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
        "{eml}"
    );
    assert!(eml.contains("multipart/alternative"), "{eml}");
    let r = &c["responses"];
    for kind in [
        "email.opened",
        "email.clicked",
        "email.unsubscribed",
        "email.bounced",
    ] {
        assert!(
            r[kind].as_i64().unwrap_or(0) > 0,
            "no {kind} through the server: {r}"
        );
    }
    let tasks = std::fs::read_to_string(dir.path("demo/outbox/webhooks.jsonl")).expect("webhooks");
    assert!(
        tasks.contains("task.created") && tasks.contains("webhook-signature"),
        "{tasks}"
    );
    // The loop closes in the scores: everyone scored, the models fitted, a report written.
    let a = &report["analytics"];
    assert_eq!(a["scored"], 1500, "{a}");
    assert_eq!(a["converged"], true, "{a}");
    assert!(a["bgnbd"]["r"].as_f64().is_some_and(|r| r > 0.0), "{a}");
    let page = std::fs::read_to_string(dir.path("demo/report.html")).expect("report.html");
    assert!(page.contains("<svg") && page.contains("Cohort retention"));
}
