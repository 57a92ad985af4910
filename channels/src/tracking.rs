//! Signed tracking tokens for the open pixel, click redirects and unsubscribe links.
//!
//! A token carries what it is for, the message id and (for a click) the destination, signed
//! with HMAC-SHA-256. The tracking server verifies it without a database lookup, and because
//! only messages we sent carry signed destinations, it never redirects anywhere else: a
//! tampered or forged token is simply not a token. Several keys may verify (rotation); the
//! first signs.
//!
//! ```
//! use jalin_channels::tracking::{Purpose, TrackingKeys};
//! let keys = TrackingKeys::new(b"a secret of at least 32 bytes....".to_vec(), vec![]).unwrap();
//! let token = keys.sign(Purpose::Click, 42, Some("https://kayujaya.example/sofa"));
//! let t = keys.verify(&token).unwrap();
//! assert_eq!((t.purpose, t.message_id, t.url.as_deref()), (Purpose::Click, 42, Some("https://kayujaya.example/sofa")));
//! let mut forged = token.clone();
//! forged.replace_range(3..4, if &token[3..4] == "A" { "B" } else { "A" });
//! assert!(keys.verify(&forged).is_none());
//! ```

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

const VERSION: u8 = 1;
const TAG_LEN: usize = 16;
/// Domain separation: a tracking signature can never be mistaken for another one.
const CONTEXT: &[u8] = b"jalin-tracking-v1";

/// What a token lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Record an open (the 1×1 pixel).
    Open,
    /// Record a click and redirect.
    Click,
    /// Show the unsubscribe page / unsubscribe in one click.
    Unsubscribe,
    /// Accept a delivery report for the message (SMS gateways that cannot sign their
    /// callbacks carry this token in the callback URL instead).
    Receipt,
}

impl Purpose {
    fn byte(self) -> u8 {
        match self {
            Purpose::Open => b'o',
            Purpose::Click => b'c',
            Purpose::Unsubscribe => b'u',
            Purpose::Receipt => b'r',
        }
    }

    fn from_byte(b: u8) -> Option<Purpose> {
        match b {
            b'o' => Some(Purpose::Open),
            b'c' => Some(Purpose::Click),
            b'u' => Some(Purpose::Unsubscribe),
            b'r' => Some(Purpose::Receipt),
            _ => None,
        }
    }
}

/// A verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// What it is for.
    pub purpose: Purpose,
    /// The message (outbox row) it belongs to.
    pub message_id: i64,
    /// The destination of a click.
    pub url: Option<String>,
}

/// The keys that sign and verify tokens.
#[derive(Clone)]
pub struct TrackingKeys {
    keys: Vec<Vec<u8>>,
}

impl std::fmt::Debug for TrackingKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TrackingKeys({} keys, redacted)", self.keys.len())
    }
}

/// A secret that is too short to be safe.
#[derive(Debug, thiserror::Error)]
#[error("the tracking secret must be at least 32 bytes (set JALIN_TRACKING_SECRET)")]
pub struct WeakSecret;

/// HMAC-SHA-256 over the concatenation of `parts`.
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this never returns early.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return [0; 32];
    };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

impl TrackingKeys {
    /// `current` signs; it and `previous` verify. Every key must be at least 32 bytes.
    pub fn new(current: Vec<u8>, previous: Vec<Vec<u8>>) -> Result<Self, WeakSecret> {
        let mut keys = vec![current];
        keys.extend(previous);
        if keys.iter().any(|k| k.len() < 32) {
            return Err(WeakSecret);
        }
        Ok(TrackingKeys { keys })
    }

    /// Keys from one 32-byte key (cannot be too short).
    pub fn from_key(key: [u8; 32]) -> Self {
        TrackingKeys {
            keys: vec![key.to_vec()],
        }
    }

    /// Signs a token. `url` is kept only for clicks.
    pub fn sign(&self, purpose: Purpose, message_id: i64, url: Option<&str>) -> String {
        let mut payload = Vec::with_capacity(10 + url.map_or(0, str::len));
        payload.push(VERSION);
        payload.push(purpose.byte());
        payload.extend_from_slice(&message_id.to_be_bytes());
        if purpose == Purpose::Click
            && let Some(u) = url
        {
            payload.extend_from_slice(u.as_bytes());
        }
        let tag = hmac_sha256(&self.keys[0], &[CONTEXT, &payload]);
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(&tag[..TAG_LEN])
        )
    }

    /// The token if it was signed by one of our keys and is well formed; `None` otherwise.
    pub fn verify(&self, token: &str) -> Option<Token> {
        if token.len() > 8192 {
            return None;
        }
        let (payload, tag) = token.split_once('.')?;
        let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        if tag.len() != TAG_LEN || payload.len() < 10 || payload[0] != VERSION {
            return None;
        }
        let genuine = self.keys.iter().any(|k| {
            Hmac::<Sha256>::new_from_slice(k).is_ok_and(|mut mac| {
                mac.update(CONTEXT);
                mac.update(&payload);
                mac.verify_truncated_left(&tag).is_ok()
            })
        });
        if !genuine {
            return None;
        }
        let purpose = Purpose::from_byte(payload[1])?;
        let message_id = i64::from_be_bytes(payload[2..10].try_into().ok()?);
        let url = match purpose {
            Purpose::Click => {
                let u = String::from_utf8(payload[10..].to_vec()).ok()?;
                (u.starts_with("https://") || u.starts_with("http://"))
                    .then_some(u)?
                    .into()
            }
            _ => None,
        };
        Some(Token {
            purpose,
            message_id,
            url,
        })
    }
}

/// Builds the public URLs of the tracking server for messages.
#[derive(Debug, Clone)]
pub struct TrackingUrls {
    base: String,
    keys: TrackingKeys,
}

impl TrackingUrls {
    /// URLs under `base` (e.g. `https://t.kayujaya.example`), signed with `keys`.
    pub fn new(base: &str, keys: TrackingKeys) -> Self {
        TrackingUrls {
            base: base.trim_end_matches('/').to_owned(),
            keys,
        }
    }

    /// The keys (for the server that verifies).
    pub fn keys(&self) -> &TrackingKeys {
        &self.keys
    }

    /// The 1×1 pixel that records an open.
    pub fn open(&self, message_id: i64) -> String {
        format!(
            "{}/t/o/{}",
            self.base,
            self.keys.sign(Purpose::Open, message_id, None)
        )
    }

    /// A link that records a click and redirects to `url`.
    pub fn click(&self, message_id: i64, url: &str) -> String {
        format!(
            "{}/t/c/{}",
            self.base,
            self.keys.sign(Purpose::Click, message_id, Some(url))
        )
    }

    /// The unsubscribe page (GET) and one-click endpoint (POST, RFC 8058).
    pub fn unsubscribe(&self, message_id: i64) -> String {
        format!(
            "{}/u/{}",
            self.base,
            self.keys.sign(Purpose::Unsubscribe, message_id, None)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn keys() -> TrackingKeys {
        TrackingKeys::new(vec![7; 32], vec![vec![9; 40]]).unwrap()
    }

    #[test]
    fn rotation_and_rejection() {
        let old = TrackingKeys::new(vec![9; 40], vec![]).unwrap();
        let token = old.sign(Purpose::Unsubscribe, 5, None);
        assert_eq!(
            keys().verify(&token).unwrap().message_id,
            5,
            "previous keys still verify"
        );
        let other = TrackingKeys::new(vec![1; 32], vec![]).unwrap();
        assert!(other.verify(&token).is_none());
        assert!(TrackingKeys::new(vec![1; 31], vec![]).is_err());
        for junk in [
            "",
            ".",
            "abc",
            "a.b",
            "AAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA",
            &"x".repeat(9000),
        ] {
            assert!(keys().verify(junk).is_none());
        }
        // A click token cannot carry a non-web destination even if signed.
        let js = keys().sign(Purpose::Click, 1, Some("javascript:alert(1)"));
        assert!(keys().verify(&js).is_none());
    }

    proptest! {
        #[test]
        fn any_change_to_a_token_is_rejected(id in any::<i64>(), path in "[a-z0-9/]{0,30}", pos in any::<usize>(), ch in "[A-Za-z0-9_.-]") {
            let k = keys();
            let url = format!("https://kayujaya.example/{path}");
            let token = k.sign(Purpose::Click, id, Some(&url));
            let t = k.verify(&token).unwrap();
            prop_assert_eq!(t.url.as_deref(), Some(url.as_str()));
            prop_assert_eq!(t.message_id, id);
            let i = pos % token.len();
            let mut changed = token.clone();
            changed.replace_range(i..=i, &ch);
            if changed != token {
                // Either rejected, or (base64 slack bits) decoding to the very same token.
                if let Some(t2) = k.verify(&changed) {
                    prop_assert_eq!(t2, t);
                }
            }
        }
    }
}
