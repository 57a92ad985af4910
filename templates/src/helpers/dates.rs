//! `{{date value}}` and `{{datetime value}}` in the reader's language and time zone, with named
//! formats: short, medium (default), long, full.

use super::{fail, is_english, root};
use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use handlebars::{Context, Handlebars, Helper, HelperDef, RenderContext, RenderError, ScopedJson};
use serde_json::Value;

const MONTHS_ID: [&str; 12] = [
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
];
const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const SHORT_ID: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des",
];
const SHORT_EN: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn weekday(d: Weekday, english: bool) -> &'static str {
    let i = d.num_days_from_monday() as usize;
    if english {
        [
            "Monday",
            "Tuesday",
            "Wednesday",
            "Thursday",
            "Friday",
            "Saturday",
            "Sunday",
        ][i]
    } else {
        [
            "Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu",
        ][i]
    }
}

/// The zone's usual name: WIB, WITA, WIT for Indonesia, else the tz abbreviation.
fn zone_name(tz: Tz, at: &DateTime<Tz>) -> String {
    match tz.name() {
        "Asia/Jakarta" | "Asia/Pontianak" => "WIB".into(),
        "Asia/Makassar" => "WITA".into(),
        "Asia/Jayapura" => "WIT".into(),
        _ => at.format("%Z").to_string(),
    }
}

/// Formats an instant for a reader.
pub(crate) fn format(
    at: DateTime<Utc>,
    tz: Tz,
    english: bool,
    style: &str,
    with_time: bool,
) -> Option<String> {
    let local = at.with_timezone(&tz);
    let m = local.month0() as usize;
    let d = local.day();
    let y = local.year();
    let date = match style {
        "short" => format!("{d:02}/{:02}/{y}", m + 1),
        "medium" => format!(
            "{d} {} {y}",
            if english { SHORT_EN[m] } else { SHORT_ID[m] }
        ),
        "long" => format!(
            "{d} {} {y}",
            if english { MONTHS_EN[m] } else { MONTHS_ID[m] }
        ),
        "full" => format!(
            "{}, {d} {} {y}",
            weekday(local.weekday(), english),
            if english { MONTHS_EN[m] } else { MONTHS_ID[m] }
        ),
        _ => return None,
    };
    if !with_time {
        return Some(date);
    }
    let (h, min, zone) = (local.hour(), local.minute(), zone_name(tz, &local));
    Some(if english {
        format!("{date}, {h:02}:{min:02} {zone}")
    } else {
        format!("{date} pukul {h:02}.{min:02} {zone}")
    })
}

fn instant(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::Number(n) => n.as_i64().and_then(|s| Utc.timestamp_opt(s, 0).single()),
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        _ => None,
    }
}

#[derive(Clone, Copy)]
pub(crate) struct DateHelper {
    pub(crate) with_time: bool,
}

impl HelperDef for DateHelper {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let name = if self.with_time { "datetime" } else { "date" };
        let param = h.param(0).ok_or_else(|| {
            fail(format!(
                "{name} needs a value: {{{{{name} order.placed_at}}}}"
            ))
        })?;
        if param.is_value_missing() {
            return Err(RenderError::strict_error(param.relative_path()));
        }
        if param.value().is_null() {
            return Ok(ScopedJson::Derived(Value::String(String::new())));
        }
        let at = instant(param.value()).ok_or_else(|| {
            fail(format!(
                "{name}: {} is not a time (epoch seconds or RFC 3339)",
                param.value()
            ))
        })?;
        let style = h
            .hash_get("format")
            .and_then(|f| f.value().as_str())
            .unwrap_or("medium");
        let tz: Tz = root(ctx, &["time_zone"])
            .and_then(Value::as_str)
            .and_then(|z| z.parse().ok())
            .unwrap_or(chrono_tz::Asia::Jakarta);
        format(at, tz, is_english(ctx), style, self.with_time)
            .map(|s| ScopedJson::Derived(Value::String(s)))
            .ok_or_else(|| {
                fail(format!(
                    "{name}: unknown format {style:?} (short, medium, long or full)"
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_in_zone_and_language() {
        let t = Utc.with_ymd_and_hms(2026, 11, 22, 17, 30, 0).unwrap();
        assert_eq!(
            format(t, chrono_tz::Asia::Jakarta, false, "long", false).unwrap(),
            "23 November 2026"
        );
        assert_eq!(
            format(t, chrono_tz::Asia::Jakarta, false, "full", true).unwrap(),
            "Senin, 23 November 2026 pukul 00.30 WIB"
        );
        assert_eq!(
            format(t, chrono_tz::Asia::Makassar, true, "medium", true).unwrap(),
            "23 Nov 2026, 01:30 WITA"
        );
        assert_eq!(
            format(t, chrono_tz::Asia::Jayapura, true, "short", false).unwrap(),
            "23/11/2026"
        );
        assert_eq!(
            format(t, chrono_tz::UTC, true, "full", false).unwrap(),
            "Sunday, 22 November 2026"
        );
        assert!(format(t, chrono_tz::UTC, true, "weird", false).is_none());
    }
}
