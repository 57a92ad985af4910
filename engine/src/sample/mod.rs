//! `jalin generate-sample`: deterministic CSVs of a believable Indonesian manufacturer.
//!
//! Purchase behaviour follows the BG/NBD story (Fader, Hardie & Lee 2005) so the analytics can
//! be checked against known parameters: each customer buys as a Poisson process with a rate
//! λ ~ Gamma(r, α), may drop out after any repeat purchase with probability p ~ Beta(a, b),
//! and spends per order z ~ Gamma(p_spend, ν) with ν ~ Gamma(q, γ) (the Gamma-Gamma model).
//! A mild yearly seasonality (Lebaran and year-end) thins the purchase times. The same seed
//! and `as_of` date give byte-identical files.
//!
//! ```no_run
//! use jalin_engine::sample::{SampleParams, generate};
//! let params = SampleParams { customers: 1_000, ..SampleParams::default() };
//! let summary = generate("var/sample".as_ref(), &params, &|_done| {}).unwrap();
//! assert_eq!(summary.customers, 1_000);
//! ```

mod catalog;
mod live;

pub use live::live_events;
mod customer;

use crate::error::{Error, Result};
use chrono::{DateTime, NaiveTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// Customers generated per unit of work (and per random stream).
const CHUNK: u64 = 5_000;

/// The parameters of the sample world.
#[derive(Debug, Clone, Serialize)]
pub struct SampleParams {
    /// Number of customers.
    pub customers: u64,
    /// Random seed.
    pub seed: u64,
    /// The day the data ends (orders and events up to midnight UTC of this day).
    pub as_of: DateTime<Utc>,
    /// How far back customers were acquired, in weeks.
    pub history_weeks: f64,
    /// BG/NBD: shape of the purchase-rate distribution.
    pub r: f64,
    /// BG/NBD: rate of the purchase-rate distribution (per week).
    pub alpha: f64,
    /// BG/NBD: dropout Beta(a, b).
    pub a: f64,
    /// BG/NBD: dropout Beta(a, b).
    pub b: f64,
    /// Gamma-Gamma: shape of the per-order spend.
    pub p_spend: f64,
    /// Gamma-Gamma: shape of the per-customer spend scale ν.
    pub q_spend: f64,
    /// Gamma-Gamma: rate of ν, so mean spend is `p·γ/(q−1)` million rupiah.
    pub gamma_spend: f64,
}

impl Default for SampleParams {
    fn default() -> Self {
        let today = Utc::now().date_naive().and_time(NaiveTime::MIN).and_utc();
        SampleParams {
            customers: 10_000,
            seed: 20_240_617,
            as_of: today,
            history_weeks: 156.0,
            r: 2.0,
            alpha: 8.0,
            a: 0.7,
            b: 7.0,
            p_spend: 6.0,
            q_spend: 4.0,
            gamma_spend: 1.5,
        }
    }
}

/// What was generated.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SampleSummary {
    /// Customers written.
    pub customers: u64,
    /// Orders written.
    pub orders: u64,
    /// Order lines written.
    pub order_lines: u64,
    /// Complaints written.
    pub complaints: u64,
    /// Consent rows written.
    pub consents: u64,
    /// Events written.
    pub events: u64,
    /// Products written.
    pub products: u64,
}

/// The files a sample consists of, in the order they must be imported.
pub const FILES: &[(&str, &str)] = &[
    ("products", "products.csv"),
    ("customers", "customers.csv"),
    ("consent", "consent.csv"),
    ("orders", "orders.csv"),
    ("order-lines", "order-lines.csv"),
    ("complaints", "complaints.csv"),
    ("events", "events.csv"),
];

const HEADERS: [&str; 6] = [
    "external_ref,kind,name,email,phone,locale,time_zone,region,city,industry,created_at,attributes\n",
    "customer_ref,channel,status,source,changed_at\n",
    "external_ref,customer_ref,status,placed_at,confirmed_at,in_production_at,quality_check_at,shipped_at,delivered_at,cancelled_at,expected_at,value,cost,discount,currency,offer_code,tracking_url\n",
    "order_ref,line_no,sku,quantity,unit_price\n",
    "external_ref,customer_ref,order_ref,category,severity,channel,opened_at,resolved_at,summary\n",
    "idempotency_key,event_type,occurred_at,customer_ref,campaign,link,payload\n",
];

/// The CSV text of one chunk of customers, one buffer per file.
#[derive(Default)]
pub(crate) struct ChunkOut {
    pub(crate) files: [Vec<u8>; 6],
    pub(crate) summary: SampleSummary,
}

/// Writes the sample CSVs into `out` (created if missing). `progress` receives the number of
/// customers written so far.
pub fn generate(
    out: &Path,
    params: &SampleParams,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<SampleSummary> {
    std::fs::create_dir_all(out).map_err(Error::io(out.display().to_string()))?;
    write_products(out)?;
    let names = [
        "customers.csv",
        "consent.csv",
        "orders.csv",
        "order-lines.csv",
        "complaints.csv",
        "events.csv",
    ];
    let mut writers = Vec::new();
    for (name, header) in names.iter().zip(HEADERS) {
        let path = out.join(name);
        let file = std::fs::File::create(&path).map_err(Error::io(path.display().to_string()))?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
        w.write_all(header.as_bytes())
            .map_err(Error::io(path.display().to_string()))?;
        writers.push((path, w));
    }
    let chunks = params.customers.div_ceil(CHUNK);
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(8) as u64;
    let mut summary = SampleSummary {
        products: catalog::PRODUCTS.len() as u64,
        ..SampleSummary::default()
    };
    let (tx, rx) = std::sync::mpsc::sync_channel::<(u64, ChunkOut)>(threads as usize * 2);
    let write_result: Result<()> = std::thread::scope(|scope| {
        for t in 0..threads {
            let tx = tx.clone();
            scope.spawn(move || {
                let mut chunk = t;
                while chunk < chunks {
                    let first = chunk * CHUNK;
                    let last = ((chunk + 1) * CHUNK).min(params.customers);
                    let out = customer::generate_chunk(params, chunk, first..last);
                    if tx.send((chunk, out)).is_err() {
                        return;
                    }
                    chunk += threads;
                }
            });
        }
        drop(tx);
        // Chunks arrive out of order; write them in order so the files are deterministic.
        let mut pending: BTreeMap<u64, ChunkOut> = BTreeMap::new();
        let mut next = 0;
        for (index, chunk) in rx {
            pending.insert(index, chunk);
            while let Some(chunk) = pending.remove(&next) {
                for ((path, w), buf) in writers.iter_mut().zip(&chunk.files) {
                    w.write_all(buf)
                        .map_err(Error::io(path.display().to_string()))?;
                }
                add(&mut summary, &chunk.summary);
                progress(summary.customers);
                next += 1;
            }
        }
        Ok(())
    });
    write_result?;
    for (path, mut w) in writers {
        w.flush().map_err(Error::io(path.display().to_string()))?;
    }
    let truth = out.join("parameters.json");
    let text =
        serde_json::to_string_pretty(&serde_json::json!({ "params": params, "summary": &summary }))
            .unwrap_or_default();
    std::fs::write(&truth, text).map_err(Error::io(truth.display().to_string()))?;
    Ok(summary)
}

fn add(total: &mut SampleSummary, part: &SampleSummary) {
    total.customers += part.customers;
    total.orders += part.orders;
    total.order_lines += part.order_lines;
    total.complaints += part.complaints;
    total.consents += part.consents;
    total.events += part.events;
}

fn write_products(out: &Path) -> Result<()> {
    let path = out.join("products.csv");
    let mut w = csv::Writer::from_path(&path)
        .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
    let fail = |e: csv::Error| Error::Invalid(format!("{}: {e}", path.display()));
    w.write_record([
        "sku",
        "name",
        "category",
        "make_to_order",
        "unit_cost",
        "list_price",
        "currency",
    ])
    .map_err(fail)?;
    for p in catalog::PRODUCTS {
        let cost = (p.list_price as f64 * p.cost_share).round() as i64;
        w.write_record([
            p.sku,
            p.name,
            p.category,
            if p.make_to_order { "true" } else { "false" },
            &cost.to_string(),
            &p.list_price.to_string(),
            "IDR",
        ])
        .map_err(fail)?;
    }
    w.flush().map_err(Error::io(path.display().to_string()))
}
