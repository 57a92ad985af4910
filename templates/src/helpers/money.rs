//! `{{money value}}`: IDR as "Rp 1.250.000" in Indonesian and "IDR 1,250,000" in English.

use super::{fail, is_english};
use handlebars::{Context, Handlebars, Helper, HelperDef, RenderContext, RenderError, ScopedJson};
use serde_json::Value;

#[derive(Clone, Copy)]
pub(crate) struct Money;

/// Formats a decimal amount in major units ("1250000.50") with a currency for a locale.
pub(crate) fn format(amount: &str, currency: &str, english: bool) -> Option<String> {
    let (negative, digits) = match amount.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, amount),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let (group, decimal) = if english { (',', '.') } else { ('.', ',') };
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(group);
        }
        grouped.push(c);
    }
    let idr = currency.eq_ignore_ascii_case("IDR");
    // Rupiah sen are not in circulation: a zero fraction is left out.
    let show_fraction = !(frac.is_empty() || idr && frac.bytes().all(|b| b == b'0'));
    let number = if show_fraction {
        format!("{grouped}{decimal}{frac}")
    } else {
        grouped
    };
    let symbol = if idr && !english {
        "Rp".to_owned()
    } else {
        currency.to_ascii_uppercase()
    };
    Some(format!(
        "{}{symbol} {number}",
        if negative { "-" } else { "" }
    ))
}

impl HelperDef for Money {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let param = h
            .param(0)
            .ok_or_else(|| fail("money needs a value: {{money order.value}}"))?;
        if param.is_value_missing() {
            return Err(RenderError::strict_error(param.relative_path()));
        }
        let english = is_english(ctx);
        let text = match param.value() {
            // A stored amount: {"minor": 125000000, "currency": "IDR", "amount": "1250000.00"}.
            Value::Object(o) => {
                let amount = o.get("amount").and_then(Value::as_str);
                let currency = o.get("currency").and_then(Value::as_str).unwrap_or("IDR");
                amount.and_then(|a| format(a, currency, english))
            }
            // A plain number in major units, with currency="…" (IDR by default).
            Value::Number(n) => {
                let currency = h
                    .hash_get("currency")
                    .and_then(|c| c.value().as_str())
                    .unwrap_or("IDR");
                let x = n.as_f64().unwrap_or(0.0);
                let amount = if x.fract() == 0.0 {
                    format!("{x:.0}")
                } else {
                    format!("{x:.2}")
                };
                format(&amount, currency, english)
            }
            Value::Null => return Ok(ScopedJson::Derived(Value::String(String::new()))),
            _ => None,
        };
        match text {
            Some(t) => Ok(ScopedJson::Derived(Value::String(t))),
            None => Err(fail(format!("money cannot format {}", param.value()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::format;

    #[test]
    fn known_values() {
        assert_eq!(format("1250000.00", "IDR", false).unwrap(), "Rp 1.250.000");
        assert_eq!(format("1250000.00", "IDR", true).unwrap(), "IDR 1,250,000");
        assert_eq!(
            format("1250000.50", "IDR", false).unwrap(),
            "Rp 1.250.000,50"
        );
        assert_eq!(format("999.00", "IDR", false).unwrap(), "Rp 999");
        assert_eq!(format("0.00", "IDR", true).unwrap(), "IDR 0");
        assert_eq!(format("-75000.00", "IDR", false).unwrap(), "-Rp 75.000");
        assert_eq!(format("12.50", "USD", true).unwrap(), "USD 12.50");
        assert_eq!(format("12.50", "USD", false).unwrap(), "USD 12,50");
        assert_eq!(format("1234567", "JPY", true).unwrap(), "JPY 1,234,567");
        assert_eq!(format("1.234", "KWD", true).unwrap(), "KWD 1.234");
        assert!(format("1,000", "IDR", true).is_none());
    }
}
