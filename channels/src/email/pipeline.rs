//! One SMTP transaction in two round trips when the server offers PIPELINING (RFC 2920):
//! MAIL, RCPT and DATA in one write, then the dot-stuffed body with its final `.` in another.
//! lettre (which opens, secures and authenticates the connection) sends each command and waits
//! for its reply — four round trips and five writes per message.

use lettre::address::Envelope;
use lettre::transport::smtp::Error as SmtpError;
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::commands::{Data, Ehlo, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::transport::smtp::response::Response;
use std::fmt::{self, Display, Write as _};

/// A connection and what its server offers beyond what lettre tracks.
pub(crate) struct Connection {
    pub(crate) smtp: AsyncSmtpConnection,
    pipelining: bool,
}

impl Connection {
    /// Asks the server again for its extensions (EHLO may be repeated, RFC 5321 §4.1.4) to
    /// learn whether it pipelines; lettre does not keep that keyword.
    pub(crate) async fn new(
        mut smtp: AsyncSmtpConnection,
        hello: &ClientId,
    ) -> Result<Self, SmtpError> {
        let reply = smtp.command(Ehlo::new(hello.clone())).await?;
        let pipelining = reply.message().any(|line| {
            line.split_whitespace()
                .next()
                .is_some_and(|w| w.eq_ignore_ascii_case("PIPELINING"))
        });
        Ok(Connection { smtp, pipelining })
    }

    /// Sends one message. On any failure the connection is closed (as lettre does), so a
    /// half-read pipeline is never reused.
    pub(crate) async fn send(
        &mut self,
        envelope: &Envelope,
        message: &[u8],
    ) -> Result<Response, SmtpError> {
        let text = match std::str::from_utf8(message) {
            Ok(t) if self.pipelining && ascii_addresses(envelope) => t,
            // lettre's path checks SMTPUTF8 and sends bytes as they are.
            _ => return self.smtp.send(envelope, message).await,
        };
        let mut parameters = Vec::new();
        if !text.is_ascii() {
            if !self
                .smtp
                .server_info()
                .supports_feature(Extension::EightBitMime)
            {
                return self.smtp.send(envelope, message).await;
            }
            parameters.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        let mut commands = Mail::new(envelope.from().cloned(), parameters).to_string();
        for to in envelope.to() {
            let _ = write!(commands, "{}", Rcpt::new(to.clone(), Vec::new()));
        }
        let _ = write!(commands, "{Data}");
        let result = async {
            // The write, then MAIL's reply; each RCPT's; DATA's 354.
            self.smtp.command(Raw(&commands)).await?;
            for _ in envelope.to() {
                self.smtp.read_response().await?;
            }
            self.smtp.read_response().await?;
            self.smtp.command(DotStuffed(text)).await
        }
        .await;
        if result.is_err() {
            self.smtp.abort().await;
        }
        result
    }

    pub(crate) fn has_broken(&self) -> bool {
        self.smtp.has_broken()
    }
}

fn ascii_addresses(envelope: &Envelope) -> bool {
    let ascii = |a: &lettre::Address| a.user().is_ascii() && a.domain().is_ascii();
    envelope.from().is_none_or(ascii) && envelope.to().iter().all(ascii)
}

/// Text written as it is.
struct Raw<'a>(&'a str);

impl Display for Raw<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// A message body with SMTP transparency (RFC 5321 §4.5.2: a line that starts with `.` gets
/// another) and the terminating `CRLF . CRLF` — the same bytes lettre's codec writes.
struct DotStuffed<'a>(&'a str);

impl Display for DotStuffed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body = self.0;
        if body.starts_with('.') {
            f.write_char('.')?;
        }
        let mut from = 0;
        for (at, _) in body.match_indices("\r\n.") {
            f.write_str(&body[from..at + 2])?;
            f.write_char('.')?;
            from = at + 2;
        }
        f.write_str(&body[from..])?;
        f.write_str("\r\n.\r\n")
    }
}

#[cfg(test)]
mod tests {
    use super::DotStuffed;

    #[test]
    fn dot_stuffing_matches_rfc_5321() {
        assert_eq!(DotStuffed("a\r\nb").to_string(), "a\r\nb\r\n.\r\n");
        assert_eq!(
            DotStuffed(".x\r\n.\r\n..y\r\nz.\r\n").to_string(),
            "..x\r\n..\r\n...y\r\nz.\r\n\r\n.\r\n"
        );
        // A bare LF is not a line break in SMTP: no stuffing after it.
        assert_eq!(DotStuffed("a\n.b").to_string(), "a\n.b\r\n.\r\n");
    }
}
