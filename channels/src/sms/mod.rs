//! SMS through an HTTP gateway: Kannel's `sendsms` interface or a Twilio-compatible REST API.

pub mod encoding;
pub mod kannel;
pub mod twilio;

use serde::{Deserialize, Serialize};

/// One SMS to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sms {
    /// Our id for the message (the delivery report comes back with it).
    pub id: String,
    /// The recipient, E.164 (`+6281234567890`).
    pub to: String,
    /// The sender id or number.
    pub from: String,
    /// The text.
    pub body: String,
    /// Where the provider should post delivery receipts, if anywhere.
    pub status_callback: Option<String>,
    /// A signed token for the delivery-report URL (Kannel cannot sign its callbacks).
    pub receipt_token: Option<String>,
}

/// Whether `to` is an E.164 number: `+`, then 8 to 15 digits, the first not 0.
pub fn is_e164(to: &str) -> bool {
    let Some(digits) = to.strip_prefix('+') else {
        return false;
    };
    (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// The checks every gateway makes before sending: a real number, a non-empty body within
/// `max_segments`.
pub(crate) fn precheck(
    sms: &Sms,
    max_segments: usize,
) -> Result<encoding::SmsInfo, crate::Outcome> {
    if !is_e164(&sms.to) {
        return Err(crate::Outcome::Permanent {
            reason: format!("{:?} is not an E.164 phone number", sms.to),
            code: Some("invalid_number".into()),
        });
    }
    if sms.body.trim().is_empty() {
        return Err(crate::Outcome::permanent("the SMS body is empty"));
    }
    let info = encoding::analyze(&sms.body);
    if info.segments > max_segments {
        return Err(crate::Outcome::Permanent {
            reason: format!(
                "the SMS takes {} segments ({:?}, {} units), more than the {max_segments} allowed",
                info.segments, info.encoding, info.units
            ),
            code: Some("too_long".into()),
        });
    }
    Ok(info)
}
