//! The statements a batch of hits is written with.

use super::{Hit, Pending, Recorded};
use crate::error::{Error, Result};
use crate::store::{Store, in_list};
use crate::with_pool;
use std::collections::HashSet;

/// Where a batch goes.
#[derive(Debug, Clone, Copy)]
pub(super) enum Target {
    /// Straight into `events`.
    Events,
    /// Into `staged_hits`, moved into `events` later (see [`super::stage`]).
    Staged,
}

/// The idempotency key of a hit: opens count once per message per minute, clicks once per
/// message, link and second.
fn key(p: &Pending) -> String {
    match &p.hit {
        Hit::Open => format!("open:{}:{}", p.message_id, p.at / 60),
        Hit::Click(url) => {
            let link_hash = crate::campaigns::fnv1a(&[url.as_bytes()]);
            format!("click:{}:{link_hash:x}:{}", p.message_id, p.at)
        }
    }
}

/// One statement, committed on its own: each hit joined to its message (the customer, the
/// campaign, and the channel that names a click `sms.clicked` or `email.clicked`) and inserted
/// into `target` unless its key is stored already (a staged hit's key is looked up in `events`
/// too). Only when some hit was not inserted does a second query tell a repeat from a message
/// that does not exist.
pub(super) async fn write(
    store: &Store,
    batch: &[Pending],
    target: Target,
) -> Result<Vec<Recorded>> {
    let keys: Vec<String> = batch.iter().map(key).collect();
    let context = "recording opens and clicks";
    let (insert, unless) = match target {
        Target::Events => (
            "INSERT INTO events (event_type, occurred_at, customer_id, campaign, message_id, link, idempotency_key, recorded_at)",
            "",
        ),
        Target::Staged => (
            "INSERT INTO staged_hits (event_type, occurred_at, customer_id, campaign, message_id, link, idempotency_key)",
            " AND NOT EXISTS (SELECT 1 FROM events e WHERE e.idempotency_key = h.column4)",
        ),
    };
    let mut inserted: HashSet<String> = with_pool!(store, pool, Db => {
        let mut qb = sqlx::QueryBuilder::<Db>::new(insert);
        qb.push(
            " SELECT CASE WHEN h.column3 IS NULL THEN 'email.opened' WHEN o.channel = 'sms' THEN 'sms.clicked' ELSE 'email.clicked' END,
                    h.column2, o.customer_id, o.campaign, o.id, h.column3, h.column4",
        );
        if matches!(target, Target::Events) {
            qb.push(", h.column2");
        }
        qb.push(" FROM (");
        qb.push_values(batch.iter().zip(&keys), |mut b, (p, key)| {
            let link = match &p.hit {
                Hit::Open => None,
                Hit::Click(url) => Some(url.as_str()),
            };
            b.push_bind(p.message_id)
                .push_bind(p.at)
                .push_bind(link)
                .push_bind(key.as_str());
        });
        // `WHERE TRUE` keeps SQLite from reading ON CONFLICT as part of the join.
        qb.push(") AS h JOIN outbox o ON o.id = h.column1 WHERE TRUE");
        qb.push(unless);
        qb.push(" ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key");
        qb.build_query_scalar::<String>()
            .fetch_all(pool)
            .await
            .map_err(Error::db(context))?
            .into_iter()
            .collect()
    });
    let mut known: Option<HashSet<i64>> = None;
    if inserted.len() < batch.len() {
        let ids: HashSet<i64> = batch.iter().map(|p| p.message_id).collect();
        let found: Vec<i64> = with_pool!(store, pool, Db => {
            let mut qb = sqlx::QueryBuilder::<Db>::new("SELECT id FROM outbox WHERE id IN (");
            in_list!(qb, ids.iter());
            qb.build_query_scalar().fetch_all(pool).await
        })
        .map_err(Error::db(context))?;
        known = Some(found.into_iter().collect());
    }
    // The first hit with a new key is the one recorded; the same key again is a repeat.
    Ok(batch
        .iter()
        .zip(keys)
        .map(|(p, key)| {
            if inserted.remove(&key) {
                Recorded::New
            } else if known.as_ref().is_some_and(|k| !k.contains(&p.message_id)) {
                Recorded::NoMessage
            } else {
                Recorded::Repeat
            }
        })
        .collect())
}
