//! Writing one validated batch per kind. Each batch is one statement (or one transaction), so a
//! batch is written whole or not at all; rows the database turns away come back as rejections
//! with their line numbers.

use super::lookup::{RefTable, erased_customers, lookup_ids};
use super::rows::{
    ComplaintRow, ConsentRow, CustomerRow, EventRow, OrderLineRow, OrderRow, ProductRow,
};
use super::{Parsed, Reject};
use crate::error::Result;
use crate::store::Store;
use crate::store::columns::{Columns, Tail, insert};
use std::collections::{HashMap, HashSet};

const DUPLICATE: &str = "duplicate: the same key appears on an earlier line of this file";

/// `… WHERE the row was not already written by this import run`: a key seen twice in one file
/// updates nothing the second time, and so is not returned.
fn upsert_tail(key: &str, table: &str, sets: &[&str], extra_where: &str) -> String {
    let sets: Vec<String> = sets.iter().map(|c| format!("{c} = excluded.{c}")).collect();
    format!(
        "ON CONFLICT ({key}) DO UPDATE SET {}, import_run = excluded.import_run \
         WHERE ({table}.import_run IS NULL OR {table}.import_run <> excluded.import_run){extra_where}",
        sets.join(", ")
    )
}

/// Splits a batch into rows whose reference resolved and rejections for those that did not.
fn resolve<'b, R>(
    batch: impl IntoIterator<Item = &'b Parsed<R>>,
    ids: &HashMap<String, i64>,
    column: &str,
    get: impl Fn(&R) -> &str,
    rejects: &mut Vec<Reject>,
) -> Vec<(&'b Parsed<R>, i64)>
where
    R: 'b,
{
    let mut ok = Vec::new();
    for p in batch {
        let key = get(&p.row);
        match ids.get(key) {
            Some(id) => ok.push((p, *id)),
            None => rejects.push(Reject::at(
                p,
                format!("{column}: no such reference {key:?} (import it first)"),
            )),
        }
    }
    ok
}

/// Rejects the rows whose key the upsert did not return.
fn reject_unwritten<'b, R: 'b>(
    rows: impl IntoIterator<Item = &'b Parsed<R>>,
    written: &HashSet<String>,
    key: impl Fn(&R) -> String,
    rejects: &mut Vec<Reject>,
) {
    for p in rows {
        if !written.contains(&key(&p.row)) {
            rejects.push(Reject::at(p, DUPLICATE.into()));
        }
    }
}

pub(crate) async fn customers(
    store: &Store,
    run: i64,
    batch: &[Parsed<CustomerRow>],
) -> Result<Vec<Reject>> {
    let rows: Vec<&CustomerRow> = batch.iter().map(|p| &p.row).collect();
    let mut cols = Columns::default();
    cols.text(
        "external_ref",
        rows.iter().map(|r| Some(r.external_ref.as_str())),
    )
    .text("kind", rows.iter().map(|r| Some(r.kind.as_str())))
    .text("name", rows.iter().map(|r| Some(r.name.as_str())))
    .text("email", rows.iter().map(|r| r.email.as_deref()))
    .text("phone", rows.iter().map(|r| r.phone.as_deref()))
    .text("locale", rows.iter().map(|r| Some(r.locale.as_str())))
    .text("time_zone", rows.iter().map(|r| Some(r.time_zone.as_str())))
    .text("region", rows.iter().map(|r| r.region.as_deref()))
    .text("city", rows.iter().map(|r| r.city.as_deref()))
    .text("industry", rows.iter().map(|r| r.industry.as_deref()))
    .int("created_at", rows.iter().map(|r| Some(r.created_at)))
    .json("attributes", rows.iter().map(|r| r.attributes.to_string()))
    .int("import_run", rows.iter().map(|_| Some(run)));
    let tail = upsert_tail(
        "external_ref",
        "customers",
        &[
            "kind",
            "name",
            "email",
            "phone",
            "locale",
            "time_zone",
            "region",
            "city",
            "industry",
            "created_at",
            "attributes",
        ],
        " AND customers.erased_at IS NULL",
    );
    let written: Vec<(String,)> = insert(
        store,
        "customers",
        &cols,
        &Tail {
            on_conflict: &tail,
            returning: "RETURNING external_ref",
        },
        "importing customers",
    )
    .await?;
    let written: HashSet<String> = written.into_iter().map(|r| r.0).collect();
    let missing: Vec<&str> = rows
        .iter()
        .map(|r| r.external_ref.as_str())
        .filter(|r| !written.contains(*r))
        .collect();
    let erased: HashSet<String> = erased_customers(store, &missing)
        .await?
        .into_iter()
        .collect();
    Ok(batch
        .iter()
        .filter(|p| !written.contains(&p.row.external_ref))
        .map(|p| {
            if erased.contains(&p.row.external_ref) {
                Reject::at(
                    p,
                    "external_ref: this customer was erased; their data is not re-imported".into(),
                )
            } else {
                Reject::at(p, DUPLICATE.into())
            }
        })
        .collect())
}

pub(crate) async fn products(
    store: &Store,
    run: i64,
    batch: &[Parsed<ProductRow>],
) -> Result<Vec<Reject>> {
    let rows: Vec<&ProductRow> = batch.iter().map(|p| &p.row).collect();
    let mut cols = Columns::default();
    cols.text("sku", rows.iter().map(|r| Some(r.sku.as_str())))
        .text("name", rows.iter().map(|r| Some(r.name.as_str())))
        .text("category", rows.iter().map(|r| Some(r.category.as_str())))
        .bool("make_to_order", rows.iter().map(|r| r.make_to_order))
        .int("unit_cost", rows.iter().map(|r| Some(r.unit_cost)))
        .int("list_price", rows.iter().map(|r| Some(r.list_price)))
        .text("currency", rows.iter().map(|r| Some(r.currency.code())))
        .int("import_run", rows.iter().map(|_| Some(run)));
    let tail = upsert_tail(
        "sku",
        "products",
        &[
            "name",
            "category",
            "make_to_order",
            "unit_cost",
            "list_price",
            "currency",
        ],
        "",
    );
    let written: Vec<(String,)> = insert(
        store,
        "products",
        &cols,
        &Tail {
            on_conflict: &tail,
            returning: "RETURNING sku",
        },
        "importing products",
    )
    .await?;
    let written: HashSet<String> = written.into_iter().map(|r| r.0).collect();
    let mut rejects = Vec::new();
    reject_unwritten(batch, &written, |r| r.sku.clone(), &mut rejects);
    Ok(rejects)
}

pub(crate) async fn orders(
    store: &Store,
    run: i64,
    batch: &[Parsed<OrderRow>],
) -> Result<Vec<Reject>> {
    let ids = lookup_ids(
        store,
        RefTable::Customers,
        batch.iter().map(|p| p.row.customer_ref.as_str()),
    )
    .await?;
    let mut rejects = Vec::new();
    let rows = resolve(
        batch,
        &ids,
        "customer_ref",
        |r| &r.customer_ref,
        &mut rejects,
    );
    let mut cols = Columns::default();
    cols.text(
        "external_ref",
        rows.iter().map(|(p, _)| Some(p.row.external_ref.as_str())),
    )
    .int("customer_id", rows.iter().map(|(_, id)| Some(*id)))
    .text(
        "status",
        rows.iter().map(|(p, _)| Some(p.row.status.as_str())),
    )
    .int("placed_at", rows.iter().map(|(p, _)| Some(p.row.placed_at)));
    for (i, name) in super::rows::STATUS_TIME_COLUMNS.into_iter().enumerate() {
        cols.int(name, rows.iter().map(|(p, _)| p.row.status_times[i]));
    }
    cols.int("expected_at", rows.iter().map(|(p, _)| p.row.expected_at))
        .int("value", rows.iter().map(|(p, _)| Some(p.row.value)))
        .int("cost", rows.iter().map(|(p, _)| Some(p.row.cost)))
        .int("discount", rows.iter().map(|(p, _)| Some(p.row.discount)))
        .text(
            "currency",
            rows.iter().map(|(p, _)| Some(p.row.currency.code())),
        )
        .text(
            "offer_code",
            rows.iter().map(|(p, _)| p.row.offer_code.as_deref()),
        )
        .text(
            "tracking_url",
            rows.iter().map(|(p, _)| p.row.tracking_url.as_deref()),
        )
        .int("import_run", rows.iter().map(|_| Some(run)));
    let tail = upsert_tail(
        "external_ref",
        "orders",
        &[
            "customer_id",
            "status",
            "placed_at",
            "confirmed_at",
            "in_production_at",
            "quality_check_at",
            "shipped_at",
            "delivered_at",
            "cancelled_at",
            "expected_at",
            "value",
            "cost",
            "discount",
            "currency",
            "offer_code",
            "tracking_url",
        ],
        "",
    );
    let written: Vec<(String,)> = insert(
        store,
        "orders",
        &cols,
        &Tail {
            on_conflict: &tail,
            returning: "RETURNING external_ref",
        },
        "importing orders",
    )
    .await?;
    let written: HashSet<String> = written.into_iter().map(|r| r.0).collect();
    reject_unwritten(
        rows.iter().map(|(p, _)| *p),
        &written,
        |r| r.external_ref.clone(),
        &mut rejects,
    );
    Ok(rejects)
}

pub(crate) async fn order_lines(
    store: &Store,
    run: i64,
    batch: &[Parsed<OrderLineRow>],
) -> Result<Vec<Reject>> {
    let orders = lookup_ids(
        store,
        RefTable::Orders,
        batch.iter().map(|p| p.row.order_ref.as_str()),
    )
    .await?;
    let products = lookup_ids(
        store,
        RefTable::Products,
        batch.iter().map(|p| p.row.sku.as_str()),
    )
    .await?;
    let mut rejects = Vec::new();
    let mut rows = Vec::new();
    for (p, order_id) in resolve(batch, &orders, "order_ref", |r| &r.order_ref, &mut rejects) {
        match products.get(&p.row.sku) {
            Some(product_id) => rows.push((p, order_id, *product_id)),
            None => rejects.push(Reject::at(
                p,
                format!(
                    "sku: no such product {:?} (import products first)",
                    p.row.sku
                ),
            )),
        }
    }
    let mut cols = Columns::default();
    cols.int("order_id", rows.iter().map(|(_, o, _)| Some(*o)))
        .int(
            "line_no",
            rows.iter().map(|(p, _, _)| Some(i64::from(p.row.line_no))),
        )
        .int("product_id", rows.iter().map(|(_, _, pr)| Some(*pr)))
        .int(
            "quantity",
            rows.iter().map(|(p, _, _)| Some(i64::from(p.row.quantity))),
        )
        .int(
            "unit_price",
            rows.iter().map(|(p, _, _)| Some(p.row.unit_price)),
        )
        .int("import_run", rows.iter().map(|_| Some(run)));
    let tail = upsert_tail(
        "order_id, line_no",
        "order_lines",
        &["product_id", "quantity", "unit_price"],
        "",
    );
    let written: Vec<(i64, i64)> = insert(
        store,
        "order_lines",
        &cols,
        &Tail {
            on_conflict: &tail,
            returning: "RETURNING order_id, CAST(line_no AS BIGINT)",
        },
        "importing order lines",
    )
    .await?;
    let written: HashSet<(i64, i64)> = written.into_iter().collect();
    for (p, order_id, _) in &rows {
        if !written.contains(&(*order_id, i64::from(p.row.line_no))) {
            rejects.push(Reject::at(p, DUPLICATE.into()));
        }
    }
    Ok(rejects)
}

pub(crate) async fn complaints(
    store: &Store,
    run: i64,
    batch: &[Parsed<ComplaintRow>],
) -> Result<Vec<Reject>> {
    let customers = lookup_ids(
        store,
        RefTable::Customers,
        batch.iter().map(|p| p.row.customer_ref.as_str()),
    )
    .await?;
    let orders = lookup_ids(
        store,
        RefTable::Orders,
        batch.iter().filter_map(|p| p.row.order_ref.as_deref()),
    )
    .await?;
    let mut rejects = Vec::new();
    let mut rows = Vec::new();
    for (p, customer_id) in resolve(
        batch,
        &customers,
        "customer_ref",
        |r| &r.customer_ref,
        &mut rejects,
    ) {
        match &p.row.order_ref {
            Some(order_ref) => match orders.get(order_ref) {
                Some(order_id) => rows.push((p, customer_id, Some(*order_id))),
                None => rejects.push(Reject::at(
                    p,
                    format!("order_ref: no such order {order_ref:?} (import orders first)"),
                )),
            },
            None => rows.push((p, customer_id, None)),
        }
    }
    let mut cols = Columns::default();
    cols.text(
        "external_ref",
        rows.iter()
            .map(|(p, _, _)| Some(p.row.external_ref.as_str())),
    )
    .int("customer_id", rows.iter().map(|(_, c, _)| Some(*c)))
    .int("order_id", rows.iter().map(|(_, _, o)| *o))
    .text(
        "category",
        rows.iter().map(|(p, _, _)| Some(p.row.category.as_str())),
    )
    .text(
        "severity",
        rows.iter().map(|(p, _, _)| Some(p.row.severity.as_str())),
    )
    .text(
        "channel",
        rows.iter().map(|(p, _, _)| Some(p.row.channel.as_str())),
    )
    .int(
        "opened_at",
        rows.iter().map(|(p, _, _)| Some(p.row.opened_at)),
    )
    .int(
        "resolved_at",
        rows.iter().map(|(p, _, _)| p.row.resolved_at),
    )
    .text(
        "summary",
        rows.iter().map(|(p, _, _)| Some(p.row.summary.as_str())),
    )
    .int("import_run", rows.iter().map(|_| Some(run)));
    let tail = upsert_tail(
        "external_ref",
        "complaints",
        &[
            "customer_id",
            "order_id",
            "category",
            "severity",
            "channel",
            "opened_at",
            "resolved_at",
            "summary",
        ],
        "",
    );
    let written: Vec<(String,)> = insert(
        store,
        "complaints",
        &cols,
        &Tail {
            on_conflict: &tail,
            returning: "RETURNING external_ref",
        },
        "importing complaints",
    )
    .await?;
    let written: HashSet<String> = written.into_iter().map(|r| r.0).collect();
    reject_unwritten(
        rows.iter().map(|(p, _, _)| *p),
        &written,
        |r| r.external_ref.clone(),
        &mut rejects,
    );
    Ok(rejects)
}

pub(crate) async fn consent(store: &Store, batch: &[Parsed<ConsentRow>]) -> Result<Vec<Reject>> {
    let ids = lookup_ids(
        store,
        RefTable::Customers,
        batch.iter().map(|p| p.row.customer_ref.as_str()),
    )
    .await?;
    let mut rejects = Vec::new();
    let rows = resolve(
        batch,
        &ids,
        "customer_ref",
        |r| &r.customer_ref,
        &mut rejects,
    );
    let mut history = Columns::default();
    history
        .int("customer_id", rows.iter().map(|(_, id)| Some(*id)))
        .text(
            "channel",
            rows.iter().map(|(p, _)| Some(p.row.channel.as_str())),
        )
        .bool("opted_in", rows.iter().map(|(p, _)| p.row.opted_in))
        .text(
            "source",
            rows.iter().map(|(p, _)| Some(p.row.source.as_str())),
        )
        .int(
            "changed_at",
            rows.iter().map(|(p, _)| Some(p.row.changed_at)),
        );
    insert::<(i64,)>(
        store,
        "consent_history",
        &history,
        &Tail {
            on_conflict: "ON CONFLICT (customer_id, channel, changed_at, opted_in) DO NOTHING",
            returning: "",
        },
        "importing consent history",
    )
    .await?;
    // The current state takes the latest change per (customer, channel): an upsert may touch
    // each row only once per statement. It is derived from the history, so writing it after
    // the history keeps both consistent even if this second write is retried.
    let mut latest: HashMap<(i64, &str), &ConsentRow> = HashMap::new();
    for (p, id) in &rows {
        let slot = latest
            .entry((*id, p.row.channel.as_str()))
            .or_insert(&p.row);
        if p.row.changed_at >= slot.changed_at {
            *slot = &p.row;
        }
    }
    let latest: Vec<(i64, &ConsentRow)> = latest.into_iter().map(|((id, _), r)| (id, r)).collect();
    let mut current = Columns::default();
    current
        .int("customer_id", latest.iter().map(|(id, _)| Some(*id)))
        .text(
            "channel",
            latest.iter().map(|(_, r)| Some(r.channel.as_str())),
        )
        .bool("opted_in", latest.iter().map(|(_, r)| r.opted_in))
        .text(
            "source",
            latest.iter().map(|(_, r)| Some(r.source.as_str())),
        )
        .int("changed_at", latest.iter().map(|(_, r)| Some(r.changed_at)));
    insert::<(i64,)>(
        store,
        "consents",
        &current,
        &Tail {
            on_conflict: "ON CONFLICT (customer_id, channel) DO UPDATE SET opted_in = excluded.opted_in, \
                          source = excluded.source, changed_at = excluded.changed_at \
                          WHERE excluded.changed_at >= consents.changed_at",
            returning: "",
        },
        "importing consent",
    )
    .await?;
    Ok(rejects)
}

pub(crate) async fn events(
    store: &Store,
    now: i64,
    batch: &[Parsed<EventRow>],
) -> Result<Vec<Reject>> {
    let ids = lookup_ids(
        store,
        RefTable::Customers,
        batch.iter().filter_map(|p| p.row.customer_ref.as_deref()),
    )
    .await?;
    let mut rejects = Vec::new();
    let mut rows = Vec::new();
    for p in batch {
        match &p.row.customer_ref {
            Some(r) => match ids.get(r) {
                Some(id) => rows.push((p, Some(*id))),
                None => rejects.push(Reject::at(
                    p,
                    format!("customer_ref: no such reference {r:?} (import it first)"),
                )),
            },
            None => rows.push((p, None)),
        }
    }
    let mut cols = Columns::default();
    cols.text(
        "event_type",
        rows.iter().map(|(p, _)| Some(p.row.event_type.as_str())),
    )
    .int(
        "occurred_at",
        rows.iter().map(|(p, _)| Some(p.row.occurred_at)),
    )
    .int("customer_id", rows.iter().map(|(_, c)| *c))
    .text(
        "campaign",
        rows.iter().map(|(p, _)| p.row.campaign.as_deref()),
    )
    .text("link", rows.iter().map(|(p, _)| p.row.link.as_deref()))
    .text(
        "idempotency_key",
        rows.iter()
            .map(|(p, _)| Some(p.row.idempotency_key.as_str())),
    )
    .json(
        "payload",
        rows.iter().map(|(p, _)| p.row.payload.to_string()),
    )
    .int("recorded_at", rows.iter().map(|_| Some(now)));
    // A repeated idempotency key is recorded once: that is what makes re-imports safe.
    insert::<(i64,)>(
        store,
        "events",
        &cols,
        &Tail {
            on_conflict: "ON CONFLICT (idempotency_key) DO NOTHING",
            returning: "",
        },
        "importing events",
    )
    .await?;
    Ok(rejects)
}
