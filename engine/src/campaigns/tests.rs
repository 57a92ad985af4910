use super::*;
use crate::config::SourceFile;
use chrono::{TimeZone, Utc};

fn parse(text: &str) -> Result<Campaign, Vec<ConfigError>> {
    parse_campaign(
        &SourceFile::new("campaigns/x.toml", text),
        "x",
        &CampaignDefaults::default(),
    )
}

fn errors(text: &str) -> Vec<String> {
    match parse(text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(es) => es.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn a_full_campaign_reads_back() {
    let c = parse(
        r#"
description = "Win back"
segment = "lapsed-distributors"
channels = ["email", "sms"]
template = "win-back"
holdout_percent = 10
variants = [{ name = "a", weight = 50 }, { name = "b", weight = 50 }]
offer = { percent = 10, valid_days = 30 }
goal = { event = "order.placed", within_days = 30 }

[schedule]
cron = "0 0 9 * * Mon"
time_zone = "Asia/Jakarta"
"#,
    )
    .expect("valid");
    assert_eq!(c.kind, CampaignKind::Marketing);
    assert_eq!(c.variants.len(), 2);
    assert!(c.frequency_cap, "marketing is capped by default");
    assert!(
        c.quiet_hours.is_some(),
        "marketing gets the default quiet hours"
    );
    // Monday 09:00 in Jakarta is 02:00 UTC.
    let after = Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap(); // a Sunday
    let next = c.schedule.next_runs(after, 2);
    assert_eq!(
        next[0],
        Utc.with_ymd_and_hms(2026, 11, 23, 2, 0, 0).unwrap()
    );
    assert_eq!(
        next[1],
        Utc.with_ymd_and_hms(2026, 11, 30, 2, 0, 0).unwrap()
    );
    let due = c
        .schedule
        .due_between(after, Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap());
    assert_eq!(due, next);
}

#[test]
fn triggers_match_on_type_and_payload() {
    let c = parse(
        r#"
kind = "transactional"
channels = ["sms", "email"]
template = "order-status"
[schedule]
trigger = "order.status_changed"
where = { status = "shipped" }
delay_hours = 2
"#,
    )
    .expect("valid");
    assert!(!c.frequency_cap);
    assert!(
        c.quiet_hours.is_none(),
        "transactional has no default quiet hours"
    );
    let shipped = serde_json::json!({"status": "shipped", "order": "SO-1"});
    let confirmed = serde_json::json!({"status": "confirmed"});
    assert!(c.schedule.matches("order.status_changed", &shipped));
    assert!(!c.schedule.matches("order.status_changed", &confirmed));
    assert!(!c.schedule.matches("order.placed", &shipped));
}

#[test]
fn mistakes_are_located() {
    let e = errors(
        "segment = \"s\"\nchannels = [\"email\", \"fax\"]\ntemplate = \"t\"\n[schedule]\ncron = \"0 0 9 * * Mon\"\ntime_zone = \"Asia/Jakarta\"\n",
    );
    assert!(
        e.iter()
            .any(|m| m.contains("x.toml:2:") && m.contains("fax")),
        "{e:?}"
    );
    let e = errors(
        "segment = \"s\"\nchannels = [\"email\"]\ntemplate = \"t\"\n[schedule]\ncron = \"every monday\"\ntime_zone = \"Asia/Jakarta\"\n",
    );
    assert!(
        e.iter()
            .any(|m| m.contains("x.toml:5:") && m.contains("cron")),
        "{e:?}"
    );
    let e = errors(
        "segment = \"s\"\nchannels = [\"email\"]\ntemplate = \"t\"\n[schedule]\ncron = \"0 0 9 * * Mon\"\ntime_zone = \"Asia/Jakrta\"\n",
    );
    assert!(
        e.iter()
            .any(|m| m.contains("x.toml:6:") && m.contains("time zone")),
        "{e:?}"
    );
    let e = errors(
        "segment = \"s\"\nchannels = [\"email\"]\ntemplate = \"t\"\nvariants = [{ name = \"a\", weight = 60 }, { name = \"b\", weight = 30 }]\n[schedule]\nmanual = true\n",
    );
    assert!(
        e.iter()
            .any(|m| m.contains("x.toml:4:") && m.contains("add up to 90")),
        "{e:?}"
    );
    let e = errors(
        "segment = \"s\"\nchannels = [\"email\"]\ntemplate = \"t\"\nholdout_percent = 120\n[schedule]\nmanual = true\n",
    );
    assert!(
        e.iter()
            .any(|m| m.contains("x.toml:4:") && m.contains("holdout_percent")),
        "{e:?}"
    );
    let e = errors("channels = [\"email\"]\ntemplate = \"t\"\nschedul = 1\n");
    assert!(
        e.iter()
            .any(|m| m.contains("x.toml:3:") && m.contains("schedul")),
        "{e:?}"
    );
    let e = errors(
        "channels = [\"email\"]\ntemplate = \"t\"\n[schedule]\ncron = \"0 0 9 * * Mon\"\ntime_zone = \"Asia/Jakarta\"\n",
    );
    assert!(e.iter().any(|m| m.contains("needs a segment")), "{e:?}");
}
