//! Money as an integer number of minor units with an ISO 4217 currency.

use serde::ser::SerializeStruct;
use std::fmt;
use std::str::FromStr;

/// An ISO 4217 currency code that jalin knows the minor units of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    code: [u8; 3],
    exponent: u8,
}

/// ISO 4217 minor units of the currencies a manufacturer in the region trades in.
const KNOWN: &[(&str, u8)] = &[
    ("IDR", 2),
    ("USD", 2),
    ("EUR", 2),
    ("SGD", 2),
    ("MYR", 2),
    ("AUD", 2),
    ("CNY", 2),
    ("GBP", 2),
    ("THB", 2),
    ("PHP", 2),
    ("JPY", 0),
    ("KRW", 0),
    ("VND", 0),
    ("KWD", 3),
    ("BHD", 3),
];

impl Currency {
    /// Indonesian rupiah, the default.
    pub const IDR: Currency = Currency {
        code: *b"IDR",
        exponent: 2,
    };

    /// The three-letter code.
    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.code).unwrap_or("XXX")
    }

    /// Number of minor-unit digits (2 for IDR: 1 rupiah = 100 sen).
    pub fn exponent(&self) -> u8 {
        self.exponent
    }

    /// Parses a decimal amount in major units ("1250000", "1250000.5", "-3.25") into minor units.
    pub fn parse_amount(&self, text: &str) -> Result<i64, String> {
        let text = text.trim();
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, frac) = match digits.split_once('.') {
            Some((w, f)) => (w, f),
            None => (digits, ""),
        };
        let valid = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !valid(whole) || !valid(frac) {
            return Err(format!("{text:?} is not a decimal amount"));
        }
        if frac.len() > usize::from(self.exponent) {
            return Err(format!(
                "{text:?} has more than {} decimal places for {}",
                self.exponent,
                self.code()
            ));
        }
        let scale = 10i64.pow(u32::from(self.exponent));
        let whole: i64 = whole
            .parse()
            .map_err(|_| format!("{text:?} is too large"))?;
        let mut frac_value: i64 = if frac.is_empty() {
            0
        } else {
            frac.parse()
                .map_err(|_| format!("{text:?} is not a decimal amount"))?
        };
        for _ in frac.len()..usize::from(self.exponent) {
            frac_value *= 10;
        }
        let minor = whole
            .checked_mul(scale)
            .and_then(|w| w.checked_add(frac_value))
            .ok_or_else(|| format!("{text:?} is too large"))?;
        Ok(if negative { -minor } else { minor })
    }

    /// Formats minor units as a plain decimal in major units ("1250000.00").
    pub fn format_amount(&self, minor: i64) -> String {
        if self.exponent == 0 {
            return minor.to_string();
        }
        let scale = 10u64.pow(u32::from(self.exponent));
        let abs = minor.unsigned_abs();
        let sign = if minor < 0 { "-" } else { "" };
        format!(
            "{sign}{}.{:0width$}",
            abs / scale,
            abs % scale,
            width = usize::from(self.exponent)
        )
    }
}

impl Default for Currency {
    fn default() -> Self {
        Currency::IDR
    }
}

impl FromStr for Currency {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let code = s.trim().to_ascii_uppercase();
        KNOWN
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(c, exponent)| {
                let b = c.as_bytes();
                Currency {
                    code: [b[0], b[1], b[2]],
                    exponent: *exponent,
                }
            })
            .ok_or_else(|| format!("unknown currency {s:?}"))
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Inserts `separator` between groups of three digits: `1250000` → `1,250,000`.
pub fn group_thousands(digits: &str, separator: char) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(separator);
        }
        out.push(c);
    }
    out
}

/// An amount of money: integer minor units and a currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    /// Minor units (sen for IDR).
    pub minor: i64,
    /// The currency.
    pub currency: Currency,
}

impl Money {
    /// An amount in minor units.
    pub fn new(minor: i64, currency: Currency) -> Self {
        Money { minor, currency }
    }

    /// An amount in rupiah minor units.
    pub fn idr(minor: i64) -> Self {
        Money::new(minor, Currency::IDR)
    }
}

/// For people: `IDR 1,250,000` (rupiah sen are not in circulation, so a zero fraction is
/// left out), `USD 12.50`.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plain = self.currency.format_amount(self.minor);
        let (sign, digits) = match plain.strip_prefix('-') {
            Some(rest) => ("-", rest),
            None => ("", plain.as_str()),
        };
        let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
        let grouped = group_thousands(whole, ',');
        let hide_fraction =
            frac.is_empty() || (self.currency == Currency::IDR && frac.bytes().all(|b| b == b'0'));
        if hide_fraction {
            write!(f, "{} {sign}{grouped}", self.currency)
        } else {
            write!(f, "{} {sign}{grouped}.{frac}", self.currency)
        }
    }
}

/// Serialised for templates as `{"minor": 125000000, "currency": "IDR", "amount": "1250000.00"}`:
/// the `money` helper formats `amount` for the reader's locale without knowing minor units.
impl serde::Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Money", 3)?;
        st.serialize_field("minor", &self.minor)?;
        st.serialize_field("currency", self.currency.code())?;
        st.serialize_field("amount", &self.currency.format_amount(self.minor))?;
        st.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_major_units_into_minor() {
        let idr = Currency::IDR;
        assert_eq!(idr.parse_amount("1250000"), Ok(125_000_000));
        assert_eq!(idr.parse_amount("1250000.5"), Ok(125_000_050));
        assert_eq!(idr.parse_amount("-3.25"), Ok(-325));
        assert!(idr.parse_amount("1.234").is_err());
        assert!(idr.parse_amount("1,000").is_err());
        assert!(idr.parse_amount("").is_err());
        assert!(idr.parse_amount("99999999999999999999").is_err());
        let jpy: Currency = "jpy".parse().unwrap();
        assert_eq!(jpy.parse_amount("500"), Ok(500));
        assert!(jpy.parse_amount("500.1").is_err());
    }

    #[test]
    fn formats_minor_units_as_decimal() {
        assert_eq!(Currency::IDR.format_amount(125_000_050), "1250000.50");
        assert_eq!(Currency::IDR.format_amount(-5), "-0.05");
        let kwd: Currency = "KWD".parse().unwrap();
        assert_eq!(kwd.format_amount(1234), "1.234");
        assert!("XYZ".parse::<Currency>().is_err());
    }

    #[test]
    fn displays_for_people() {
        assert_eq!(Money::idr(125_000_000).to_string(), "IDR 1,250,000");
        assert_eq!(Money::idr(125_000_050).to_string(), "IDR 1,250,000.50");
        assert_eq!(Money::idr(-99_900).to_string(), "IDR -999");
        let usd: Currency = "USD".parse().unwrap();
        assert_eq!(Money::new(1250, usd).to_string(), "USD 12.50");
    }
}
