//! Bounces: what an SMTP status means (RFC 3463) and reading delivery-status notifications
//! (RFC 3464).
//!
//! A hard bounce means the address will never work (no such mailbox, no such domain, the
//! mailbox is disabled): it suppresses the address. Everything else — a full mailbox, a
//! temporary failure, a policy or spam block — is soft: counted, and only a run of them
//! suppresses.
//!
//! ```
//! use jalin_channels::email::bounce::{classify_status, BounceKind};
//! assert_eq!(classify_status("5.1.1").0, BounceKind::Hard);
//! assert_eq!(classify_status("5.2.2").0, BounceKind::Soft);
//! assert_eq!(classify_status("4.4.1").0, BounceKind::Soft);
//! ```

use serde::Serialize;

/// Whether a bounce means the address is dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BounceKind {
    /// The address will never accept mail.
    Hard,
    /// It may work later.
    Soft,
}

/// One recipient's failure from a bounce notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bounce {
    /// The recipient that failed.
    pub recipient: Option<String>,
    /// The RFC 3463 status (`5.1.1`).
    pub status: String,
    /// Hard or soft.
    pub kind: BounceKind,
    /// A category for reports: bad_address, mailbox_disabled, mailbox_full, policy, …
    pub category: &'static str,
    /// The remote server's own words.
    pub diagnostic: Option<String>,
}

/// The first RFC 3463 enhanced status code (`X.YYY.ZZZ`, class 2, 4 or 5) in a text.
pub fn enhanced_code(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if !matches!(b, b'2' | b'4' | b'5') || bytes.get(i + 1) != Some(&b'.') {
            continue;
        }
        if i > 0 && (bytes[i - 1].is_ascii_digit() || bytes[i - 1] == b'.') {
            continue;
        }
        let rest = &text[i + 2..];
        let subject: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if subject.is_empty() || subject.len() > 3 {
            continue;
        }
        let after = &rest[subject.len()..];
        let Some(after) = after.strip_prefix('.') else {
            continue;
        };
        let detail: String = after.chars().take_while(char::is_ascii_digit).collect();
        if detail.is_empty() || detail.len() > 3 {
            continue;
        }
        if after[detail.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || c == '.')
        {
            continue;
        }
        return Some(format!("{}.{subject}.{detail}", *b as char));
    }
    None
}

/// Hard or soft, and a category, for an RFC 3463 status.
pub fn classify_status(status: &str) -> (BounceKind, &'static str) {
    let mut parts = status.split('.');
    let class = parts.next().unwrap_or("");
    let subject = parts.next().unwrap_or("");
    let detail = parts.next().unwrap_or("");
    match (class, subject, detail) {
        ("5", "1", _) => (BounceKind::Hard, "bad_address"),
        ("5", "2", "1") => (BounceKind::Hard, "mailbox_disabled"),
        ("5", "4", "4") => (BounceKind::Hard, "bad_domain"),
        (_, "2", "2") => (BounceKind::Soft, "mailbox_full"),
        (_, "7", _) => (BounceKind::Soft, "policy"),
        (_, "4", _) => (BounceKind::Soft, "network"),
        (_, "3", _) => (BounceKind::Soft, "system"),
        (_, "6", _) => (BounceKind::Soft, "content"),
        _ => (BounceKind::Soft, "other"),
    }
}

/// What a delivery-status notification says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notification {
    /// Our message id, from the returned headers' Message-ID local part (`<ID@domain>`).
    pub message_id: Option<String>,
    /// One entry per recipient that failed or was delayed.
    pub bounces: Vec<Bounce>,
}

/// Reads an RFC 3464 delivery-status notification (the whole message as text): the
/// per-recipient `Final-Recipient`, `Action`, `Status` and `Diagnostic-Code` fields, and the
/// Message-ID of the returned original. Recipients whose action is `delivered`, `relayed` or
/// `expanded` are not bounces.
pub fn parse_dsn(raw: &str) -> Notification {
    /// The fields of the recipient block being read.
    #[derive(Default)]
    struct Block {
        recipient: Option<String>,
        action: Option<String>,
        status: Option<String>,
        diagnostic: Option<String>,
    }
    fn flush(block: Option<Block>, out: &mut Vec<Bounce>) {
        let Some(b) = block else { return };
        let action = b.action.unwrap_or_default().to_ascii_lowercase();
        let status = b
            .status
            .or_else(|| b.diagnostic.as_deref().and_then(enhanced_code));
        if let Some(status) = status
            && !matches!(action.as_str(), "delivered" | "relayed" | "expanded")
        {
            let (kind, category) = classify_status(&status);
            let kind = if action == "delayed" {
                BounceKind::Soft
            } else {
                kind
            };
            out.push(Bounce {
                recipient: b.recipient,
                status,
                kind,
                category,
                diagnostic: b.diagnostic,
            });
        }
    }
    // Unfold continuation lines first.
    let mut lines: Vec<String> = Vec::new();
    for line in raw.lines() {
        let continues =
            (line.starts_with(' ') || line.starts_with('\t')) && !line.trim().is_empty();
        if continues && let Some(last) = lines.last_mut() {
            last.push(' ');
            last.push_str(line.trim());
            continue;
        }
        lines.push(line.to_owned());
    }
    let mut bounces = Vec::new();
    let mut message_id = None;
    let mut current: Option<Block> = None;
    for line in &lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            field @ ("final-recipient" | "original-recipient") => {
                let address = value
                    .split_once(';')
                    .map_or(value, |(_, a)| a)
                    .trim()
                    .to_owned();
                match current.as_mut() {
                    Some(b) if b.recipient.is_none() => b.recipient = Some(address),
                    // An Original-Recipient after the Final-Recipient belongs to the same block.
                    Some(_) if field == "original-recipient" => {}
                    _ => {
                        flush(current.take(), &mut bounces);
                        current = Some(Block {
                            recipient: Some(address),
                            ..Block::default()
                        });
                    }
                }
            }
            "action" => {
                if let Some(b) = current.as_mut() {
                    b.action = Some(value.to_owned());
                }
            }
            "status" => {
                if let Some(b) = current.as_mut() {
                    b.status = enhanced_code(value);
                }
            }
            "diagnostic-code" => {
                if let Some(b) = current.as_mut() {
                    b.diagnostic = Some(
                        value
                            .split_once(';')
                            .map_or(value, |(_, d)| d)
                            .trim()
                            .to_owned(),
                    );
                }
            }
            "message-id" if message_id.is_none() => {
                message_id = value
                    .trim_start_matches('<')
                    .split('@')
                    .next()
                    .filter(|id| !id.is_empty())
                    .map(str::to_owned);
            }
            _ => {}
        }
    }
    flush(current, &mut bounces);
    Notification {
        message_id,
        bounces,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_enhanced_codes() {
        assert_eq!(
            enhanced_code("permanent error (550): 5.1.1 <x@y>: Recipient address rejected")
                .as_deref(),
            Some("5.1.1")
        );
        assert_eq!(
            enhanced_code("451 4.7.1 Try again later").as_deref(),
            Some("4.7.1")
        );
        assert_eq!(enhanced_code("version 1.2.3 and 10.5.1.2"), None);
        assert_eq!(enhanced_code("5.10.100 odd"), Some("5.10.100".into()));
        assert_eq!(enhanced_code("nothing here"), None);
    }

    #[test]
    fn reads_a_delivery_status_notification() {
        let raw = "From: MAILER-DAEMON@mx.example\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example\r\n\r\nFinal-Recipient: rfc822; budi@example.co.id\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 <budi@example.co.id>:\r\n  Recipient address rejected: User unknown\r\n\r\nFinal-Recipient: rfc822; siti@example.co.id\r\nAction: delayed\r\nStatus: 4.4.7\r\n\r\nFinal-Recipient: rfc822; ok@example.co.id\r\nAction: delivered\r\nStatus: 2.0.0\r\n--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <12345@kayujaya.example>\r\nSubject: x\r\n--b--\r\n";
        let n = parse_dsn(raw);
        assert_eq!(n.message_id.as_deref(), Some("12345"));
        assert_eq!(n.bounces.len(), 2);
        assert_eq!(
            n.bounces[0].recipient.as_deref(),
            Some("budi@example.co.id")
        );
        assert_eq!(
            (n.bounces[0].kind, n.bounces[0].category),
            (BounceKind::Hard, "bad_address")
        );
        assert!(
            n.bounces[0]
                .diagnostic
                .as_deref()
                .unwrap()
                .contains("User unknown")
        );
        assert_eq!(n.bounces[1].kind, BounceKind::Soft);
        assert_eq!(parse_dsn("garbage\nno fields").bounces.len(), 0);
    }
}
