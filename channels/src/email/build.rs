//! Turning an [`Email`] into a MIME message, refusing anything that could split a header.

use super::{DkimSettings, Email};
use crate::{ChannelError, Outcome};
use lettre::Message;
use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm,
    DkimSigningKey,
};
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use std::sync::Arc;

/// What every email from this installation shares.
#[derive(Debug, Clone)]
pub struct EmailSettings {
    /// The sender (`PT Kayu Jaya Nusantara <halo@kayujaya.example>`).
    pub from: Mailbox,
    /// Where replies go, if not to the sender.
    pub reply_to: Option<Mailbox>,
    /// The domain of Message-IDs.
    pub message_id_domain: String,
    /// DKIM signing, when configured.
    pub dkim: Option<Arc<DkimConfig>>,
}

impl EmailSettings {
    /// Settings from the sender address, with DKIM when `dkim` is given.
    pub fn new(
        from: &str,
        reply_to: Option<&str>,
        dkim: Option<&DkimSettings>,
    ) -> Result<Self, ChannelError> {
        let from: Mailbox = from
            .parse()
            .map_err(|e| ChannelError::new("email", format!("from {from:?}: {e}")))?;
        let reply_to = reply_to
            .map(|r| {
                r.parse::<Mailbox>()
                    .map_err(|e| ChannelError::new("email", format!("reply_to {r:?}: {e}")))
            })
            .transpose()?;
        let message_id_domain = from.email.domain().to_owned();
        let dkim = dkim.map(load_dkim).transpose()?.map(Arc::new);
        Ok(EmailSettings {
            from,
            reply_to,
            message_id_domain,
            dkim,
        })
    }
}

/// The headers a DKIM signature covers: RFC 8058 requires the List-Unsubscribe pair among them.
/// Content-Type is left out: lettre 0.11.23 signs it in a form verifiers (dkimpy) reject, and
/// RFC 6376 only recommends it. Canonicalization is relaxed/relaxed for the same reason (its
/// `simple` header canonicalization does not verify either).
const SIGNED_HEADERS: &[&str] = &[
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
];

fn load_dkim(s: &DkimSettings) -> Result<DkimConfig, ChannelError> {
    let key_text = match (&s.private_key_env, &s.private_key_file) {
        (Some(var), _) => std::env::var(var).map_err(|_| {
            ChannelError::new("email", format!("set {var} to the DKIM private key"))
        })?,
        (None, Some(file)) => std::fs::read_to_string(file)
            .map_err(|e| ChannelError::new("email", format!("DKIM key {file}: {e}")))?,
        (None, None) => {
            return Err(ChannelError::new(
                "email",
                "DKIM needs private_key_env or private_key_file",
            ));
        }
    };
    let algorithm = match s.algorithm.as_str() {
        "rsa" => DkimSigningAlgorithm::Rsa,
        "ed25519" => DkimSigningAlgorithm::Ed25519,
        other => {
            return Err(ChannelError::new(
                "email",
                format!("DKIM algorithm {other:?} is not rsa or ed25519"),
            ));
        }
    };
    let key = DkimSigningKey::new(key_text.trim(), algorithm)
        .map_err(|e| ChannelError::new("email", format!("DKIM private key: {e:?}")))?;
    Ok(DkimConfig::new(
        s.selector.clone(),
        s.domain.clone(),
        key,
        SIGNED_HEADERS
            .iter()
            .map(|h| HeaderName::new_from_ascii_str(h))
            .collect(),
        DkimCanonicalization {
            header: DkimCanonicalizationType::Relaxed,
            body: DkimCanonicalizationType::Relaxed,
        },
    ))
}

fn reject(what: &str) -> Outcome {
    Outcome::Permanent {
        reason: format!("refused to build the message: {what}"),
        code: Some("invalid_message".into()),
    }
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// Inserts the open pixel before `</body>` (or at the end).
fn with_pixel(html: &str, pixel: &str) -> String {
    let img = format!(
        "<img src=\"{}\" width=\"1\" height=\"1\" alt=\"\" style=\"display:block;border:0;width:1px;height:1px\">",
        pixel.replace('&', "&amp;").replace('"', "&quot;")
    );
    let at = html.to_ascii_lowercase().rfind("</body>");
    match at {
        Some(i) => format!("{}{img}{}", &html[..i], &html[i..]),
        None => format!("{html}{img}"),
    }
}

/// The longest line SMTP carries (RFC 5321 §4.5.3.1.6: 1,000 octets with the CRLF).
const MAX_LINE: usize = 998;

/// A body part without re-encoding when it does not need it: 7bit for ASCII, 8bit for UTF-8
/// (every modern server announces 8BITMIME), quoted-printable or base64 only when a line is
/// longer than SMTP allows. (lettre's own choice re-encodes any line of 76 characters or more;
/// quoted-printable encoding a 20 KB HTML part was a quarter of the CPU a send cost.)
fn body(content: String) -> Body {
    let fits = content.split('\n').all(|l| l.len() <= MAX_LINE) && !content.contains('\0');
    if !fits {
        return Body::new(content);
    }
    let encoding = if content.is_ascii() {
        ContentTransferEncoding::SevenBit
    } else {
        ContentTransferEncoding::EightBit
    };
    // Line endings become CRLF, whatever they were; whole lines are copied at a time.
    let unix = if content.contains('\r') {
        content.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        content
    };
    let mut out = Vec::with_capacity(unix.len() + unix.len() / 40);
    let mut lines = unix.split('\n').peekable();
    while let Some(line) = lines.next() {
        out.extend_from_slice(line.as_bytes());
        if lines.peek().is_some() {
            out.extend_from_slice(b"\r\n");
        }
    }
    Body::dangerous_pre_encoded(out, encoding)
}

/// Builds (and DKIM-signs) the MIME message, or says permanently why it cannot be sent.
pub fn build(settings: &EmailSettings, email: &Email) -> Result<Message, Outcome> {
    let address = email
        .to
        .trim()
        .parse()
        .map_err(|e| reject(&format!("{:?} is not an email address ({e})", email.to)))?;
    if email.to_name.as_deref().is_some_and(has_control) {
        return Err(reject(
            "the recipient's name contains a line break or control character",
        ));
    }
    if has_control(&email.subject) {
        return Err(reject(
            "the subject contains a line break or control character",
        ));
    }
    if email.subject.trim().is_empty() {
        return Err(reject("the subject is empty"));
    }
    if !email
        .id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
        || email.id.is_empty()
    {
        return Err(reject(
            "the message id must be letters, digits, '-', '.' or '_'",
        ));
    }
    let mut builder = Message::builder()
        .from(settings.from.clone())
        .to(Mailbox::new(email.to_name.clone(), address))
        .subject(email.subject.clone())
        .message_id(Some(format!(
            "<{}@{}>",
            email.id, settings.message_id_domain
        )))
        .date_now();
    if let Some(r) = &settings.reply_to {
        builder = builder.reply_to(r.clone());
    }
    if let Some(u) = &email.unsubscribe {
        if has_control(&u.url) || !u.url.starts_with("https://") && !u.url.starts_with("http://") {
            return Err(reject("the unsubscribe URL is not an http(s) URL"));
        }
        let mut value = format!("<{}>", u.url);
        if let Some(m) = &u.mailto {
            if has_control(m) || m.contains('>') {
                return Err(reject("the unsubscribe mailto is malformed"));
            }
            value.push_str(&format!(", <mailto:{m}?subject=unsubscribe>"));
        }
        builder = builder
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                value,
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".into(),
            ));
    }
    for (name, value) in &email.headers {
        if has_control(value) {
            return Err(reject(&format!("header {name} contains a line break")));
        }
        let name = HeaderName::new_from_ascii(name.clone())
            .map_err(|_| reject(&format!("{name:?} is not a header name")))?;
        builder = builder.raw_header(HeaderValue::new(name, value.clone()));
    }
    let html = match &email.open_pixel {
        Some(p) => with_pixel(&email.html, p),
        None => email.html.clone(),
    };
    let alternative = MultiPart::alternative()
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(body(email.text.clone())),
        )
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_HTML)
                .body(body(html)),
        );
    let mut message = builder
        .multipart(alternative)
        .map_err(|e| reject(&e.to_string()))?;
    if let Some(dkim) = &settings.dkim {
        message.sign(dkim);
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::email::Unsubscribe;

    fn email() -> Email {
        Email {
            id: "42".into(),
            to: "budi@example.co.id".into(),
            to_name: Some("Budi Santoso".into()),
            subject: "Pesanan SO-1: dikirim".into(),
            html: "<html><body><p>Halo</p></body></html>".into(),
            text: "Halo".into(),
            unsubscribe: Some(Unsubscribe {
                url: "https://t.example/u/abc".into(),
                mailto: Some("unsub@kayujaya.example".into()),
            }),
            open_pixel: Some("https://t.example/t/o/xyz".into()),
            headers: vec![("X-Campaign".into(), "win-back".into())],
        }
    }

    fn settings() -> EmailSettings {
        EmailSettings::new("PT Kayu Jaya Nusantara <halo@kayujaya.example>", None, None).unwrap()
    }

    #[test]
    fn headers_and_parts() {
        let m = build(&settings(), &email()).unwrap();
        // Headers may be folded onto several lines; unfold them to read them.
        let raw = String::from_utf8(m.formatted())
            .unwrap()
            .replace("\r\n ", " ");
        assert!(raw.contains("Message-ID: <42@kayujaya.example>"), "{raw}");
        assert!(raw.contains("List-Unsubscribe: <https://t.example/u/abc>, <mailto:unsub@kayujaya.example?subject=unsubscribe>"), "{raw}");
        assert!(raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
        assert!(raw.contains("X-Campaign: win-back"));
        assert!(raw.contains("multipart/alternative"));
        assert!(
            raw.contains("<p>Halo</p><img src=\"https://t.example/t/o/xyz\" width=\"1\""),
            "the pixel sits before </body>: {raw}"
        );
        assert!(
            raw.contains("Content-Transfer-Encoding: 7bit"),
            "short ASCII lines need no encoding"
        );
    }

    #[test]
    fn bodies_are_encoded_only_when_needed() {
        let utf8 = build(
            &settings(),
            &Email {
                html: "<p>Terima kasih “Budi” — Rp 1.000</p>".into(),
                ..email()
            },
        )
        .unwrap();
        let raw = String::from_utf8(utf8.formatted()).unwrap();
        assert!(
            raw.contains("Content-Transfer-Encoding: 8bit") && raw.contains("“Budi”"),
            "{raw}"
        );
        let long = build(
            &settings(),
            &Email {
                html: format!("<p>{}</p>", "x".repeat(2000)),
                ..email()
            },
        )
        .unwrap();
        let raw = String::from_utf8(long.formatted()).unwrap();
        assert!(
            raw.contains("Content-Transfer-Encoding: quoted-printable"),
            "a 2000-character line must be wrapped"
        );
        let mixed = build(
            &settings(),
            &Email {
                text: "a\nb\r\nc\rd".into(),
                ..email()
            },
        )
        .unwrap();
        let raw = String::from_utf8(mixed.formatted()).unwrap();
        assert!(
            raw.contains("a\r\nb\r\nc\r\nd"),
            "line endings normalised to CRLF"
        );
    }

    #[test]
    fn header_injection_is_refused() {
        for bad in [
            Email {
                subject: "Hi\r\nBcc: victim@example.com".into(),
                ..email()
            },
            Email {
                to_name: Some("Budi\nBcc: x@y.z".into()),
                ..email()
            },
            Email {
                to: "not an address".into(),
                ..email()
            },
            Email {
                to: "a@b.c\r\nBcc: x@y.z".into(),
                ..email()
            },
            Email {
                headers: vec![("X-Campaign".into(), "a\r\nBcc: x@y.z".into())],
                ..email()
            },
            Email {
                headers: vec![("Bad Header".into(), "x".into())],
                ..email()
            },
            Email {
                id: "<evil>".into(),
                ..email()
            },
        ] {
            assert!(build(&settings(), &bad).unwrap_err().is_permanent());
        }
    }
}
