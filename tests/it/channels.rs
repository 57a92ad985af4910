//! Channels against real servers: SMTP (aiosmtpd) with DKIM checked by dkimpy, webhooks checked
//! by the standardwebhooks reference library, SMS through a real Kannel and a Twilio-compatible
//! fake of the documented Messages API, and the file outbox.

use crate::common::Scratch;
use crate::support::{HttpReceiver, Kannel, SmtpCapture, fixtures, python};
use jalin_channels::email::smtp::{SmtpConfig, SmtpEmail};
use jalin_channels::email::{DkimSettings, Email, EmailSettings, Unsubscribe};
use jalin_channels::outbox::FileOutbox;
use jalin_channels::sms::Sms;
use jalin_channels::sms::kannel::{KannelConfig, KannelSms};
use jalin_channels::sms::twilio::{TwilioConfig, TwilioSms};
use jalin_channels::webhook::standard::Secret;
use jalin_channels::webhook::{HttpWebhook, Webhook};
use jalin_channels::{Channel, Outcome};
use std::time::Duration;

fn smtp_config(port: u16) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        security: "none".into(),
        username: None,
        password_env: None,
        pool_size: 4,
        timeout_seconds: 10,
        hello_name: Some("jalin.test".into()),
    }
}

fn settings() -> EmailSettings {
    let dkim = DkimSettings {
        domain: "kayujaya.example".into(),
        selector: "jalin".into(),
        algorithm: "rsa".into(),
        private_key_file: Some(fixtures().join("dkim-test.pem").display().to_string()),
        private_key_env: None,
    };
    EmailSettings::new(
        "PT Kayu Jaya Nusantara <halo@kayujaya.example>",
        Some("cs@kayujaya.example"),
        Some(&dkim),
    )
    .expect("settings")
}

fn email(id: &str, to: &str) -> Email {
    Email {
        id: id.into(),
        to: to.into(),
        to_name: Some("Budi Santoso".into()),
        subject: "Pesanan SO-1: dikirim — diskon 10%".into(),
        html: "<html><body><p>Halo Budi, pesanan Anda <b>dikirim</b>.</p></body></html>".into(),
        text: "Halo Budi, pesanan Anda dikirim.".into(),
        unsubscribe: Some(Unsubscribe {
            url: format!("https://t.kayujaya.example/u/{id}"),
            mailto: Some("unsubscribe@kayujaya.example".into()),
        }),
        open_pixel: Some(format!("https://t.kayujaya.example/t/o/{id}")),
        headers: vec![("X-Campaign".into(), "order-status".into())],
    }
}

#[tokio::test]
async fn smtp_delivers_multipart_mail_with_one_click_unsubscribe_and_a_valid_dkim_signature() {
    let server = SmtpCapture::start();
    let smtp = SmtpEmail::new(&smtp_config(server.port), settings()).expect("smtp");
    smtp.health_check().await.expect("the server greets us");
    let outcome = smtp.send(&email("m-1", "budi@example.co.id")).await;
    let Outcome::Delivered { provider_id } = &outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        provider_id
            .as_deref()
            .is_some_and(|p| p.contains("queued as Q000001")),
        "{provider_id:?}"
    );
    let messages = server.wait_for(1);
    assert_eq!(messages.len(), 1);
    let raw = String::from_utf8_lossy(&messages[0]).replace("\r\n ", " ");
    for header in [
        "From: \"PT Kayu Jaya Nusantara\" <halo@kayujaya.example>",
        "To: \"Budi Santoso\" <budi@example.co.id>",
        "Reply-To: cs@kayujaya.example",
        "Message-ID: <m-1@kayujaya.example>",
        "List-Unsubscribe: <https://t.kayujaya.example/u/m-1>, <mailto:unsubscribe@kayujaya.example?subject=unsubscribe>",
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        "X-Campaign: order-status",
        "Content-Type: multipart/alternative",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Type: text/html; charset=utf-8",
    ] {
        assert!(raw.contains(header), "missing {header:?} in\n{raw}");
    }
    assert!(
        raw.contains("DKIM-Signature:")
            && raw.contains("d=kayujaya.example")
            && raw.contains("s=jalin")
    );
    assert!(
        raw.contains("list-unsubscribe") || raw.contains("List-Unsubscribe:List-Unsubscribe-Post"),
        "the one-click headers are signed"
    );
    // dkimpy checks the signature over the bytes the server received.
    let path = server.dir.write("check.eml", "");
    std::fs::write(&path, &messages[0]).expect("write");
    let verdict = python(
        "dkim_verify.py",
        &[
            path.to_str().expect("utf-8"),
            fixtures().join("dkim-test.pub").to_str().expect("utf-8"),
        ],
        "",
    );
    assert_eq!(verdict.trim(), "ok", "dkimpy: {verdict}");
}

#[tokio::test]
async fn smtp_replies_become_outcomes_with_the_enhanced_code() {
    // Pipelined (the server offers PIPELINING) and one command at a time.
    for options in [&[][..], &["--no-pipelining"][..]] {
        let server = SmtpCapture::start_with(options);
        let smtp = SmtpEmail::new(&smtp_config(server.port), settings()).expect("smtp");
        let gone = smtp.send(&email("m-2", "gone@example.co.id")).await;
        assert!(
            matches!(&gone, Outcome::Permanent { code: Some(c), .. } if c == "5.1.1"),
            "{options:?}: {gone:?}"
        );
        let later = smtp.send(&email("m-3", "later@example.co.id")).await;
        assert!(later.is_transient(), "451 is transient: {later:?}");
        let busy = smtp.send(&email("m-4", "busy@example.co.id")).await;
        assert!(busy.is_transient(), "421 is transient: {busy:?}");
        // The pool recovers after a 421 closed the connection.
        assert!(
            smtp.send(&email("m-5", "siti@example.co.id"))
                .await
                .is_delivered(),
            "{options:?}"
        );
        // Malformed messages never reach the server.
        let injected = smtp
            .send(&Email {
                subject: "Hi\r\nBcc: victim@example.com".into(),
                ..email("m-6", "siti@example.co.id")
            })
            .await;
        assert!(injected.is_permanent(), "{injected:?}");
        let not_an_address = smtp.send(&email("m-7", "siti at example")).await;
        assert!(not_an_address.is_permanent());
        assert_eq!(server.wait_for(1).len(), 1);
    }
}

/// An SMTP server that answers nothing until MAIL, RCPT and DATA have all arrived. A client
/// that waits for each reply before sending the next command hangs here. Recipients at
/// `gone@` are refused (550 5.1.1, then 503 for DATA). Each accepted body is sent to `bodies`
/// as received (still dot-stuffed).
async fn strict_pipelining_server(
    listener: tokio::net::TcpListener,
    bodies: tokio::sync::mpsc::UnboundedSender<String>,
) {
    use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _};
    let mut queued = 0;
    while let Ok((socket, _)) = listener.accept().await {
        let (read, mut write) = socket.into_split();
        let mut read = tokio::io::BufReader::new(read);
        let _ = write.write_all(b"220 strict ESMTP\r\n").await;
        let mut pending: Vec<String> = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            if read.read_line(&mut line).await.unwrap_or(0) == 0 {
                break;
            }
            let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
            let reply = match verb.as_str() {
                "EHLO" => "250-strict\r\n250-PIPELINING\r\n250 8BITMIME\r\n".to_owned(),
                "MAIL" | "RCPT" => {
                    pending.push(line.clone());
                    continue;
                }
                "DATA" => {
                    let mut replies = String::new();
                    let mut accepted = 0;
                    for command in pending.drain(..) {
                        if command.starts_with("RCPT") && command.contains("gone@") {
                            replies.push_str("550 5.1.1 no such user\r\n");
                        } else {
                            accepted += usize::from(command.starts_with("RCPT"));
                            replies.push_str("250 2.1.0 ok\r\n");
                        }
                    }
                    if accepted == 0 {
                        replies.push_str("503 5.5.1 no valid recipients\r\n");
                        replies
                    } else {
                        replies.push_str("354 go ahead\r\n");
                        let _ = write.write_all(replies.as_bytes()).await;
                        let mut body = String::new();
                        loop {
                            line.clear();
                            if read.read_line(&mut line).await.unwrap_or(0) == 0 || line == ".\r\n"
                            {
                                break;
                            }
                            body.push_str(&line);
                        }
                        let _ = bodies.send(body);
                        queued += 1;
                        format!("250 2.0.0 queued as S{queued}\r\n")
                    }
                }
                "QUIT" => {
                    let _ = write.write_all(b"221 bye\r\n").await;
                    break;
                }
                _ => "250 ok\r\n".to_owned(),
            };
            let _ = write.write_all(reply.as_bytes()).await;
        }
    }
}

#[tokio::test]
async fn smtp_pipelines_mail_rcpt_and_data_when_the_server_offers_it() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, mut bodies) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(strict_pipelining_server(listener, tx));
    let smtp = SmtpEmail::new(&smtp_config(port), settings()).expect("smtp");
    let send = |e: Email| {
        let smtp = &smtp;
        async move {
            tokio::time::timeout(Duration::from_secs(10), smtp.send(&e))
                .await
                .expect("the client waited for a reply the server only sends once DATA arrives")
        }
    };
    let first = send(Email {
        text: ".titik di awal baris\r\nbaris biasa\r\n..dua titik".into(),
        ..email("p-1", "budi@example.co.id")
    })
    .await;
    assert!(
        matches!(&first, Outcome::Delivered { provider_id: Some(p) } if p.contains("queued as S1")),
        "{first:?}"
    );
    let body = bodies.recv().await.expect("body");
    // Lines that start with a dot are sent with one more (RFC 5321 transparency).
    assert!(
        body.contains("\r\n..titik di awal baris\r\nbaris biasa\r\n...dua titik"),
        "{body}"
    );
    assert!(body.contains("Message-ID: <p-1@kayujaya.example>"));
    let gone = send(email("p-2", "gone@example.co.id")).await;
    assert!(
        matches!(&gone, Outcome::Permanent { code: Some(c), .. } if c == "5.1.1"),
        "{gone:?}"
    );
    // The refused transaction's connection is closed, not reused half-read; the next message
    // goes through.
    let third = send(email("p-3", "siti@example.co.id")).await;
    assert!(
        matches!(&third, Outcome::Delivered { provider_id: Some(p) } if p.contains("queued as S")),
        "{third:?}"
    );
}

#[tokio::test]
async fn smtp_pool_delivers_concurrent_sends_and_a_dead_server_fails_the_health_check() {
    let server = SmtpCapture::start();
    let smtp =
        std::sync::Arc::new(SmtpEmail::new(&smtp_config(server.port), settings()).expect("smtp"));
    let mut tasks = Vec::new();
    for i in 0..40 {
        let smtp = smtp.clone();
        tasks.push(tokio::spawn(async move {
            smtp.send(&email(&format!("c-{i}"), &format!("user{i}@example.co.id")))
                .await
        }));
    }
    for t in tasks {
        assert!(t.await.expect("task").is_delivered());
    }
    assert_eq!(server.wait_for(40).len(), 40);
    let dead = SmtpEmail::new(&smtp_config(crate::support::free_port()), settings())
        .expect("builds lazily");
    assert!(dead.health_check().await.is_err());
    assert!(
        dead.send(&email("d-1", "x@example.co.id"))
            .await
            .is_transient(),
        "a refused connection is retried later"
    );
}

#[tokio::test]
async fn webhooks_are_signed_per_standard_webhooks_and_classified() {
    let receiver = HttpReceiver::start().await;
    let (new, old) = (Secret::generate(), Secret::generate());
    let secrets = Secret::parse_list(&format!("{new} {old}")).expect("secrets");
    let hook = HttpWebhook::with_secrets(&receiver.url("/tasks"), secrets, Duration::from_secs(5))
        .expect("webhook");
    hook.health_check().await.expect("reachable");
    let now = chrono::Utc::now().timestamp();
    let message = Webhook {
        id: "msg_2b7x".into(),
        event_type: "task.created".into(),
        timestamp: now,
        data: jalin_channels::webhook::task_payload(
            "call",
            24,
            "Telepon Budi tentang keluhan CMP-1",
            serde_json::json!({"ref": "C0000042"}),
            serde_json::json!({}),
        ),
    };
    receiver.script([
        (503, vec![("retry-after", "30".into())], "busy".into()),
        (429, vec![], "slow down".into()),
        (400, vec![], "bad".into()),
    ]);
    let first = hook.send(&message).await;
    assert_eq!(
        first,
        Outcome::Transient {
            reason: "HTTP 503: busy".into(),
            retry_after: Some(Duration::from_secs(30))
        }
    );
    assert!(hook.send(&message).await.is_transient());
    assert!(hook.send(&message).await.is_permanent());
    assert!(hook.send(&message).await.is_delivered());
    let got = receiver.wait_for(5).await;
    let posted: Vec<_> = got
        .iter()
        .filter(|r| r.method == axum::http::Method::POST)
        .collect();
    assert_eq!(posted.len(), 4);
    let r = posted[3];
    assert_eq!(r.header("webhook-id"), "msg_2b7x");
    assert_eq!(r.header("content-type"), "application/json");
    assert_eq!(
        r.header("webhook-signature").split(' ').count(),
        2,
        "one signature per key during rotation"
    );
    let body: serde_json::Value = serde_json::from_slice(&r.body).expect("json body");
    assert_eq!(body["type"], "task.created");
    assert_eq!(body["data"]["task"], "call");
    // The reference implementation accepts our signature with either key, and refuses a tampered body.
    let case = |secret: &str, body: &str| {
        serde_json::json!({
            "secret": secret,
            "headers": { "webhook-id": r.header("webhook-id"), "webhook-timestamp": r.header("webhook-timestamp"), "webhook-signature": r.header("webhook-signature") },
            "body": body,
        })
        .to_string()
    };
    let text = String::from_utf8_lossy(&r.body).into_owned();
    let input = [
        case(&new, &text),
        case(&old, &text),
        case(&new, &text.replace("Budi", "Andi")),
        case(&Secret::generate(), &text),
    ]
    .join("\n");
    let verdicts: Vec<String> = python("webhook_verify.py", &[], &input)
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(verdicts[0], "ok", "{verdicts:?}");
    assert_eq!(verdicts[1], "ok", "{verdicts:?}");
    assert!(verdicts[2].starts_with("fail"), "{verdicts:?}");
    assert!(verdicts[3].starts_with("fail"), "{verdicts:?}");
}

#[tokio::test]
async fn sms_goes_through_a_real_kannel_and_its_delivery_report_comes_back() {
    let operator = HttpReceiver::start().await;
    operator.answer_by_default((200, vec![], "Sent.".into()));
    let reports = HttpReceiver::start().await;
    let kannel = Kannel::start(&operator, "jalin", "kannel-test-pw").await;
    let config = KannelConfig {
        url: kannel.sendsms_url.clone(),
        username: "jalin".into(),
        password_env: "UNUSED".into(),
        dlr_url: Some(reports.url("/hooks/sms/kannel")),
        dlr_mask: 31,
        max_segments: 3,
        timeout_seconds: 10,
    };
    let sms = KannelSms::with_password(config.clone(), "kannel-test-pw".into()).expect("kannel");
    sms.health_check().await.expect("kannel answers");
    let message = Sms {
        id: "out-77".into(),
        to: "+6281234567890".into(),
        from: "KayuJaya".into(),
        body: "Pesanan SO-1 dikirim. Terima kasih Pak Şukri".into(),
        status_callback: None,
        receipt_token: Some("signed.token-77".into()),
    };
    let outcome = sms.send(&message).await;
    assert_eq!(
        outcome,
        Outcome::Delivered {
            provider_id: Some("out-77".into())
        }
    );
    let mt = operator.wait_for(1).await;
    assert_eq!(mt[0].param("to").as_deref(), Some("+6281234567890"));
    assert_eq!(
        mt[0].param("coding").as_deref(),
        Some("2"),
        "Ş is not in GSM-7: UCS-2"
    );
    // Kannel converted our UTF-8 to UCS-2 (UTF-16BE) for the SMSC, as coding=2 asks. (Its
    // generic HTTP SMSC mangles a UTF-16 unit whose high byte is 0x20, such as “ — a Kannel
    // quirk on the SMSC side, so this text avoids one.)
    assert_eq!(
        ucs2_param(&mt[0], "text"),
        "Pesanan SO-1 dikirim. Terima kasih Pak Şukri"
    );
    let dlr = reports.wait_for(1).await;
    assert_eq!(dlr[0].param("id").as_deref(), Some("out-77"));
    assert_eq!(
        dlr[0].param("sig").as_deref(),
        Some("signed.token-77"),
        "Kannel brings our token back"
    );
    assert_eq!(
        dlr[0].param("status").as_deref(),
        Some("8"),
        "submitted to the SMSC"
    );
    // Bad numbers and over-long texts never reach Kannel; bad credentials fail the health check.
    assert!(
        sms.send(&Sms {
            to: "081234567890".into(),
            ..message.clone()
        })
        .await
        .is_permanent()
    );
    assert!(
        sms.send(&Sms {
            body: "ş".repeat(250),
            ..message.clone()
        })
        .await
        .is_permanent()
    );
    let bad = KannelSms::with_password(config, "nope".into()).expect("builds");
    assert!(bad.health_check().await.is_err());
    drop(kannel);
}

#[tokio::test]
async fn twilio_compatible_api_follows_the_documented_shapes() {
    let api = HttpReceiver::start().await;
    let config = TwilioConfig {
        base_url: api.url(""),
        account_sid: "AC123".into(),
        auth_token_env: "UNUSED".into(),
        status_callback: Some("https://t.kayujaya.example/hooks/sms/twilio".into()),
        max_segments: 3,
        timeout_seconds: 5,
    };
    let sms = TwilioSms::with_token(config, "tok".into()).expect("twilio");
    api.script([
        (200, vec![], r#"{"sid":"AC123","status":"active"}"#.into()),
        (
            201,
            vec![],
            r#"{"sid":"SM0123456789abcdef","status":"queued","to":"+6281234567890"}"#.into(),
        ),
        (
            400,
            vec![],
            r#"{"code":21610,"message":"Attempt to send to unsubscribed recipient","status":400}"#
                .into(),
        ),
        (
            429,
            vec![("retry-after", "5".into())],
            r#"{"code":20429,"message":"Too Many Requests","status":429}"#.into(),
        ),
        (
            401,
            vec![],
            r#"{"code":20003,"message":"Authenticate","status":401}"#.into(),
        ),
    ]);
    sms.health_check().await.expect("account check");
    let message = Sms {
        id: "out-1".into(),
        to: "+6281234567890".into(),
        from: "+15005550006".into(),
        body: "Halo Budi".into(),
        status_callback: None,
        receipt_token: None,
    };
    assert_eq!(
        sms.send(&message).await,
        Outcome::Delivered {
            provider_id: Some("SM0123456789abcdef".into())
        }
    );
    assert!(
        matches!(sms.send(&message).await, Outcome::Permanent { code: Some(c), .. } if c == "21610")
    );
    assert!(
        matches!(sms.send(&message).await, Outcome::Transient { retry_after: Some(d), .. } if d == Duration::from_secs(5))
    );
    assert!(sms.health_check().await.is_err(), "refused credentials");
    let got = api.received();
    assert_eq!(got[0].uri.path(), "/2010-04-01/Accounts/AC123.json");
    assert_eq!(
        got[1].uri.path(),
        "/2010-04-01/Accounts/AC123/Messages.json"
    );
    assert_eq!(
        got[1].header("authorization"),
        format!("Basic {}", base64_basic("AC123", "tok"))
    );
    assert_eq!(got[1].param("To").as_deref(), Some("+6281234567890"));
    assert_eq!(got[1].param("Body").as_deref(), Some("Halo Budi"));
    assert_eq!(
        got[1].param("StatusCallback").as_deref(),
        Some("https://t.kayujaya.example/hooks/sms/twilio")
    );
}

/// A query parameter holding UCS-2 (UTF-16BE) bytes, decoded.
fn ucs2_param(r: &crate::support::Received, name: &str) -> String {
    let query = r.uri.query().unwrap_or("");
    let raw = query
        .split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .expect("parameter present");
    let bytes: Vec<u8> = percent_encoding::percent_decode_str(&raw.replace('+', " ")).collect();
    let units: Vec<u16> = bytes
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
        .collect();
    String::from_utf16_lossy(&units)
}

fn base64_basic(user: &str, pass: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
}

#[tokio::test]
async fn file_outbox_writes_real_eml_and_json_lines() {
    let dir = Scratch::new();
    let secret = Secret::generate();
    let outbox = FileOutbox::new(
        &dir.0,
        settings(),
        Secret::parse_list(&secret).expect("secret"),
        3,
    )
    .expect("outbox");
    Channel::<Email>::health_check(&outbox)
        .await
        .expect("writable");
    assert!(
        outbox
            .send(&email("o-1", "budi@example.co.id"))
            .await
            .is_delivered()
    );
    let eml = std::fs::read(dir.path("email/o-1.eml")).expect("eml written");
    let path = dir.write("o-1-copy.eml", "");
    std::fs::write(&path, &eml).expect("copy");
    let verdict = python(
        "dkim_verify.py",
        &[
            path.to_str().expect("utf-8"),
            fixtures().join("dkim-test.pub").to_str().expect("utf-8"),
        ],
        "",
    );
    assert_eq!(
        verdict.trim(),
        "ok",
        "the .eml is signed like SMTP mail: {verdict}"
    );
    let sms = Sms {
        id: "s-1".into(),
        to: "+6281234567890".into(),
        from: "KayuJaya".into(),
        body: "Halo 🙏".into(),
        status_callback: None,
        receipt_token: None,
    };
    assert!(outbox.send(&sms).await.is_delivered());
    let line: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(dir.path("sms.jsonl"))
            .expect("sms.jsonl")
            .lines()
            .next()
            .expect("a line"),
    )
    .expect("json");
    assert_eq!(
        (line["encoding"].as_str(), line["segments"].as_u64()),
        (Some("ucs2"), Some(1))
    );
    let hook = Webhook {
        id: "msg_1".into(),
        event_type: "campaign.message".into(),
        timestamp: chrono::Utc::now().timestamp(),
        data: serde_json::json!({"x": 1}),
    };
    assert!(outbox.send(&hook).await.is_delivered());
    let line: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(dir.path("webhooks.jsonl"))
            .expect("webhooks.jsonl")
            .lines()
            .next()
            .expect("a line"),
    )
    .expect("json");
    let case = serde_json::json!({ "secret": secret, "headers": line["headers"], "body": serde_json::to_string(&line["body"]).expect("json") }).to_string();
    assert_eq!(python("webhook_verify.py", &[], &case).trim(), "ok");
}
