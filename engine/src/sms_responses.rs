//! What SMS providers tell us back: delivery receipts for messages we sent, and messages
//! customers send us — a STOP (or BERHENTI) withdraws SMS consent.

use crate::error::{Error, Result};
use crate::events::{NewEvent, record};
use crate::responses::set_consent;
use crate::store::Store;
use crate::with_pool;

/// Words that end SMS marketing, in the customer's reply (whole message, any case): the
/// carriers' standard English keywords and the Indonesian *berhenti*.
pub const STOP_WORDS: &[&str] = &[
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "BERHENTI",
];

/// Whether an inbound message asks to stop.
pub fn is_stop(body: &str) -> bool {
    let word = body.trim().trim_end_matches(['.', '!']).to_uppercase();
    STOP_WORDS.contains(&word.as_str())
}

/// A delivery receipt's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Receipt {
    /// The handset has it.
    Delivered,
    /// It will not arrive; `permanent` failures (unknown or unreachable number) suppress the
    /// number; `opted_out` means the recipient had replied STOP to the provider.
    Failed {
        /// The provider's error code.
        code: Option<String>,
        /// No retry can fix it.
        permanent: bool,
        /// The provider refused because the recipient opted out.
        opted_out: bool,
    },
}

/// Records a receipt for the SMS the provider knows as `provider_id`. Returns None when no
/// message of ours has that id, else whether a new event was stored (`key` makes a replay a
/// no-op).
pub async fn record_receipt(
    store: &Store,
    provider_id: &str,
    receipt: &Receipt,
    key: &str,
    now: i64,
) -> Result<Option<bool>> {
    let found: Option<(i64, String, i64, Option<String>)> = with_pool!(store, pool => sqlx::query_as(
        "SELECT id, campaign, customer_id, address FROM outbox WHERE provider_id = $1 AND channel = 'sms'
         ORDER BY id LIMIT 1").bind(provider_id).fetch_optional(pool).await)
    .map_err(Error::db("finding the message of a receipt"))?;
    let Some((message, campaign, customer, address)) = found else {
        return Ok(None);
    };
    let (kind, payload) = match receipt {
        Receipt::Delivered => (
            "sms.delivered",
            serde_json::json!({ "provider_id": provider_id }),
        ),
        Receipt::Failed {
            code,
            permanent,
            opted_out,
        } => (
            "sms.failed",
            serde_json::json!({ "provider_id": provider_id, "code": code, "permanent": permanent, "opted_out": opted_out }),
        ),
    };
    let e = NewEvent {
        campaign: Some(campaign),
        message_id: Some(message),
        ..NewEvent::about(kind, customer, format!("sms-receipt:{key}"), payload, now)
    };
    if record(store, &e, now).await?.is_none() {
        return Ok(Some(false));
    }
    if let Receipt::Failed {
        permanent,
        opted_out,
        code,
    } = receipt
    {
        if *opted_out {
            set_consent(
                store,
                customer,
                "sms",
                false,
                "provider: recipient replied STOP",
                now,
            )
            .await?;
        }
        if (*permanent || *opted_out)
            && let Some(number) = address
        {
            let reason = format!(
                "sms failed permanently ({})",
                code.as_deref().unwrap_or("no code")
            );
            crate::campaigns::suppress(store, "sms", &number, &reason, now).await?;
        }
    }
    Ok(Some(true))
}

/// What an inbound SMS did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Inbound {
    /// Customers with that number.
    pub customers: u64,
    /// Whether it was a STOP (their SMS consent is withdrawn).
    pub stop: bool,
    /// Whether it was new (not a replay of `key`).
    pub recorded: bool,
}

/// Records a message from `from` (E.164): `sms.unsubscribed` and consent withdrawn for every
/// customer with that number when it is a STOP, `sms.inbound` otherwise (for the call center).
pub async fn record_inbound(
    store: &Store,
    from: &str,
    body: &str,
    key: &str,
    now: i64,
) -> Result<Inbound> {
    let customers: Vec<i64> = with_pool!(store, pool => sqlx::query_scalar(
        "SELECT id FROM customers WHERE phone = $1 AND erased_at IS NULL ORDER BY id")
        .bind(from).fetch_all(pool).await)
    .map_err(Error::db("finding the sender"))?;
    let stop = is_stop(body);
    let kind = if stop {
        "sms.unsubscribed"
    } else {
        "sms.inbound"
    };
    let mut recorded = false;
    for &customer in &customers {
        let e = NewEvent::about(
            kind,
            customer,
            format!("sms-inbound:{key}:{customer}"),
            serde_json::json!({ "from": from, "body": body }),
            now,
        );
        if record(store, &e, now).await?.is_some() {
            recorded = true;
            if stop {
                set_consent(store, customer, "sms", false, "sms reply: STOP", now).await?;
            }
        }
    }
    Ok(Inbound {
        customers: customers.len() as u64,
        stop,
        recorded,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn stop_words() {
        for yes in [
            "STOP",
            "stop",
            " Berhenti ",
            "BERHENTI.",
            "unsubscribe",
            "Stop!",
        ] {
            assert!(super::is_stop(yes), "{yes}");
        }
        for no in ["please stop calling", "STOPP", "", "berhenti dulu"] {
            assert!(!super::is_stop(no), "{no}");
        }
    }
}
