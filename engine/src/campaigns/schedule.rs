//! When a campaign runs: once, on a cron schedule in a time zone, on an event, or by hand.

use super::definition::ScheduleFile;
use crate::config::{ConfigError, SourceFile};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde_spanned::Spanned;
use std::collections::BTreeMap;
use std::str::FromStr;

/// A campaign's schedule.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Schedule {
    /// Once, at a moment.
    Once {
        /// When.
        at: DateTime<Utc>,
    },
    /// Repeatedly.
    Cron {
        /// The expression as written (seconds first).
        expression: String,
        /// The parsed schedule.
        #[serde(skip)]
        schedule: Box<cron::Schedule>,
        /// The zone it is read in.
        #[serde(serialize_with = "tz_name")]
        time_zone: Tz,
    },
    /// For one customer, when an event of this type arrives.
    Trigger {
        /// The event type.
        event: String,
        /// Payload fields the event must have.
        filter: BTreeMap<String, serde_json::Value>,
        /// How long after the event.
        #[serde(serialize_with = "seconds")]
        delay: Duration,
    },
    /// Only by `jalin send`.
    Manual,
}

fn tz_name<S: serde::Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(tz.name())
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_i64(d.num_seconds())
}

impl Schedule {
    /// The fire times in `(after, up_to]`, oldest first (cron and once; empty otherwise).
    pub fn due_between(&self, after: DateTime<Utc>, up_to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        self.times_after(after)
            .take_while(|t| *t <= up_to)
            .take(1000)
            .collect()
    }

    /// The next fire times after `now` (at most `n`).
    pub fn next_runs(&self, now: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        self.times_after(now).take(n).collect()
    }

    /// Every fire time after `after`, oldest first (none for triggered and manual campaigns).
    fn times_after(&self, after: DateTime<Utc>) -> Box<dyn Iterator<Item = DateTime<Utc>> + '_> {
        match self {
            Schedule::Once { at } => Box::new((*at > after).then_some(*at).into_iter()),
            Schedule::Cron {
                schedule,
                time_zone,
                ..
            } => Box::new(
                schedule
                    .after(&after.with_timezone(time_zone))
                    .map(|t| t.with_timezone(&Utc)),
            ),
            _ => Box::new(std::iter::empty()),
        }
    }

    /// Whether an event starts this campaign.
    pub fn matches(&self, event_type: &str, payload: &serde_json::Value) -> bool {
        match self {
            Schedule::Trigger { event, filter, .. } => {
                event == event_type && filter.iter().all(|(k, v)| payload.get(k) == Some(v))
            }
            _ => false,
        }
    }
}

fn toml_to_json(v: &toml::Value) -> serde_json::Value {
    match v {
        toml::Value::String(s) => s.clone().into(),
        toml::Value::Integer(i) => (*i).into(),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        toml::Value::Boolean(b) => (*b).into(),
        toml::Value::Datetime(d) => d.to_string().into(),
        toml::Value::Array(a) => a.iter().map(toml_to_json).collect(),
        toml::Value::Table(t) => t
            .iter()
            .map(|(k, v)| (k.clone(), toml_to_json(v)))
            .collect(),
    }
}

/// Reads `[schedule]`, reporting mistakes at their place.
pub(crate) fn parse(
    src: &SourceFile,
    s: &Spanned<ScheduleFile>,
    errors: &mut Vec<ConfigError>,
) -> Option<Schedule> {
    let f = s.get_ref();
    let given = [
        f.at.is_some(),
        f.cron.is_some(),
        f.trigger.is_some(),
        f.manual == Some(true),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if given != 1 {
        errors.push(src.error_at(
            s.span().start,
            "schedule",
            "give exactly one of at, cron (with time_zone), trigger or manual = true",
        ));
        return None;
    }
    if let Some(at) = &f.at {
        let text = match at.get_ref() {
            toml::Value::Datetime(d) => d.to_string(),
            toml::Value::String(s) => s.clone(),
            _ => String::new(),
        };
        return match DateTime::parse_from_rfc3339(&text) {
            Ok(t) => Some(Schedule::Once {
                at: t.with_timezone(&Utc),
            }),
            Err(_) => {
                errors.push(src.error_at(
                    at.span().start,
                    "schedule.at",
                    "a date and time with its offset, e.g. 2026-12-01T09:00:00+07:00",
                ));
                None
            }
        };
    }
    if let Some(expr) = &f.cron {
        let tz = match &f.time_zone {
            Some(z) => match z.get_ref().parse::<Tz>() {
                Ok(tz) => Some(tz),
                Err(_) => {
                    errors.push(src.error_at(
                        z.span().start,
                        "schedule.time_zone",
                        format!(
                            "unknown time zone {:?} (an IANA name such as Asia/Jakarta)",
                            z.get_ref()
                        ),
                    ));
                    None
                }
            },
            None => {
                errors.push(src.error_at(
                    expr.span().start,
                    "schedule.time_zone",
                    "a cron schedule needs time_zone (e.g. \"Asia/Jakarta\")",
                ));
                None
            }
        };
        let schedule = match cron::Schedule::from_str(expr.get_ref()) {
            Ok(c) => Some(c),
            Err(e) => {
                errors.push(src.error_at(expr.span().start, "schedule.cron", format!("invalid cron expression {:?}: {e} (six or seven fields, seconds first: \"0 0 9 * * Mon\")", expr.get_ref())));
                None
            }
        };
        return schedule
            .zip(tz)
            .map(|(schedule, time_zone)| Schedule::Cron {
                expression: expr.get_ref().clone(),
                schedule: Box::new(schedule),
                time_zone,
            });
    }
    if let Some(event) = &f.trigger {
        if let Err(e) = crate::events::check_event_type(event.get_ref()) {
            errors.push(src.error_at(event.span().start, "schedule.trigger", e));
            return None;
        }
        let filter = f
            .filter
            .as_ref()
            .map(|w| {
                w.get_ref()
                    .iter()
                    .map(|(k, v)| (k.clone(), toml_to_json(v)))
                    .collect()
            })
            .unwrap_or_default();
        let delay = Duration::days(i64::from(f.delay_days.unwrap_or(0)))
            + Duration::hours(i64::from(f.delay_hours.unwrap_or(0)));
        return Some(Schedule::Trigger {
            event: event.get_ref().clone(),
            filter,
            delay,
        });
    }
    Some(Schedule::Manual)
}
