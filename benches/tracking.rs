//! `wrk` against the open pixel and the click redirect of `jalin serve` with valid tokens —
//! every request a different message, so every request must store one event — and, in the
//! same run, `wrk` against nginx serving the same 43-byte GIF as a static file (the ceiling of
//! an HTTP server on this machine). Afterwards the stored events are counted.
//!
//! ```sh
//! cargo bench --bench tracking -- [SECONDS] [CONNECTIONS] [sqlite|postgres]
//! ```
//! Runs on SQLite (the embedded default) and on PostgreSQL (`jalin_bench_tracking` on
//! 127.0.0.1, or `JALIN_BENCH_PG_ADMIN`'s server); naming one backend runs only that one.

mod common;

use jalin_channels::tracking::{Purpose, TrackingKeys};
use jalin_engine::store::Store;
use jalin_engine::with_pool;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Messages in the database: more than a run can request, so no token is used twice.
const MESSAGES: i64 = 1_200_000;
const CUSTOMERS: i64 = 1_000;
const SECRET: &str = "bench-tracking-secret-0123456789abcdef";
const LINK: &str = "https://kayujaya.example/koleksi/sofa-jati?utm_source=jalin";

/// Each wrk thread reads its own file of paths (a different message's token on every line, so
/// no two requests of a run share one) a line at a time, and starts it again from the top if
/// a run gets to its end (a repeated token stores nothing new, which the count afterwards would
/// show). The file is read as the run goes, not before: wrk starts each thread as soon as that
/// thread's `init` returns and starts its clock after the last, so a slow `init` would let the
/// first thread send requests that count in a run that had not begun. The request is put
/// together by hand: `wrk.format` builds tables for every request, and wrk shares the two cores
/// with the server it measures.
const WRK_SCRIPT: &str = r#"
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
function init(args)
  paths = io.open(args[1] .. "-" .. tid .. ".txt", "r")
  tail = " HTTP/1.1\r\nHost: " .. wrk.host .. ":" .. wrk.port .. "\r\n\r\n"
end
function request()
  local path = paths:read("*l")
  if not path then
    paths:seek("set")
    path = paths:read("*l")
  end
  return "GET " .. path .. tail
end
"#;

/// wrk's threads.
const THREADS: usize = 2;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What wrk printed, read.
#[derive(Debug, Default)]
struct Wrk {
    requests: u64,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    bad: u64,
}

fn millis(text: &str) -> f64 {
    let (number, unit) = text
        .find(|c: char| c.is_ascii_alphabetic())
        .map_or((text, "ms"), |i| text.split_at(i));
    let v: f64 = number.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => v / 1000.0,
        "s" => v * 1000.0,
        "m" => v * 60_000.0,
        _ => v,
    }
}

fn parse_wrk(out: &str) -> Wrk {
    let mut w = Wrk::default();
    for line in out.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["50%", v] => w.p50_ms = millis(v),
            ["99%", v] => w.p99_ms = millis(v),
            ["Requests/sec:", v] => w.per_second = v.parse().unwrap_or(0.0),
            [n, "requests", "in", ..] => w.requests = n.parse().unwrap_or(0),
            ["Non-2xx", "or", "3xx", "responses:", n] => w.bad += n.parse().unwrap_or(0),
            ["Socket", "errors:", rest @ ..] => {
                w.bad += rest
                    .iter()
                    .filter_map(|s| s.trim_end_matches(',').parse::<u64>().ok())
                    .sum::<u64>();
            }
            _ => {}
        }
    }
    w
}

fn wrk(dir: &Path, url: &str, paths: &Path, seconds: u64, connections: u64) -> Wrk {
    let script = dir.join("paths.lua");
    std::fs::write(&script, WRK_SCRIPT).expect("write wrk script");
    let out = Command::new("wrk")
        .args([
            &format!("-t{THREADS}"),
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--latency",
            "-s",
        ])
        .arg(&script)
        .arg(url)
        .arg("--")
        .arg(paths)
        .output()
        .expect("wrk (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "wrk failed: {text}");
    parse_wrk(&text)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn wait_port(port: u16) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "port {port} never opened"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// nginx's master process, stopped with `nginx -s stop` so that its workers stop too (killing
/// the master alone leaves them running).
struct Nginx {
    master: Child,
    root: PathBuf,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let stopped = Command::new("nginx")
            .args(["-e", "stderr", "-p"])
            .arg(&self.root)
            .arg("-c")
            .arg(self.root.join("nginx.conf"))
            .args(["-s", "stop"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !stopped {
            let _ = self.master.kill();
        }
        let _ = self.master.wait();
    }
}

/// nginx serving `pixel.gif` for every path, with `worker_processes auto` and no access log.
fn nginx(dir: &Path) -> (Nginx, u16) {
    let port = free_port();
    let root = dir.join("nginx");
    std::fs::create_dir_all(root.join("logs")).expect("mkdir");
    std::fs::write(root.join("pixel.gif"), PIXEL).expect("pixel");
    let conf = format!(
        "daemon off;\nuser root;\nworker_processes auto;\npid {root}/nginx.pid;\nerror_log stderr;\n\
         events {{ worker_connections 4096; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {root}/tmp;\n  proxy_temp_path {root}/tmp;\n\
           fastcgi_temp_path {root}/tmp;\n  uwsgi_temp_path {root}/tmp;\n  scgi_temp_path {root}/tmp;\n\
           server {{\n    listen 127.0.0.1:{port};\n    root {root};\n    default_type image/gif;\n\
             location / {{ try_files /pixel.gif =404; }}\n  }}\n}}\n",
        root = root.display()
    );
    std::fs::write(root.join("nginx.conf"), conf).expect("nginx.conf");
    let child = Command::new("nginx")
        .args(["-e", "stderr", "-p"])
        .arg(&root)
        .arg("-c")
        .arg(root.join("nginx.conf"))
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx (apt-get install nginx-light)");
    wait_port(port);
    (
        Nginx {
            master: child,
            root,
        },
        port,
    )
}

const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// Customers, one sent campaign run per thousand messages, and `MESSAGES` sent emails.
async fn load(store: &Store) {
    let sql = [
        format!(
            "INSERT INTO customers (external_ref, kind, name, email, locale, time_zone, created_at)
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {CUSTOMERS})
             SELECT 'B' || i, 'consumer', 'Pelanggan', 'b' || i || '@example.co.id', 'id', 'Asia/Jakarta', 0 FROM n"
        ),
        format!(
            "INSERT INTO campaign_runs (campaign, trigger_key, kind, scheduled_for, created_at, status)
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {})
             SELECT 'promo', 'send:' || i, 'marketing', 0, 0, 'planned' FROM n",
            MESSAGES / CUSTOMERS
        ),
        "INSERT INTO outbox (run_id, campaign, kind, customer_id, channel, variant, status, created_at, sent_at)
         SELECT r.id, 'promo', 'marketing', c.id, 'email', 'a', 'sent', 0, 0
         FROM campaign_runs r CROSS JOIN customers c ORDER BY r.id, c.id"
            .to_owned(),
    ];
    for s in sql {
        with_pool!(store, pool => sqlx::query(sqlx::AssertSqlSafe(s.clone())).execute(pool).await.map(|_| ()))
            .unwrap_or_else(|e| panic!("{s}: {e}"));
    }
}

async fn count(store: &Store, sql: &str) -> i64 {
    with_pool!(store, pool => sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_owned())).fetch_one(pool).await)
        .expect("count")
}

/// Waits until the server has moved every staged hit into `events` (on SQLite a busy server
/// stages hits and moves the last of them once no request has come for 10 ms).
async fn settled(store: &Store) {
    let Store::Sqlite(pool) = store else { return };
    for _ in 0..100 {
        let staged: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM staged_hits")
            .fetch_one(pool)
            .await
            .expect("staged hits");
        if staged == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server left hits staged ten seconds after the run");
}

/// One path per message, `/t/o/TOKEN` or `/t/c/TOKEN`, dealt out to one file per wrk thread
/// (`opens-0.txt`, `opens-1.txt`, …); returns the files' common prefix.
fn token_files(dir: &Path, ids: &[i64], purpose: Purpose) -> PathBuf {
    let keys = TrackingKeys::new(SECRET.as_bytes().to_vec(), vec![]).expect("key");
    let (name, prefix, url) = match purpose {
        Purpose::Click => ("clicks", "/t/c/", Some(LINK)),
        _ => ("opens", "/t/o/", None),
    };
    let mut files: Vec<_> = (0..THREADS)
        .map(|t| {
            let file = std::fs::File::create(dir.join(format!("{name}-{t}.txt")));
            std::io::BufWriter::new(file.expect("token file"))
        })
        .collect();
    for (i, &id) in ids.iter().enumerate() {
        writeln!(
            files[i % THREADS],
            "{prefix}{}",
            keys.sign(purpose, id, url)
        )
        .expect("write");
    }
    for f in &mut files {
        f.flush().expect("flush");
    }
    dir.join(name)
}

fn report(label: &str, w: &Wrk, ceiling: &Wrk, stored: Option<i64>) {
    let stored = stored.map_or_else(
        || "(static file)".to_owned(),
        |s| format!("{s} events stored"),
    );
    println!(
        "{label:<34} {:>9.0} req/s  {:>5.1}% of nginx  p50 {:>6.2} ms  p99 {:>6.2} ms  {} requests, {} errors, {stored}",
        w.per_second,
        100.0 * w.per_second / ceiling.per_second,
        w.p50_ms,
        w.p99_ms,
        w.requests,
        w.bad,
    );
}

async fn run(label: &str, url: &str, dir: &Path, seconds: u64, connections: u64) {
    let store = Store::connect(url).await.expect("database");
    store.migrate().await.expect("migrate");
    if count(&store, "SELECT COUNT(*) FROM outbox").await < MESSAGES {
        eprintln!("{label}: loading {MESSAGES} sent messages");
        load(&store).await;
    }
    with_pool!(&store, pool => sqlx::query("DELETE FROM events").execute(pool).await.map(|_| ()))
        .expect("clear events");
    if let Store::Sqlite(pool) = &store {
        sqlx::query("DELETE FROM staged_hits")
            .execute(pool)
            .await
            .expect("clear staged hits");
    }
    let ids: Vec<i64> = with_pool!(&store, pool => sqlx::query_scalar(
        "SELECT id FROM outbox ORDER BY id").fetch_all(pool).await)
    .expect("ids");
    let opens = token_files(dir, &ids, Purpose::Open);
    let clicks = token_files(dir, &ids, Purpose::Click);
    std::fs::create_dir_all(dir.join("config")).expect("config dir");
    std::fs::write(
        dir.join("config/jalin.toml"),
        "[tracking]\nbase_url = \"http://127.0.0.1\"\nsecret_env = \"JALIN_BENCH_TRACKING_SECRET\"\n",
    )
    .expect("config");

    let (nginx, nginx_port) = nginx(dir);
    let ceiling = wrk(
        dir,
        &format!("http://127.0.0.1:{nginx_port}"),
        &opens,
        seconds,
        connections,
    );
    drop(nginx);

    let port = free_port();
    let server = Killed(
        Command::new(env!("CARGO_BIN_EXE_jalin"))
            .arg("--config")
            .arg(dir.join("config"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("JALIN_DATABASE_URL", url)
            .env("JALIN_BENCH_TRACKING_SECRET", SECRET)
            .env("RUST_LOG", "warn")
            .current_dir(dir)
            .stderr(Stdio::null())
            .spawn()
            .expect("jalin serve"),
    );
    wait_port(port);
    let base = format!("http://127.0.0.1:{port}");
    let open = wrk(dir, &base, &opens, seconds, connections);
    settled(&store).await;
    let opened = count(
        &store,
        "SELECT COUNT(*) FROM events WHERE event_type = 'email.opened'",
    )
    .await;
    let click = wrk(dir, &base, &clicks, seconds, connections);
    settled(&store).await;
    let clicked = count(
        &store,
        "SELECT COUNT(*) FROM events WHERE event_type = 'email.clicked'",
    )
    .await;
    let rss = common::peak_rss_mb_of(&server.0.id().to_string());
    drop(server);

    println!(
        "\n{label}: wrk -t{THREADS} -c{connections} -d{seconds}s --latency, distinct valid tokens"
    );
    report("nginx, static 43-byte GIF", &ceiling, &ceiling, None);
    report(
        "jalin GET /t/o/{token} (open)",
        &open,
        &ceiling,
        Some(opened),
    );
    report(
        "jalin GET /t/c/{token} (click 302)",
        &click,
        &ceiling,
        Some(clicked),
    );
    println!("jalin serve peak RSS {rss:.0} MB");
    // Every answered request is stored; a request wrk gave up on at the end of the run may be
    // stored without being counted, at most one per connection.
    for (what, w, stored) in [("opens", &open, opened), ("clicks", &click, clicked)] {
        let answered = i64::try_from(w.requests - w.bad).unwrap_or(i64::MAX);
        assert!(
            stored >= answered && stored <= answered + connections as i64,
            "{what}: {stored} events stored for {answered} answered requests"
        );
    }
    store.close().await;
}

fn main() {
    // Numbers are the seconds and connections, words name backends (cargo bench adds `--bench`).
    let words: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let (args, backends): (Vec<&String>, Vec<&String>) =
        words.iter().partition(|w| w.parse::<u64>().is_ok());
    let args: Vec<u64> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let only = |backend: &str| backends.is_empty() || backends.iter().any(|b| *b == backend);
    let seconds = args.first().copied().unwrap_or(10);
    let connections = args.get(1).copied().unwrap_or(64);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let bench = Path::new(env!("CARGO_MANIFEST_DIR")).join(".bench/tracking");
        std::fs::create_dir_all(&bench).expect("mkdir .bench/tracking");
        let db = bench.join("tracking.db");
        if only("sqlite") {
            run(
                "SQLite",
                &format!("sqlite://{}", db.display()),
                &bench,
                seconds,
                connections,
            )
            .await;
        }
        if !only("postgres") {
            return;
        }
        let admin = std::env::var("JALIN_BENCH_PG_ADMIN")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        if let Ok(Store::Postgres(pool)) = Store::connect(&admin).await {
            let _ = sqlx::query("CREATE DATABASE jalin_bench_tracking")
                .execute(&pool)
                .await;
        }
        let url = format!(
            "{}/jalin_bench_tracking",
            &admin[..admin.rfind('/').unwrap_or(admin.len())]
        );
        run("PostgreSQL", &url, &bench, seconds, connections).await;
    });
}
