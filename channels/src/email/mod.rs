//! Email: a rendered message built into MIME (multipart/alternative, Message-ID,
//! `List-Unsubscribe` with RFC 8058 one-click, an open pixel, DKIM) and sent over a pool of SMTP
//! connections, or written to the file outbox.

pub mod bounce;
mod build;
mod pipeline;
mod pool;
pub mod smtp;

pub use build::{EmailSettings, build};

use serde::{Deserialize, Serialize};

/// One rendered email to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    /// Our id for the message; it becomes the Message-ID's local part.
    pub id: String,
    /// The recipient's address.
    pub to: String,
    /// The recipient's name, if any.
    pub to_name: Option<String>,
    /// The subject (one line).
    pub subject: String,
    /// The HTML part.
    pub html: String,
    /// The plain-text part.
    pub text: String,
    /// Where the recipient unsubscribes: the one-click URL and, optionally, a mailto.
    pub unsubscribe: Option<Unsubscribe>,
    /// The open pixel's URL, inserted before `</body>`.
    pub open_pixel: Option<String>,
    /// Extra headers (`X-Campaign`, …); names must be ASCII tokens.
    pub headers: Vec<(String, String)>,
}

/// The `List-Unsubscribe` targets of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unsubscribe {
    /// The HTTPS URL that unsubscribes on a POST (RFC 8058) and shows a page on a GET.
    pub url: String,
    /// A mailto: address that unsubscribes too.
    pub mailto: Option<String>,
}

/// `[channels.email.dkim]` in `jalin.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DkimSettings {
    /// The signing domain (`d=`), normally the From address's domain.
    pub domain: String,
    /// The selector (`s=`): the public key is published at SELECTOR._domainkey.DOMAIN.
    pub selector: String,
    /// `rsa` (PKCS#1 PEM) or `ed25519` (base64 of the 32-byte seed).
    #[serde(default = "default_algorithm")]
    pub algorithm: String,
    /// A file holding the private key.
    #[serde(default)]
    pub private_key_file: Option<String>,
    /// An environment variable holding the private key (preferred: keeps it out of files).
    #[serde(default)]
    pub private_key_env: Option<String>,
}

fn default_algorithm() -> String {
    "rsa".into()
}
