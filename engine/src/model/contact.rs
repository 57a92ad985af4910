//! Contact addresses, parsed once at the edge.

use std::fmt;

/// A syntactically valid email address (`local@domain.tld`), lower-cased domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Accepts `local@domain` with a dotted domain, no spaces or control characters,
    /// at most 254 characters (RFC 5321's path limit).
    pub fn parse(input: &str) -> Result<Self, String> {
        let s = input.trim();
        if s.is_empty() {
            return Err("email is empty".into());
        }
        if s.len() > 254 {
            return Err("email is longer than 254 characters".into());
        }
        if s.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"')
        }) {
            return Err(format!(
                "{s:?} is not an email address (forbidden character)"
            ));
        }
        let (local, domain) = s
            .rsplit_once('@')
            .ok_or_else(|| format!("{s:?} is not an email address (no @)"))?;
        if local.is_empty() || local.len() > 64 || local.contains('@') {
            return Err(format!("{s:?} is not an email address (bad local part)"));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let label_ok = |l: &&str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        };
        if labels.len() < 2 || !labels.iter().all(label_ok) {
            return Err(format!("{s:?} is not an email address (bad domain)"));
        }
        Ok(EmailAddress(format!("{local}@{}", domain.to_lowercase())))
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A phone number in E.164 form: `+`, a country code and at most 15 digits in all.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Accepts only E.164 (`+6281234567890`); spaces, dots and dashes between digits are removed.
    pub fn parse(input: &str) -> Result<Self, String> {
        let s = input.trim();
        let rest = s
            .strip_prefix('+')
            .ok_or_else(|| format!("{s:?} is not an E.164 phone number (must start with +)"))?;
        let digits: String = rest
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.'))
            .collect();
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("{s:?} is not an E.164 phone number (non-digit)"));
        }
        if !(8..=15).contains(&digits.len()) || digits.starts_with('0') {
            return Err(format!(
                "{s:?} is not an E.164 phone number (needs 8 to 15 digits after +, no leading 0)"
            ));
        }
        Ok(PhoneNumber(format!("+{digits}")))
    }

    /// The number as text, with the leading `+`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(
            EmailAddress::parse(" Budi@Example.CO.id ")
                .unwrap()
                .as_str(),
            "Budi@example.co.id"
        );
        for bad in [
            "",
            "budi",
            "budi@",
            "@x.id",
            "budi@localhost",
            "a b@x.id",
            "budi@x..id",
            "budi@-x.id",
            "x@y.id\r\nBcc: z@z.id",
            "<a@b.id>",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn phones() {
        assert_eq!(
            PhoneNumber::parse("+62 812-3456-7890").unwrap().as_str(),
            "+6281234567890"
        );
        for bad in [
            "081234567890",
            "+0812345678",
            "+62abc",
            "+1234567",
            "+1234567890123456",
        ] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
