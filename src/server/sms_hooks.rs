//! `POST /hooks/sms/twilio`: Twilio's status callbacks (delivery receipts) and incoming
//! messages (a STOP or BERHENTI withdraws SMS consent), verified with Twilio's own signature —
//! `X-Twilio-Signature`, base64 HMAC-SHA1 under the account's auth token of the callback URL
//! followed by every form parameter's name and value, sorted by name.

use super::AppState;
use super::problem::Problem;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use hmac::{KeyInit, Mac};
use jalin_engine::sms_responses::{Receipt, record_inbound, record_receipt};

/// What verifies Twilio's callbacks: the auth token and the public URL Twilio calls.
#[derive(Clone)]
pub(crate) struct TwilioHook {
    pub(crate) token: String,
    pub(crate) url: String,
}

impl std::fmt::Debug for TwilioHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioHook")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// Twilio's signature of a form posted to `url`.
pub(crate) fn twilio_signature(token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    // HMAC takes a key of any length; an empty signature simply never matches.
    let Ok(mut mac) = <hmac::Hmac<sha1::Sha1> as KeyInit>::new_from_slice(token.as_bytes()) else {
        return String::new();
    };
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Twilio error codes after which the number cannot receive our messages.
const PERMANENT: &[&str] = &[
    "21211", "21214", "21408", "21610", "21612", "21614", "30003", "30005", "30006",
];

pub(crate) async fn twilio(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let Some(hook) = state.hooks.twilio.as_ref() else {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            "Twilio callbacks are not configured ([sms.twilio])",
        ));
    };
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Twilio posts application/x-www-form-urlencoded",
        ));
    }
    let params: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let given = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Problem::new(StatusCode::UNAUTHORIZED, "X-Twilio-Signature is missing"))?;
    let expected = twilio_signature(&hook.token, &hook.url, &params);
    if !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        return Err(Problem::new(
            StatusCode::UNAUTHORIZED,
            "X-Twilio-Signature does not match",
        ));
    }
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let sid = get("MessageSid")
        .or_else(|| get("SmsSid"))
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "MessageSid is missing"))?;
    let now = state.clock.now().timestamp();
    if let Some(status) = get("MessageStatus").filter(|_| get("Body").is_none()) {
        let code = get("ErrorCode")
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        let receipt = match status {
            "delivered" => Receipt::Delivered,
            "failed" | "undelivered" => Receipt::Failed {
                permanent: code.as_deref().is_some_and(|c| PERMANENT.contains(&c)),
                opted_out: code.as_deref() == Some("21610"),
                code,
            },
            // queued, sending, sent, accepted, scheduled: nothing final yet.
            _ => return Ok(StatusCode::NO_CONTENT.into_response()),
        };
        let key = format!("twilio:{sid}:{status}");
        // A receipt for a message that is not ours (or no longer) is acknowledged and ignored.
        record_receipt(&state.store, sid, &receipt, &key, now)
            .await
            .map_err(Problem::from_engine)?;
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let from = get("From")
        .ok_or_else(|| Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "From is missing"))?;
    let text = get("Body").unwrap_or_default();
    record_inbound(&state.store, from, text, &format!("twilio:{sid}"), now)
        .await
        .map_err(Problem::from_engine)?;
    // An empty TwiML response: no automatic reply from us.
    Ok((
        [(header::CONTENT_TYPE, "text/xml")],
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>",
    )
        .into_response())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `GET|POST /hooks/sms/kannel`: Kannel's delivery reports (the dlr-url we give it:
/// `?id=…&sig=…&status=%d&…`, the `sig` a token we signed for that message) and incoming
/// messages from an sms-service `get-url` (`?key=SECRET&from=%p&text=%a&ts=%t`, the key from
/// `JALIN_HOOK_SECRET_KANNEL`). Kannel cannot sign requests, so the proof rides in the URL.
pub(crate) async fn kannel(
    State(state): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Result<Response, Problem> {
    let get = |name: &str| q.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let now = state.clock.now().timestamp();
    if let Some(id) = get("id") {
        let token = get("sig").and_then(|t| state.keys.verify(t));
        let genuine = token.is_some_and(|t| {
            t.purpose == jalin_channels::tracking::Purpose::Receipt
                && id.parse::<i64>().is_ok_and(|n| n == t.message_id)
        });
        if !genuine {
            return Err(Problem::new(
                StatusCode::UNAUTHORIZED,
                "the report's sig does not match its id",
            ));
        }
        // Kannel's dlr-mask values: 1 delivered, 2 undeliverable, 4 buffered, 8 submitted,
        // 16 rejected by the SMSC.
        let status = get("status").unwrap_or_default();
        let receipt = match status {
            "1" => Receipt::Delivered,
            "2" | "16" => Receipt::Failed {
                code: get("reply").map(str::to_owned),
                permanent: status == "16",
                opted_out: false,
            },
            "4" | "8" => return Ok(StatusCode::NO_CONTENT.into_response()),
            other => {
                return Err(Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("status {other:?} is not a Kannel delivery-report value"),
                ));
            }
        };
        record_receipt(
            &state.store,
            id,
            &receipt,
            &format!("kannel:{id}:{status}"),
            now,
        )
        .await
        .map_err(Problem::from_engine)?;
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let Some(secret) = state.hooks.kannel.as_deref() else {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            "incoming SMS from Kannel is not configured (JALIN_HOOK_SECRET_KANNEL)",
        ));
    };
    if !get("key").is_some_and(|k| constant_time_eq(k.as_bytes(), secret.as_bytes())) {
        return Err(Problem::new(StatusCode::UNAUTHORIZED, "key does not match"));
    }
    let from = get("from")
        .ok_or_else(|| Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "from is missing"))?;
    let text = get("text").unwrap_or_default();
    let ts =
        get("ts").ok_or_else(|| Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "ts is missing"))?;
    let key = format!(
        "kannel:{from}:{ts}:{}",
        text.chars().take(64).collect::<String>()
    );
    record_inbound(&state.store, from, text, &key, now)
        .await
        .map_err(Problem::from_engine)?;
    // An empty answer: with `omit-empty = true` Kannel sends no reply to the customer.
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn twilio_signature_of_the_documented_example() {
        // Twilio's security documentation: token 12345, this URL and these five parameters
        // sign to 0/KCTR6DLpKmkAf8muzZqo1nDgQ=.
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        assert_eq!(
            super::twilio_signature(
                "12345",
                "https://mycompany.com/myapp.php?foo=1&bar=2",
                &params
            ),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
    }
}
