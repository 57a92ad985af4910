//! The queue's own throughput on Redis, side by side with BullMQ on the same Redis in the same
//! run: N no-op jobs enqueued in bulk, then processed at concurrency C.
//!
//! ```sh
//! (cd benches/bullmq && npm install)            # once: the reference
//! cargo bench --bench queue -- 100000 50
//! ```

use jalin_workers::queue::{DeliverBatch, Handler, Queue};
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

async fn ours(n: usize, concurrency: usize) -> (f64, f64) {
    let name = format!("jalin.bench.{}", std::process::id());
    let queue = Queue::connect_named("redis://127.0.0.1:6379", &name)
        .await
        .expect("Redis on 127.0.0.1:6379");
    let start = Instant::now();
    let mut i = 0;
    while i < n {
        let end = (i + 1000).min(n);
        let jobs = (i..end)
            .map(|j| DeliverBatch {
                ids: vec![j as i64],
            })
            .collect();
        queue.push_many(jobs).await.expect("push");
        i = end;
    }
    let enqueue = n as f64 / start.elapsed().as_secs_f64();
    let done = Arc::new(AtomicUsize::new(0));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let stop = Arc::new(std::sync::Mutex::new(Some(stop)));
    let handler = {
        let done = done.clone();
        Handler::new(move |_job: DeliverBatch| {
            let done = done.clone();
            let stop = stop.clone();
            Box::pin(async move {
                if done.fetch_add(1, Ordering::Relaxed) + 1 == n
                    && let Some(s) = stop.lock().ok().and_then(|mut s| s.take())
                {
                    let _ = s.send(());
                }
                Ok(())
            })
        })
    };
    let start = Instant::now();
    queue
        .clone()
        .work_with(
            format!("bench-{}", std::process::id()),
            concurrency,
            handler,
            async move {
                let _ = stopped.await;
            },
        )
        .await
        .expect("worker");
    let process = n as f64 / start.elapsed().as_secs_f64();
    (enqueue, process)
}

fn bullmq(n: usize, concurrency: usize) -> Option<serde_json::Value> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/bullmq");
    if !dir.join("node_modules/bullmq").exists() {
        eprintln!("BullMQ is not installed: (cd benches/bullmq && npm install)");
        return None;
    }
    let out = std::process::Command::new("node")
        .arg(dir.join("bench.js"))
        .args([n.to_string(), concurrency.to_string()])
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

fn main() {
    let args: Vec<String> = std::env::args().filter(|a| !a.starts_with('-')).collect();
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let concurrency: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(50);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (enqueue, process) = rt.block_on(ours(n, concurrency));
    let rss = common::peak_rss_mb();
    let reference = bullmq(n, concurrency);
    println!("queue on Redis, {n} no-op jobs, concurrency {concurrency}");
    println!(
        "{:<10} {:>14} {:>14} {:>10}",
        "", "enqueue/s", "process/s", "peak RSS"
    );
    println!(
        "{:<10} {:>14.0} {:>14.0} {:>8.0} MB",
        "jalin", enqueue, process, rss
    );
    if let Some(r) = reference {
        let e = r["enqueue_per_s"].as_f64().unwrap_or(f64::NAN);
        let p = r["process_per_s"].as_f64().unwrap_or(f64::NAN);
        let m = r["rss_mb"].as_f64().unwrap_or(f64::NAN);
        println!("{:<10} {:>14.0} {:>14.0} {:>8.0} MB", "BullMQ", e, p, m);
        println!(
            "{:<10} {:>14.2} {:>14.2} {:>10}",
            "ratio",
            enqueue / e,
            process / p,
            ""
        );
    }
}
