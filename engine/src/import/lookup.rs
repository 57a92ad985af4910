//! Resolving the references in a batch (customer, order, product keys) with one query each.

use crate::error::{Error, Result};
use crate::store::Store;
use crate::with_pool;
use sqlx::AssertSqlSafe;
use std::collections::HashMap;

/// A table rows can refer to, and the column that holds its external key.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RefTable {
    Customers,
    Orders,
    Products,
}

impl RefTable {
    fn table_and_key(self) -> (&'static str, &'static str) {
        match self {
            RefTable::Customers => ("customers", "external_ref"),
            RefTable::Orders => ("orders", "external_ref"),
            RefTable::Products => ("products", "sku"),
        }
    }
}

/// Maps each external key that exists to its internal id; missing keys are simply absent.
pub(crate) async fn lookup_ids<'a>(
    store: &Store,
    table: RefTable,
    keys: impl IntoIterator<Item = &'a str>,
) -> Result<HashMap<String, i64>> {
    let mut keys: Vec<&str> = keys.into_iter().collect();
    keys.sort_unstable();
    keys.dedup();
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let (table_name, key) = table.table_and_key();
    let context = format!("looking up {table_name}");
    // Table and column names come from the closed set above; the keys are bound.
    let rows: Vec<(String, i64)> = match store {
        Store::Sqlite(pool) => {
            let sql = format!(
                "SELECT {key}, id FROM {table_name} WHERE {key} IN (SELECT value FROM json_each($1))"
            );
            let json = serde_json::to_string(&keys).unwrap_or_else(|_| "[]".into());
            sqlx::query_as(AssertSqlSafe(sql))
                .bind(json)
                .fetch_all(pool)
                .await
        }
        Store::Postgres(pool) => {
            let sql = format!("SELECT {key}, id FROM {table_name} WHERE {key} = ANY($1)");
            sqlx::query_as(AssertSqlSafe(sql))
                .bind(&keys)
                .fetch_all(pool)
                .await
        }
    }
    .map_err(Error::db(context))?;
    Ok(rows.into_iter().collect())
}

/// Which of `refs` name customers that were erased (their data must not come back).
pub(crate) async fn erased_customers(store: &Store, refs: &[&str]) -> Result<Vec<String>> {
    if refs.is_empty() {
        return Ok(Vec::new());
    }
    let found = lookup_ids(store, RefTable::Customers, refs.iter().copied()).await?;
    let ids: Vec<i64> = found.values().copied().collect();
    let erased: Vec<i64> = with_pool!(store, pool => {
        let mut erased = Vec::new();
        for id in &ids {
            let row: Option<(i64,)> = sqlx::query_as(
                "SELECT id FROM customers WHERE id = $1 AND erased_at IS NOT NULL",
            )
            .bind(id)
            .fetch_optional(pool)
            .await
            .map_err(Error::db("checking erased customers"))?;
            erased.extend(row.map(|r| r.0));
        }
        erased
    });
    Ok(found
        .into_iter()
        .filter(|(_, id)| erased.contains(id))
        .map(|(k, _)| k)
        .collect())
}
