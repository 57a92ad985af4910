//! Running compiled segments: counts, the member stream, previews.

use super::bind::{bind_values, check};
use super::{Compiler, Rule, SegmentSet};
use crate::error::{Error, Result};
use crate::store::Store;
use crate::with_pool;
use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};

/// How many members a rule selects now.
pub async fn count_members(
    store: &Store,
    segments: &SegmentSet,
    rule: &Rule,
    now: i64,
) -> Result<i64> {
    let c = Compiler::new(segments, store.backend(), now).count(rule)?;
    check(&c.values)?;
    with_pool!(store, pool => {
        let q = bind_values!(sqlx::query_scalar::<_, i64>(AssertSqlSafe(c.sql.clone())), c.values);
        q.fetch_one(pool).await
    })
    .map_err(Error::db("counting segment members"))
}

/// Streams member ids in id order, `page` at a time, to `each_page`; returns the total.
///
/// One query, read incrementally: memory stays flat in the audience size, and the rule (which
/// may join millions of order lines) runs once, not once per page.
pub async fn members<F>(
    store: &Store,
    segments: &SegmentSet,
    rule: &Rule,
    now: i64,
    page: u64,
    mut each_page: F,
) -> Result<u64>
where
    F: AsyncFnMut(&[i64]) -> Result<()>,
{
    use futures::TryStreamExt;
    let c = Compiler::new(segments, store.backend(), now).ids(rule)?;
    check(&c.values)?;
    let page = page.max(1) as usize;
    let mut total = 0u64;
    let mut buffer = Vec::with_capacity(page);
    with_pool!(store, pool => {
        let q = bind_values!(sqlx::query_scalar::<_, i64>(AssertSqlSafe(c.sql.clone())), c.values);
        let mut rows = q.fetch(pool);
        while let Some(id) = rows.try_next().await.map_err(Error::db("reading segment members"))? {
            buffer.push(id);
            if buffer.len() == page {
                total += buffer.len() as u64;
                each_page(&buffer).await?;
                buffer.clear();
            }
        }
    });
    if !buffer.is_empty() {
        total += buffer.len() as u64;
        each_page(&buffer).await?;
    }
    Ok(total)
}

/// A sample member and the values the rule looked at.
#[derive(Debug, Clone, Serialize)]
pub struct PreviewRow {
    /// Internal id.
    pub id: i64,
    /// The ERP's id.
    pub external_ref: String,
    /// Name.
    pub name: String,
    /// One value per label, as text (`None` when missing).
    pub values: Vec<Option<String>>,
}

/// Up to `limit` members with the values the rule compared, and the labels of those values.
pub async fn preview(
    store: &Store,
    segments: &SegmentSet,
    rule: &Rule,
    now: i64,
    limit: u64,
) -> Result<(Vec<String>, Vec<PreviewRow>)> {
    let (c, labels) = Compiler::new(segments, store.backend(), now).preview(rule, limit)?;
    check(&c.values)?;
    let n = labels.len();
    let rows: Vec<(i64, Vec<Option<String>>)> = with_pool!(store, pool => {
        let q = bind_values!(sqlx::query(AssertSqlSafe(c.sql.clone())), c.values);
        q.fetch_all(pool).await.and_then(|rows| {
            rows.iter()
                .map(|r| {
                    let id: i64 = r.try_get(0)?;
                    let values = (1..=n).map(|i| r.try_get::<Option<String>, _>(i)).collect::<Result<Vec<_>, _>>()?;
                    Ok((id, values))
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
        })
    })
    .map_err(Error::db("previewing the segment"))?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, values) in rows {
        let (external_ref, name): (String, String) = with_pool!(store, pool => sqlx::query_as(
            "SELECT external_ref, name FROM customers WHERE id = $1").bind(id).fetch_one(pool).await)
            .map_err(Error::db("previewing the segment"))?;
        out.push(PreviewRow {
            id,
            external_ref,
            name,
            values,
        });
    }
    Ok((labels, out))
}
