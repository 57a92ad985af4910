//! A batch of rows held column by column (imports, outbox rows), written with one statement per batch: multi-row
//! `VALUES` on SQLite, one array per column through `UNNEST` on PostgreSQL (a 2,000-row
//! `VALUES` list costs PostgreSQL more to plan than to insert).

use crate::error::{Error, Result};
use crate::store::Store;
use sqlx::{AssertSqlSafe, QueryBuilder};

/// One column of a batch.
#[derive(Debug)]
pub(crate) enum Column {
    Text(Vec<Option<String>>),
    Int(Vec<Option<i64>>),
    Bool(Vec<bool>),
    /// JSON text, stored as JSONB on PostgreSQL and TEXT on SQLite.
    Json(Vec<String>),
}

impl Column {
    fn pg_array_type(&self) -> &'static str {
        match self {
            Column::Text(_) | Column::Json(_) => "text[]",
            Column::Int(_) => "bigint[]",
            Column::Bool(_) => "boolean[]",
        }
    }
}

/// Named columns of equal length.
#[derive(Debug, Default)]
pub(crate) struct Columns {
    names: Vec<&'static str>,
    columns: Vec<Column>,
    rows: usize,
}

impl Columns {
    fn push(&mut self, name: &'static str, column: Column, len: usize) -> &mut Self {
        debug_assert!(
            self.names.is_empty() || len == self.rows,
            "column {name} has {len} rows, not {}",
            self.rows
        );
        self.rows = len;
        self.names.push(name);
        self.columns.push(column);
        self
    }

    pub(crate) fn text<S: Into<String>>(
        &mut self,
        name: &'static str,
        values: impl IntoIterator<Item = Option<S>>,
    ) -> &mut Self {
        let v: Vec<Option<String>> = values.into_iter().map(|s| s.map(Into::into)).collect();
        let n = v.len();
        self.push(name, Column::Text(v), n)
    }

    pub(crate) fn int(
        &mut self,
        name: &'static str,
        values: impl IntoIterator<Item = Option<i64>>,
    ) -> &mut Self {
        let v: Vec<Option<i64>> = values.into_iter().collect();
        let n = v.len();
        self.push(name, Column::Int(v), n)
    }

    pub(crate) fn bool(
        &mut self,
        name: &'static str,
        values: impl IntoIterator<Item = bool>,
    ) -> &mut Self {
        let v: Vec<bool> = values.into_iter().collect();
        let n = v.len();
        self.push(name, Column::Bool(v), n)
    }

    pub(crate) fn json(
        &mut self,
        name: &'static str,
        values: impl IntoIterator<Item = String>,
    ) -> &mut Self {
        let v: Vec<String> = values.into_iter().collect();
        let n = v.len();
        self.push(name, Column::Json(v), n)
    }
}

/// What to do on a key conflict and what to return: the SQL after the inserted rows.
#[derive(Debug)]
pub(crate) struct Tail<'a> {
    /// `ON CONFLICT …` (plain SQL, the same for both databases).
    pub(crate) on_conflict: &'a str,
    /// `RETURNING …` or empty.
    pub(crate) returning: &'a str,
}

/// Inserts the batch into `table`, returning the `RETURNING` rows decoded as `R`.
pub(crate) async fn insert<R>(
    store: &Store,
    table: &str,
    cols: &Columns,
    tail: &Tail<'_>,
    what: &str,
) -> Result<Vec<R>>
where
    R: Send
        + Unpin
        + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    if cols.rows == 0 {
        return Ok(Vec::new());
    }
    let names = cols.names.join(", ");
    match store {
        Store::Sqlite(pool) => {
            // SQLite allows 32,766 parameters per statement.
            let per_statement = (32_000 / cols.names.len()).max(1);
            let mut out = Vec::with_capacity(cols.rows);
            let mut tx = pool.begin().await.map_err(Error::db(what.to_owned()))?;
            let mut start = 0;
            while start < cols.rows {
                let end = (start + per_statement).min(cols.rows);
                let mut qb =
                    QueryBuilder::<sqlx::Sqlite>::new(format!("INSERT INTO {table} ({names}) "));
                qb.push_values(start..end, |mut b, i| {
                    for c in &cols.columns {
                        match c {
                            Column::Text(v) => b.push_bind(v[i].clone()),
                            Column::Int(v) => b.push_bind(v[i]),
                            Column::Bool(v) => b.push_bind(v[i]),
                            Column::Json(v) => b.push_bind(v[i].clone()),
                        };
                    }
                });
                qb.push(" ")
                    .push(tail.on_conflict)
                    .push(" ")
                    .push(tail.returning);
                if tail.returning.is_empty() {
                    qb.build()
                        .execute(&mut *tx)
                        .await
                        .map_err(Error::db(what.to_owned()))?;
                } else {
                    out.extend(
                        qb.build_query_as::<R>()
                            .fetch_all(&mut *tx)
                            .await
                            .map_err(Error::db(what.to_owned()))?,
                    );
                }
                start = end;
            }
            tx.commit().await.map_err(Error::db(what.to_owned()))?;
            Ok(out)
        }
        Store::Postgres(pool) => {
            let params: Vec<String> = cols
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| format!("${}::{}", i + 1, c.pg_array_type()))
                .collect();
            let select: Vec<String> = cols
                .names
                .iter()
                .zip(&cols.columns)
                .map(|(n, c)| match c {
                    Column::Json(_) => format!("u.{n}::jsonb"),
                    _ => format!("u.{n}"),
                })
                .collect();
            // Names and types come from the code; every value is in a bound array.
            let sql = format!(
                "INSERT INTO {table} ({names}) SELECT {} FROM UNNEST({}) AS u({names}) {} {}",
                select.join(", "),
                params.join(", "),
                tail.on_conflict,
                tail.returning
            );
            let mut q = sqlx::query_as::<_, R>(AssertSqlSafe(sql));
            for c in &cols.columns {
                q = match c {
                    Column::Text(v) => q.bind(v),
                    Column::Int(v) => q.bind(v),
                    Column::Bool(v) => q.bind(v),
                    Column::Json(v) => q.bind(v),
                };
            }
            if tail.returning.is_empty() {
                // query_as over no columns: execute and discard.
                q.fetch_all(pool).await.map(|_: Vec<R>| Vec::new())
            } else {
                q.fetch_all(pool).await
            }
            .map_err(Error::db(what.to_owned()))
        }
    }
}
