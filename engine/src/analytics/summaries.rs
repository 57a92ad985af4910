//! `customer_summaries`: each customer's purchase totals (count, first and last purchase,
//! revenue, cost of goods, discounts) and points (balance, earned in 12 months) — everything the
//! scores are computed from. Kept up to date incrementally: a pass sums again only customers
//! whose orders changed since the last one (orders added, rewritten by an import, whose time
//! has come, or changed by the orders webhook) and whose points changed (entries posted, or
//! earned points that left the 12-month window).

use crate::campaigns::{read_cursor, write_cursor};
use crate::error::{Error, Result};
use crate::store::{Backend, Store};
use crate::with_pool;

/// Purchase totals of the customers selected by `{filter}` (orders that are neither quotes nor
/// cancelled, placed by `$1`).
const SUM_ORDERS: &str = "INSERT INTO customer_summaries (customer_id, orders, first_at, last_at, revenue, cogs, discount)
     SELECT customer_id, COUNT(*), MIN(placed_at), MAX(placed_at), SUM(value), SUM(cost), SUM(discount)
     FROM orders WHERE status NOT IN ('quoted', 'cancelled') AND placed_at <= $1 {filter}
     GROUP BY customer_id ORDER BY customer_id
     ON CONFLICT (customer_id) DO UPDATE SET orders = excluded.orders, first_at = excluded.first_at,
       last_at = excluded.last_at, revenue = excluded.revenue, cogs = excluded.cogs, discount = excluded.discount";

/// Points of the customers selected by `{filter}`: the balance and what was earned in the year
/// to `$1`.
const SUM_POINTS: &str = "INSERT INTO customer_summaries (customer_id, points, points_12m)
     SELECT customer_id, SUM(points),
            SUM(CASE WHEN points > 0 AND occurred_at > $1 - 31536000 AND occurred_at <= $1 THEN points ELSE 0 END)
     FROM loyalty_ledger WHERE TRUE {filter}
     GROUP BY customer_id ORDER BY customer_id
     ON CONFLICT (customer_id) DO UPDATE SET points = excluded.points, points_12m = excluded.points_12m";

/// Every customer's totals from scratch (`$1` now).
const SUM_ALL: &str = "INSERT INTO customer_summaries
       (customer_id, orders, first_at, last_at, revenue, cogs, discount, points, points_12m)
     SELECT COALESCE(o.customer_id, l.customer_id), COALESCE(o.n, 0), o.first_at, o.last_at,
            COALESCE(o.revenue, 0), COALESCE(o.cogs, 0), COALESCE(o.discount, 0),
            COALESCE(l.points, 0), COALESCE(l.points_12m, 0)
     FROM (SELECT customer_id, COUNT(*) AS n, MIN(placed_at) AS first_at, MAX(placed_at) AS last_at,
                  SUM(value) AS revenue, SUM(cost) AS cogs, SUM(discount) AS discount
           FROM orders WHERE status NOT IN ('quoted', 'cancelled') AND placed_at <= $1
           GROUP BY customer_id) o
     FULL OUTER JOIN
          (SELECT customer_id, SUM(points) AS points,
                  SUM(CASE WHEN points > 0 AND occurred_at > $1 - 31536000 AND occurred_at <= $1 THEN points ELSE 0 END) AS points_12m
           FROM loyalty_ledger GROUP BY customer_id) l
       ON l.customer_id = o.customer_id
     ORDER BY 1";

/// Brings the summaries up to `now`; returns how many customers were summed again (None for a
/// full rebuild, the first time).
pub async fn refresh(store: &Store, now: i64) -> Result<Option<u64>> {
    let ctx = "summing customers' orders and points";
    let c = Cursors::read(store).await?;
    let (max_order, max_run, max_event, max_entry): (i64, i64, i64, i64) =
        with_pool!(store, pool => sqlx::query_as(
        "SELECT (SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM orders),
                (SELECT CAST(COALESCE(MAX(import_run), 0) AS BIGINT) FROM orders),
                (SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM events),
                (SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM loyalty_ledger)")
        .fetch_one(pool).await)
        .map_err(Error::db(ctx))?;
    let full = c.order == 0 && c.run == 0 && c.entry == 0;
    // For the orders: $1 now, $2–$3 order ids, $4–$5 import runs, $6 last now, $7–$8 event ids.
    let changed_orders = "AND customer_id IN (SELECT customer_id FROM orders
           WHERE (id > $2 AND id <= $3) OR (import_run > $4 AND import_run <= $5) OR (placed_at > $6 AND placed_at <= $1)
         UNION SELECT customer_id FROM events
           WHERE id > $7 AND id <= $8 AND event_type IN ('order.placed', 'order.status_changed', 'order.delivered')
             AND customer_id IS NOT NULL)";
    // For the points: $1 now, $2 last now, $3–$4 ledger ids.
    let changed_points = "AND customer_id IN (SELECT customer_id FROM loyalty_ledger
           WHERE (id > $3 AND id <= $4)
              OR (entry_kind IN ('earn', 'adjust') AND occurred_at > $2 - 31536000 AND occurred_at <= $1 - 31536000))";
    let pg = store.backend() == Backend::Postgres;
    let resummed = with_pool!(store, pool => async {
        let mut tx = pool.begin().await?;
        if pg {
            // A full rebuild hashes every customer: room to do it in memory.
            sqlx::query("SET LOCAL work_mem = '256MB'").execute(&mut *tx).await?;
        }
        if full {
            sqlx::query("DELETE FROM customer_summaries").execute(&mut *tx).await?;
            sqlx::query(SUM_ALL).bind(now).execute(&mut *tx).await?;
            tx.commit().await?;
            return Ok::<_, sqlx::Error>(0);
        }
        let reset = {
            // Customers whose every order was cancelled have no row to upsert: zero them first.
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE customer_summaries SET orders = 0, first_at = NULL, last_at = NULL, revenue = 0, cogs = 0, discount = 0
                 WHERE TRUE {changed_orders}")))
                .bind(now).bind(c.order).bind(max_order).bind(c.run).bind(max_run).bind(c.at)
                .bind(c.event).bind(max_event)
                .execute(&mut *tx).await?.rows_affected()
        };
        let orders = sqlx::query(sqlx::AssertSqlSafe(SUM_ORDERS.replace("{filter}", changed_orders)))
            .bind(now).bind(c.order).bind(max_order).bind(c.run).bind(max_run).bind(c.at).bind(c.event).bind(max_event)
            .execute(&mut *tx).await?.rows_affected();
        let points = sqlx::query(sqlx::AssertSqlSafe(SUM_POINTS.replace("{filter}", changed_points)))
            .bind(now).bind(c.at).bind(c.entry).bind(max_entry)
            .execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        Ok::<_, sqlx::Error>(reset.max(orders) + points)
    }.await)
    .map_err(Error::db(ctx))?;
    for (name, value) in [
        ("summary_order_id", max_order),
        ("summary_import_run", max_run),
        ("summary_order_at", now),
        ("summary_event_id", max_event),
        ("summary_ledger_id", max_entry),
    ] {
        write_cursor(store, name, value).await?;
    }
    Ok((!full).then_some(resummed))
}

/// How far the last pass got.
struct Cursors {
    order: i64,
    run: i64,
    at: i64,
    event: i64,
    entry: i64,
}

impl Cursors {
    async fn read(store: &Store) -> Result<Cursors> {
        Ok(Cursors {
            order: read_cursor(store, "summary_order_id").await?,
            run: read_cursor(store, "summary_import_run").await?,
            at: read_cursor(store, "summary_order_at").await?,
            event: read_cursor(store, "summary_event_id").await?,
            entry: read_cursor(store, "summary_ledger_id").await?,
        })
    }
}
