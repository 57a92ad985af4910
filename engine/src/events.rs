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
