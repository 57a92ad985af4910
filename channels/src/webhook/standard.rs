//! The Standard Webhooks signature scheme: `webhook-id`, `webhook-timestamp` and
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed with the
//! bytes of a `whsec_`-prefixed base64 secret. Several signatures, space-separated, allow key
//! rotation; a receiver accepts any one that verifies.
//!
//! ```
//! use jalin_channels::webhook::standard::{Secret, sign, verify};
//! let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
//! let sig = sign(&[secret.clone()], "msg_1", 1_700_000_000, b"{}");
//! assert!(verify(&[secret], "msg_1", "1700000000", &sig, b"{}", 1_700_000_100, 300).is_ok());
//! ```

use crate::tracking::hmac_sha256;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// A webhook signing secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

impl Secret {
    /// Parses `whsec_<base64>`; the bytes after the prefix are the key.
    pub fn parse(text: &str) -> Result<Secret, String> {
        let b64 = text
            .trim()
            .strip_prefix("whsec_")
            .ok_or("a webhook secret starts with whsec_")?;
        let bytes = STANDARD
            .decode(b64)
            .map_err(|_| "the webhook secret is not valid base64 after whsec_")?;
        if bytes.len() < 16 {
            return Err("the webhook secret must be at least 16 bytes".into());
        }
        Ok(Secret(bytes))
    }

    /// A new random secret, as `whsec_…` text.
    pub fn generate() -> String {
        let bytes: Vec<u8> = (0..2)
            .flat_map(|_| *uuid::Uuid::new_v4().as_bytes())
            .collect();
        format!("whsec_{}", STANDARD.encode(bytes))
    }

    /// Parses one or more secrets separated by spaces or commas (the first signs).
    pub fn parse_list(text: &str) -> Result<Vec<Secret>, String> {
        let secrets: Vec<Secret> = text
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(Secret::parse)
            .collect::<Result<_, _>>()?;
        if secrets.is_empty() {
            return Err("no webhook secret given".into());
        }
        Ok(secrets)
    }
}

fn signature(secret: &Secret, id: &str, timestamp: &str, body: &[u8]) -> [u8; 32] {
    hmac_sha256(
        &secret.0,
        &[id.as_bytes(), b".", timestamp.as_bytes(), b".", body],
    )
}

/// The `webhook-signature` header value: one `v1,…` per secret.
pub fn sign(secrets: &[Secret], id: &str, timestamp: i64, body: &[u8]) -> String {
    let ts = timestamp.to_string();
    secrets
        .iter()
        .map(|s| format!("v1,{}", STANDARD.encode(signature(s, id, &ts, body))))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why an inbound webhook was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A required header is absent.
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    /// The timestamp is not a number.
    #[error("webhook-timestamp is not a Unix time")]
    BadTimestamp,
    /// The timestamp is outside the tolerance (a replay or a skewed clock).
    #[error("webhook-timestamp is more than {0} s from now")]
    Stale(i64),
    /// No signature matches.
    #[error("no valid signature")]
    BadSignature,
}

/// Checks an inbound webhook: the timestamp within `tolerance` seconds of `now` and at least one
/// `v1` signature made with one of `secrets`.
pub fn verify(
    secrets: &[Secret],
    id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
    now: i64,
    tolerance: i64,
) -> Result<(), VerifyError> {
    if id.is_empty() {
        return Err(VerifyError::MissingHeader("webhook-id"));
    }
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::BadTimestamp)?;
    if (now - ts).abs() > tolerance {
        return Err(VerifyError::Stale(tolerance));
    }
    for candidate in signatures.split(' ') {
        let Some(b64) = candidate.strip_prefix("v1,") else {
            continue;
        };
        let Ok(given) = STANDARD.decode(b64) else {
            continue;
        };
        for s in secrets {
            let expected = signature(s, id, timestamp.trim(), body);
            if given.len() == expected.len() && constant_time_eq(&given, &expected) {
                return Ok(());
            }
        }
    }
    Err(VerifyError::BadSignature)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_tolerance_and_tampering() {
        let old = Secret::parse(&Secret::generate()).unwrap();
        let new = Secret::parse(&Secret::generate()).unwrap();
        let body = br#"{"type":"x"}"#;
        let both = sign(&[new.clone(), old.clone()], "msg_9", 1000, body);
        assert_eq!(both.split(' ').count(), 2);
        assert!(verify(&[old.clone()], "msg_9", "1000", &both, body, 1000, 300).is_ok());
        assert!(verify(&[new.clone()], "msg_9", "1000", &both, body, 1299, 300).is_ok());
        assert_eq!(
            verify(&[new.clone()], "msg_9", "1000", &both, body, 1301, 300),
            Err(VerifyError::Stale(300))
        );
        assert_eq!(
            verify(&[new.clone()], "msg_9", "1000", &both, b"{}", 1000, 300),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify(&[new.clone()], "msg_8", "1000", &both, body, 1000, 300),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify(&[new.clone()], "msg_9", "soon", &both, body, 1000, 300),
            Err(VerifyError::BadTimestamp)
        );
        assert_eq!(
            verify(&[new], "", "1000", &both, body, 1000, 300),
            Err(VerifyError::MissingHeader("webhook-id"))
        );
        assert!(Secret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(Secret::parse("whsec_!!!").is_err());
    }
}
