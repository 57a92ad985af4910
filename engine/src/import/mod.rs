//! `jalin import KIND FILE.csv`: streaming CSV import with per-row validation.
//!
//! The file is read and validated on a blocking thread while the previous batch is written, so
//! memory stays constant in the file size. Every row is checked (types, enums, e-mail, E.164
//! phone, dates, references); a rejected row is reported with its line number and reason and
//! never written. Accepted rows are upserted in batches keyed by their external reference, so
//! importing the same file twice changes nothing; a key that appears twice in one file is
//! rejected on its second line.
//!
//! ```no_run
//! # async fn f(store: jalin_engine::store::Store) -> jalin_engine::Result<()> {
//! use jalin_engine::import::{ImportKind, ImportOptions, import_file};
//! let report = import_file(&store, ImportKind::Customers, "customers.csv".as_ref(),
//!                          &ImportOptions::default(), 0, &|_rows| {}).await?;
//! println!("{} accepted, {} rejected", report.accepted, report.rejected);
//! # Ok(()) }
//! ```

mod fields;
mod lookup;
mod rows;
mod write;

use crate::error::{Error, Result};
use crate::store::Store;
use crate::with_pool;
use csv::StringRecord;
use fields::{Fields, Header};
use rows::{ComplaintRow, ConsentRow, CustomerRow, EventRow, OrderLineRow, OrderRow, ProductRow};
use serde::Serialize;
use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Instant;

crate::model::string_enum! {
    /// What a CSV file holds.
    pub enum ImportKind("import kind") {
        /// `customers.csv`
        Customers = "customers",
        /// `products.csv`
        Products = "products",
        /// `orders.csv`
        Orders = "orders",
        /// `order-lines.csv`
        OrderLines = "order-lines",
        /// `complaints.csv`
        Complaints = "complaints",
        /// `consent.csv`
        Consent = "consent",
        /// `events.csv`
        Events = "events",
    }
}

impl ImportKind {
    /// The columns a file of this kind must have, then those it may have.
    pub fn columns(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            ImportKind::Customers => (CustomerRow::REQUIRED, CustomerRow::OPTIONAL),
            ImportKind::Products => (ProductRow::REQUIRED, ProductRow::OPTIONAL),
            ImportKind::Orders => (OrderRow::REQUIRED, OrderRow::OPTIONAL),
            ImportKind::OrderLines => (OrderLineRow::REQUIRED, OrderLineRow::OPTIONAL),
            ImportKind::Complaints => (ComplaintRow::REQUIRED, ComplaintRow::OPTIONAL),
            ImportKind::Consent => (ConsentRow::REQUIRED, ConsentRow::OPTIONAL),
            ImportKind::Events => (EventRow::REQUIRED, EventRow::OPTIONAL),
        }
    }
}

/// How to run an import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Rows per write batch.
    pub batch_size: usize,
    /// Where to write rejected rows: `line`, `reason`, then the row's original fields.
    pub reject_file: Option<PathBuf>,
    /// How many rejections to keep in the report (all of them go to the reject file).
    pub keep_rejects: usize,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            batch_size: 5000,
            reject_file: None,
            keep_rejects: 1000,
        }
    }
}

/// One row that was not imported.
#[derive(Debug, Clone, Serialize)]
pub struct Rejection {
    /// 1-based line number in the file (the header is line 1).
    pub line: u64,
    /// Why, starting with the column at fault.
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    /// The kind of rows.
    pub kind: ImportKind,
    /// The file read.
    pub file: String,
    /// Data rows read.
    pub rows: u64,
    /// Rows written (inserted or updated).
    pub accepted: u64,
    /// Rows refused.
    pub rejected: u64,
    /// The first rejections, in line order.
    pub rejections: Vec<Rejection>,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Rows per second.
    pub rows_per_second: f64,
}

/// A row that parsed, with where it came from.
#[derive(Debug)]
pub(crate) struct Parsed<R> {
    pub(crate) line: u64,
    pub(crate) row: R,
    pub(crate) record: StringRecord,
}

/// A row that did not make it, with its original fields for the reject file.
#[derive(Debug)]
pub(crate) struct Reject {
    line: u64,
    reason: String,
    record: Option<StringRecord>,
}

impl Reject {
    pub(crate) fn at<R>(p: &Parsed<R>, reason: String) -> Reject {
        Reject {
            line: p.line,
            reason,
            record: Some(p.record.clone()),
        }
    }
}

/// What every kind of row provides to the import driver.
pub(crate) trait Row: Sized + Send + 'static {
    const KIND: ImportKind;
    fn parse(fields: &Fields<'_>) -> Result<Self, String>;
    /// The in-file identity of a row, when a repeat is an error.
    fn key(&self) -> Option<String>;
    fn write(
        store: &Store,
        run: i64,
        now: i64,
        batch: &[Parsed<Self>],
    ) -> impl Future<Output = Result<Vec<Reject>>> + Send;
}

macro_rules! row_kind {
    ($row:ty, $kind:ident, |$r:ident| $key:expr, |$store:ident, $run:ident, $now:ident, $batch:ident| $write:expr) => {
        impl Row for $row {
            const KIND: ImportKind = ImportKind::$kind;
            fn parse(fields: &Fields<'_>) -> Result<Self, String> {
                <$row>::parse(fields)
            }
            #[allow(unused_variables)]
            fn key(&self) -> Option<String> {
                let $r = self;
                $key
            }
            #[allow(unused_variables)]
            fn write(
                $store: &Store,
                $run: i64,
                $now: i64,
                $batch: &[Parsed<Self>],
            ) -> impl Future<Output = Result<Vec<Reject>>> + Send {
                $write
            }
        }
    };
}

row_kind!(
    CustomerRow,
    Customers,
    |r| Some(r.external_ref.clone()),
    |s, run, now, b| write::customers(s, run, b)
);
row_kind!(
    ProductRow,
    Products,
    |r| Some(r.sku.clone()),
    |s, run, now, b| write::products(s, run, b)
);
row_kind!(
    OrderRow,
    Orders,
    |r| Some(r.external_ref.clone()),
    |s, run, now, b| write::orders(s, run, b)
);
row_kind!(
    OrderLineRow,
    OrderLines,
    |r| Some(r.key()),
    |s, run, now, b| write::order_lines(s, run, b)
);
row_kind!(
    ComplaintRow,
    Complaints,
    |r| Some(r.external_ref.clone()),
    |s, run, now, b| write::complaints(s, run, b)
);
row_kind!(ConsentRow, Consent, |r| None, |s, run, now, b| {
    write::consent(s, b)
});
row_kind!(
    EventRow,
    Events,
    |r| Some(r.idempotency_key.clone()),
    |s, run, now, b| write::events(s, now, b)
);

/// Imports `path` as `kind`. `now` is the current time (epoch seconds) for `recorded_at`;
/// `progress` is called with the number of rows handled after each batch.
///
/// A file whose header is wrong is refused before anything is written. Otherwise the report
/// lists the rejected rows; the accepted ones are committed.
pub async fn import_file(
    store: &Store,
    kind: ImportKind,
    path: &Path,
    options: &ImportOptions,
    now: i64,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<ImportReport> {
    match kind {
        ImportKind::Customers => run::<CustomerRow>(store, path, options, now, progress).await,
        ImportKind::Products => run::<ProductRow>(store, path, options, now, progress).await,
        ImportKind::Orders => run::<OrderRow>(store, path, options, now, progress).await,
        ImportKind::OrderLines => run::<OrderLineRow>(store, path, options, now, progress).await,
        ImportKind::Complaints => run::<ComplaintRow>(store, path, options, now, progress).await,
        ImportKind::Consent => run::<ConsentRow>(store, path, options, now, progress).await,
        ImportKind::Events => run::<EventRow>(store, path, options, now, progress).await,
    }
}

/// A batch from the reader thread.
struct Batch<R> {
    rows: Vec<Parsed<R>>,
    rejects: Vec<Reject>,
}

async fn run<R: Row>(
    store: &Store,
    path: &Path,
    options: &ImportOptions,
    now: i64,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<ImportReport> {
    let started = Instant::now();
    let shown = path.display().to_string();
    let file = std::fs::File::open(path).map_err(Error::io(shown.clone()))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(std::io::BufReader::with_capacity(1 << 20, file));
    let (required, optional) = R::KIND.columns();
    let header_record = reader
        .headers()
        .map_err(|e| Error::Invalid(format!("{shown}:1: cannot read the header: {e}")))?
        .clone();
    let header = Header::check(&header_record, required, optional)
        .map_err(|e| Error::Invalid(format!("{shown}:1: {e}")))?;

    let mut rejects_out = match &options.reject_file {
        Some(p) => {
            // Flexible: a rejected row may have the wrong number of fields, which is why it
            // was rejected; line and reason come first so every row still lines up.
            let mut w = csv::WriterBuilder::new()
                .flexible(true)
                .from_path(p)
                .map_err(|e| Error::Invalid(format!("{}: {e}", p.display())))?;
            let head: Vec<&str> = ["line", "reason"]
                .into_iter()
                .chain(header.names.iter())
                .collect();
            w.write_record(&head)
                .map_err(|e| Error::Invalid(format!("{}: {e}", p.display())))?;
            Some(w)
        }
        None => None,
    };

    let run_id = start_run(store, R::KIND, &shown, now).await?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Batch<R>>(2);
    let batch_size = options.batch_size.max(1);
    let reader_thread =
        tokio::task::spawn_blocking(move || read_batches(reader, &header, batch_size, &tx));

    let mut report = ImportReport {
        kind: R::KIND,
        file: shown.clone(),
        rows: 0,
        accepted: 0,
        rejected: 0,
        rejections: Vec::new(),
        seconds: 0.0,
        rows_per_second: 0.0,
    };
    while let Some(mut batch) = rx.recv().await {
        let read = (batch.rows.len() + batch.rejects.len()) as u64;
        // A key repeated inside one batch: the first occurrence wins, later ones are rejected.
        let mut first_line: HashMap<String, u64> = HashMap::new();
        let mut rows = Vec::with_capacity(batch.rows.len());
        for p in batch.rows {
            match p.row.key() {
                Some(k) => match first_line.get(&k) {
                    Some(first) => {
                        let reason = format!("duplicate: the same key is on line {first}");
                        batch.rejects.push(Reject::at(&p, reason));
                    }
                    None => {
                        first_line.insert(k, p.line);
                        rows.push(p);
                    }
                },
                None => rows.push(p),
            }
        }
        let mut rejects = R::write(store, run_id, now, &rows).await?;
        rejects.append(&mut batch.rejects);
        rejects.sort_by_key(|r| r.line);
        report.rows += read;
        report.rejected += rejects.len() as u64;
        report.accepted += read - rejects.len() as u64;
        if let Some(w) = rejects_out.as_mut() {
            for r in &rejects {
                let line = r.line.to_string();
                let fields = r.record.iter().flat_map(|rec| rec.iter());
                let out: Vec<&str> = [line.as_str(), r.reason.as_str()]
                    .into_iter()
                    .chain(fields)
                    .collect();
                w.write_record(&out)
                    .map_err(|e| Error::Invalid(format!("reject file: {e}")))?;
            }
        }
        for r in rejects {
            if report.rejections.len() < options.keep_rejects {
                report.rejections.push(Rejection {
                    line: r.line,
                    reason: r.reason,
                });
            }
        }
        progress(report.rows);
    }
    let read_result = reader_thread
        .await
        .map_err(|e| Error::Invalid(format!("{shown}: reader stopped: {e}")))?;
    if let Some(mut w) = rejects_out {
        w.flush().map_err(Error::io("reject file"))?;
    }
    read_result?;
    report.rejections.sort_by_key(|r| r.line);
    report.seconds = started.elapsed().as_secs_f64();
    report.rows_per_second = report.rows as f64 / report.seconds.max(1e-9);
    finish_run(store, run_id, &report, now).await?;
    if report.accepted >= 1_000 {
        refresh_statistics(store, R::KIND).await?;
    }
    Ok(report)
}

/// The tables an import writes.
fn tables(kind: ImportKind) -> &'static [&'static str] {
    match kind {
        ImportKind::Customers => &["customers"],
        ImportKind::Products => &["products"],
        ImportKind::Orders => &["orders"],
        ImportKind::OrderLines => &["order_lines"],
        ImportKind::Complaints => &["complaints"],
        ImportKind::Consent => &["consents", "consent_history"],
        ImportKind::Events => &["events"],
    }
}

/// Refreshes the planner's statistics after a bulk load: without them PostgreSQL plans segment
/// queries over freshly loaded tables as if they were nearly empty (a quadratic anti-join was
/// seen on 10 million orders).
async fn refresh_statistics(store: &Store, kind: ImportKind) -> Result<()> {
    match store {
        Store::Postgres(pool) => {
            for table in tables(kind) {
                sqlx::query(sqlx::AssertSqlSafe(format!("ANALYZE {table}")))
                    .execute(pool)
                    .await
                    .map_err(Error::db("refreshing statistics"))?;
            }
        }
        Store::Sqlite(pool) => {
            sqlx::query("PRAGMA optimize")
                .execute(pool)
                .await
                .map_err(Error::db("refreshing statistics"))?;
        }
    }
    Ok(())
}

/// Reads, parses and validates rows on a blocking thread, sending full batches.
fn read_batches<R: Row>(
    mut reader: csv::Reader<std::io::BufReader<std::fs::File>>,
    header: &Header,
    batch_size: usize,
    tx: &tokio::sync::mpsc::Sender<Batch<R>>,
) -> Result<()> {
    let width = header.names.len();
    let mut batch = Batch {
        rows: Vec::with_capacity(batch_size),
        rejects: Vec::new(),
    };
    let mut record = StringRecord::new();
    let mut last_line = 1;
    loop {
        let line;
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                line = record.position().map_or(last_line + 1, |p| p.line());
                if record.len() != width {
                    batch.rejects.push(Reject {
                        line,
                        reason: format!(
                            "has {} fields but the header has {width} (a stray comma or quote?)",
                            record.len()
                        ),
                        record: Some(record.clone()),
                    });
                } else {
                    match R::parse(&header.fields(&record)) {
                        Ok(row) => batch.rows.push(Parsed {
                            line,
                            row,
                            record: record.clone(),
                        }),
                        Err(reason) => batch.rejects.push(Reject {
                            line,
                            reason,
                            record: Some(record.clone()),
                        }),
                    }
                }
            }
            Err(e) => {
                line = e.position().map_or(last_line + 1, |p| p.line());
                let reason = match e.kind() {
                    csv::ErrorKind::Utf8 { .. } => "is not valid UTF-8 text".to_owned(),
                    _ => format!("cannot be read as CSV: {e}"),
                };
                batch.rejects.push(Reject {
                    line,
                    reason,
                    record: None,
                });
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    return Err(Error::Invalid(format!(
                        "reading stopped at line {line}: {e}"
                    )));
                }
            }
        }
        last_line = line;
        if batch.rows.len() + batch.rejects.len() >= batch_size {
            let full = std::mem::replace(
                &mut batch,
                Batch {
                    rows: Vec::with_capacity(batch_size),
                    rejects: Vec::new(),
                },
            );
            if tx.blocking_send(full).is_err() {
                return Ok(());
            }
        }
    }
    if !batch.rows.is_empty() || !batch.rejects.is_empty() {
        let _ = tx.blocking_send(batch);
    }
    Ok(())
}

async fn start_run(store: &Store, kind: ImportKind, file: &str, now: i64) -> Result<i64> {
    with_pool!(store, pool => sqlx::query_scalar(
        "INSERT INTO import_runs (kind, file, started_at) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(kind.as_str())
    .bind(file)
    .bind(now)
    .fetch_one(pool)
    .await)
    .map_err(Error::db("starting the import"))
}

async fn finish_run(store: &Store, id: i64, report: &ImportReport, now: i64) -> Result<()> {
    with_pool!(store, pool => sqlx::query(
        "UPDATE import_runs SET finished_at = $1, accepted = $2, rejected = $3 WHERE id = $4",
    )
    .bind(now)
    .bind(report.accepted as i64)
    .bind(report.rejected as i64)
    .bind(id)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))
    .map_err(Error::db("finishing the import"))?;
    Ok(())
}
