//! Time zones and timestamps as the ERP writes them; stored as UTC epoch seconds.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use std::fmt;
use std::str::FromStr;

/// A valid IANA time zone name such as `Asia/Jakarta`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZoneName(pub Tz);

impl FromStr for TimeZoneName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim().parse::<Tz>().map(TimeZoneName).map_err(|_| {
            format!("unknown time zone {s:?} (expected an IANA name such as Asia/Jakarta)")
        })
    }
}

impl fmt::Display for TimeZoneName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name())
    }
}

/// Parses `2025-03-01T10:00:00+07:00` (RFC 3339), `2025-03-01 10:00:00` (UTC) or
/// `2025-03-01` (midnight UTC).
pub fn parse_timestamp(input: &str) -> Result<DateTime<Utc>, String> {
    let s = input.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .unwrap_or_default());
    }
    Err(format!(
        "{s:?} is not a date or time (expected 2025-03-01, 2025-03-01 10:00:00 or RFC 3339)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        let t = parse_timestamp("2025-03-01T10:00:00+07:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2025-03-01T03:00:00+00:00");
        assert_eq!(
            parse_timestamp("2025-03-01").unwrap().timestamp(),
            1_740_787_200
        );
        assert!(parse_timestamp("2025-02-30").is_err());
        assert!(parse_timestamp("yesterday").is_err());
        assert!("Asia/Jakarta".parse::<TimeZoneName>().is_ok());
        assert!("Asia/Bandung".parse::<TimeZoneName>().is_err());
    }
}
