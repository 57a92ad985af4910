//! Shared HTTP plumbing for SMS gateways and webhooks: one client per channel and the rule that
//! maps a response to an [`Outcome`] — 2xx delivered; 408, 429 and 5xx transient (honouring
//! `Retry-After`); other 4xx permanent; a network failure transient.

use crate::Outcome;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use std::time::Duration;

/// A client with a request timeout and no redirects (a redirect is the receiver's mistake).
pub(crate) fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    crate::install_crypto_provider();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(64)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// `Retry-After` as seconds or an HTTP date, capped at a day.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let secs = match value.parse::<u64>() {
        Ok(s) => s,
        Err(_) => {
            let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
            (at.timestamp() - chrono::Utc::now().timestamp()).max(0) as u64
        }
    };
    Some(Duration::from_secs(secs.min(86_400)))
}

/// What an HTTP answer means for the message.
pub(crate) fn classify(
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
    provider_id: Option<String>,
) -> Outcome {
    let snippet: String = body.chars().take(300).collect();
    let reason = format!("HTTP {}: {}", status.as_u16(), snippet.trim());
    if status.is_success() {
        Outcome::Delivered { provider_id }
    } else if status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status.is_server_error()
    {
        Outcome::Transient {
            reason,
            retry_after: retry_after(headers),
        }
    } else {
        Outcome::Permanent {
            reason,
            code: Some(status.as_u16().to_string()),
        }
    }
}

/// A request that did not get an answer.
pub(crate) fn network_failure(e: &reqwest::Error) -> Outcome {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    Outcome::transient(format!("{kind}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn status_classes() {
        let h = HeaderMap::new();
        assert!(classify(StatusCode::OK, &h, "", None).is_delivered());
        assert!(classify(StatusCode::ACCEPTED, &h, "", None).is_delivered());
        assert!(classify(StatusCode::TOO_MANY_REQUESTS, &h, "", None).is_transient());
        assert!(classify(StatusCode::SERVICE_UNAVAILABLE, &h, "", None).is_transient());
        assert!(classify(StatusCode::REQUEST_TIMEOUT, &h, "", None).is_transient());
        assert!(classify(StatusCode::BAD_REQUEST, &h, "", None).is_permanent());
        assert!(classify(StatusCode::GONE, &h, "", None).is_permanent());
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("120"));
        assert_eq!(
            classify(StatusCode::TOO_MANY_REQUESTS, &h, "slow down", None),
            Outcome::Transient {
                reason: "HTTP 429: slow down".into(),
                retry_after: Some(Duration::from_secs(120))
            }
        );
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
    }
}
