//! 100,000 emails of 20 KB through our SMTP pool to postfix's `smtp-sink`, against postfix's
//! `smtp-source` sending the same size over the same number of sessions to the same sink, in
//! one run; reports both rates, the ratio and our peak memory.
//!
//! scripts/bench smtp        (or: cargo bench -p jalin-channels --bench smtp)
//! Environment: JALIN_SMTP_SINK, JALIN_SMTP_SOURCE, JALIN_POSTFIX_LIB (scripts/services.sh sets
//! them), JALIN_BENCH_MESSAGES (default 100000), JALIN_BENCH_SESSIONS (default 10).

use futures::StreamExt;
use jalin_channels::email::smtp::{SmtpConfig, SmtpEmail};
use jalin_channels::email::{Email, EmailSettings, Unsubscribe};
use jalin_channels::{Channel, Outcome};
use std::process::{Command, Stdio};
use std::time::Instant;

fn tool(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_owned())
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let n: usize = std::env::var("JALIN_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let sessions: usize = std::env::var("JALIN_BENCH_SESSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let lib = tool(
        "JALIN_POSTFIX_LIB",
        "/opt/jalin-tools/postfix/usr/lib/postfix",
    );
    let sink_bin = tool(
        "JALIN_SMTP_SINK",
        "/opt/jalin-tools/postfix/usr/sbin/smtp-sink",
    );
    let source_bin = tool(
        "JALIN_SMTP_SOURCE",
        "/opt/jalin-tools/postfix/usr/sbin/smtp-source",
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let mut sink = Command::new(&sink_bin)
        .env("LD_LIBRARY_PATH", &lib)
        .args(["-u", "nobody", &format!("127.0.0.1:{port}"), "1024"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start smtp-sink (scripts/services.sh unpacks it)");
    std::thread::sleep(std::time::Duration::from_millis(500));

    // The reference: smtp-source, 20 KB messages, `sessions` connections reused (-d).
    let started = Instant::now();
    let status = Command::new(&source_bin)
        .env("LD_LIBRARY_PATH", &lib)
        .args([
            "-d",
            "-s",
            &sessions.to_string(),
            "-l",
            "20480",
            "-m",
            &n.to_string(),
            "-f",
            "bench@kayujaya.example",
            "-t",
            "sink@example.co.id",
            &format!("127.0.0.1:{port}"),
        ])
        .status()
        .expect("run smtp-source");
    assert!(status.success());
    let reference = n as f64 / started.elapsed().as_secs_f64();

    // Ours: the same size and sessions, through the pool.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (ours, failures) = runtime.block_on(async {
        let config = SmtpConfig {
            host: "127.0.0.1".into(),
            port,
            security: "none".into(),
            username: None,
            password_env: None,
            pool_size: sessions as u32,
            timeout_seconds: 30,
            hello_name: Some("bench.kayujaya.example".into()),
        };
        let settings = EmailSettings::new("PT Kayu Jaya Nusantara <halo@kayujaya.example>", None, None).expect("settings");
        let smtp = SmtpEmail::new(&config, settings).expect("smtp");
        let row = "<tr><td style=\"padding:8px;border-bottom:1px solid #eee\">Sofa Jepara 3 dudukan jati, finishing natural</td><td align=\"right\">Rp 8.500.000</td></tr>\n";
        let html = format!("<html><body><p>Halo Budi,</p><table>{}</table></body></html>", row.repeat(165));
        let text = "Halo Budi,\nKatalog terbaru kami ada di https://kayujaya.example/katalog\n".repeat(10);
        let started = Instant::now();
        let failures = futures::stream::iter(0..n)
            .map(|i| {
                let smtp = &smtp;
                let email = Email {
                    id: format!("bench-{i}"),
                    to: format!("customer{i}@example.co.id"),
                    to_name: Some("Budi Santoso".into()),
                    subject: "Koleksi baru untuk toko Anda".into(),
                    html: html.clone(),
                    text: text.clone(),
                    unsubscribe: Some(Unsubscribe { url: format!("https://t.kayujaya.example/u/{i}"), mailto: None }),
                    open_pixel: Some(format!("https://t.kayujaya.example/t/o/{i}")),
                    headers: vec![],
                };
                async move { smtp.send(&email).await }
            })
            .buffer_unordered(sessions * 2)
            .filter(|o| std::future::ready(!matches!(o, Outcome::Delivered { .. })))
            .count()
            .await;
        (n as f64 / started.elapsed().as_secs_f64(), failures)
    });
    let _ = sink.kill();
    let _ = sink.wait();
    println!(
        "messages: {n} × ~{} KB, {sessions} sessions, same smtp-sink",
        20
    );
    println!("smtp-source (reference): {reference:.0} msg/s");
    println!("jalin SMTP pool:         {ours:.0} msg/s ({failures} not delivered)");
    println!(
        "ratio: {:.0}% of the sink's ceiling",
        100.0 * ours / reference
    );
    println!("peak RSS of the jalin process: {:.1} MB", peak_rss_mb());
}
