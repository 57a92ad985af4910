//! Event types: the names every recorded fact carries (`email.opened`, `order.placed`, …).

/// Event types jalin itself records or reacts to. Other well-formed names are accepted and
/// stored, so another system can post its own.
pub const KNOWN_EVENT_TYPES: &[&str] = &[
    "message.sent",
    "message.delivered",
    "message.failed",
    "email.opened",
    "email.clicked",
    "email.bounced",
    "email.unsubscribed",
    "sms.delivered",
    "sms.failed",
    "sms.clicked",
    "sms.unsubscribed",
    "sms.inbound",
    "webhook.delivered",
    "call.outcome",
    "call.callback_requested",
    "complaint.opened",
    "complaint.updated",
    "complaint.resolved",
    "order.placed",
    "order.status_changed",
    "order.delivered",
    "conversion.attributed",
    "offer.redeemed",
    "points.earned",
    "tier.upgraded",
    "tier.downgraded",
    "points.expiring",
    "consent.changed",
    "customer.first_order",
];

/// A fact to record.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Its type (`order.status_changed`).
    pub event_type: String,
    /// When it happened (Unix seconds).
    pub occurred_at: i64,
    /// Whom it concerns.
    pub customer_id: Option<i64>,
    /// The campaign it answers, if any.
    pub campaign: Option<String>,
    /// The message (outbox row) it answers, if any.
    pub message_id: Option<i64>,
    /// The link clicked, if any.
    pub link: Option<String>,
    /// Unique per fact: recording the same key again records nothing.
    pub idempotency_key: String,
    /// Details.
    pub payload: serde_json::Value,
}

impl NewEvent {
    /// An event about a customer, not tied to a campaign message.
    pub fn about(
        event_type: &str,
        customer_id: i64,
        idempotency_key: String,
        payload: serde_json::Value,
        at: i64,
    ) -> NewEvent {
        NewEvent {
            event_type: event_type.to_owned(),
            occurred_at: at,
            customer_id: Some(customer_id),
            campaign: None,
            message_id: None,
            link: None,
            idempotency_key,
            payload,
        }
    }
}

/// Records an event unless one with the same idempotency key exists; returns its id when new.
pub async fn record(
    store: &crate::store::Store,
    e: &NewEvent,
    recorded_at: i64,
) -> crate::Result<Option<i64>> {
    check_event_type(&e.event_type).map_err(crate::Error::Invalid)?;
    crate::with_pool!(store, pool => sqlx::query_scalar(
        "INSERT INTO events (event_type, occurred_at, customer_id, campaign, message_id, link, idempotency_key, payload, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id")
        .bind(&e.event_type).bind(e.occurred_at).bind(e.customer_id).bind(&e.campaign).bind(e.message_id)
        .bind(&e.link).bind(&e.idempotency_key).bind(sqlx::types::Json(&e.payload)).bind(recorded_at)
        .fetch_optional(pool).await)
    .map_err(crate::Error::db("recording an event"))
}

/// Checks that an event type is lower-case dotted words (`order.status_changed`), at most 64
/// characters.
pub fn check_event_type(name: &str) -> Result<&str, String> {
    let word = |w: &str| {
        let mut chars = w.chars();
        chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    if name.len() <= 64 && name.split('.').count() >= 2 && name.split('.').all(word) {
        Ok(name)
    } else {
        Err(format!(
            "{name:?} is not an event type (expected dotted lower-case words such as order.placed)"
        ))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn event_type_names() {
        for ok in super::KNOWN_EVENT_TYPES {
            assert!(super::check_event_type(ok).is_ok(), "{ok}");
        }
        for bad in [
            "opened",
            "Email.Opened",
            "email..opened",
            "email.opened'; drop",
            "",
        ] {
            assert!(super::check_event_type(bad).is_err(), "{bad}");
        }
    }
}
