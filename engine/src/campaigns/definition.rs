//! `config/campaigns/NAME.toml`: what a campaign sends, to whom, when, and how it is measured.

use super::schedule::Schedule;
use crate::config::{ConfigError, SourceFile};
use crate::model::Channel;
use chrono::NaiveTime;
use serde::Deserialize;
use serde_spanned::Spanned;
use std::collections::BTreeMap;

/// Whether a campaign is marketing (caps, quiet hours, holdout, paused by complaints) or
/// transactional (information the customer needs: always sent, unless they opted out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignKind {
    /// Promotions and engagement.
    Marketing,
    /// Order status, complaint acknowledgements, service messages.
    Transactional,
}

impl CampaignKind {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignKind::Marketing => "marketing",
            CampaignKind::Transactional => "transactional",
        }
    }
}

/// An A/B variant: its name (a folder in the template's `variants/`, or the base template) and
/// its share of the audience.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Variant {
    /// The variant's name.
    pub name: String,
    /// Its weight in percent; the weights of a campaign add up to 100.
    pub weight: f64,
}

/// A unique discount code per recipient.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Offer {
    /// Discount in percent.
    pub percent: u8,
    /// Days the code stays valid after the message is planned.
    pub valid_days: u32,
    /// Letters the codes start with (`KJ` gives `KJ-7Q4M-2XPA`).
    pub prefix: String,
}

/// What counts as success, and for how long after a message.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Goal {
    /// The event that counts as a conversion (usually `order.placed`).
    pub event: String,
    /// Days after the message within which it counts.
    pub within_days: u32,
}

/// Hours of the day, in the customer's own zone, when a channel must not be used.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct QuietHours {
    /// Start of the quiet period (local).
    pub start: NaiveTime,
    /// End of the quiet period (local); before `start` means it runs past midnight.
    pub end: NaiveTime,
    /// The channels it applies to.
    pub channels: Vec<Channel>,
}

impl QuietHours {
    /// Whether `local` falls inside the quiet period.
    pub fn contains(&self, local: NaiveTime) -> bool {
        if self.start <= self.end {
            local >= self.start && local < self.end
        } else {
            local >= self.start || local < self.end
        }
    }
}

/// A task posted by webhook (to the call center or sales) instead of a message to the customer.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TaskSpec {
    /// What to do: `call`, `visit`, …
    pub kind: String,
    /// Within how many hours.
    pub due_hours: u32,
}

/// A campaign, checked.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Campaign {
    /// The file name without `.toml`.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Marketing or transactional.
    pub kind: CampaignKind,
    /// Who it goes to (required for scheduled campaigns; a filter for triggered ones).
    pub segment: Option<String>,
    /// Channels in order of preference: the first the customer can be reached on and agreed to.
    pub channels: Vec<Channel>,
    /// The template (with a part for each channel).
    pub template: String,
    /// When it runs.
    pub schedule: Schedule,
    /// Share of the audience held out (not sent anything) to measure lift, in percent.
    pub holdout_percent: f64,
    /// A/B variants (one variant `a` of weight 100 when none are given).
    pub variants: Vec<Variant>,
    /// A unique offer code per recipient, if the campaign gives one.
    pub offer: Option<Offer>,
    /// What counts as a conversion.
    pub goal: Goal,
    /// Whether the frequency cap across marketing campaigns applies.
    pub frequency_cap: bool,
    /// Quiet hours, if they apply.
    pub quiet_hours: Option<QuietHours>,
    /// The task a webhook carries.
    pub task: Option<TaskSpec>,
    /// The file it came from.
    pub file: String,
    /// Where `segment` and `template` are written (for cross-checks).
    pub refs: BTreeMap<&'static str, crate::config::Location>,
}

/// `[schedule]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScheduleFile {
    /// Once, at this time (RFC 3339 with offset).
    pub(crate) at: Option<Spanned<toml::Value>>,
    /// A cron expression with seconds first (`0 0 9 * * Mon`).
    pub(crate) cron: Option<Spanned<String>>,
    /// The IANA time zone the cron expression is read in.
    pub(crate) time_zone: Option<Spanned<String>>,
    /// An event type that starts the campaign for one customer (`order.status_changed`).
    pub(crate) trigger: Option<Spanned<String>>,
    /// Payload fields the event must have (`where = { status = "shipped" }`).
    #[serde(rename = "where", default)]
    pub(crate) filter: Option<Spanned<BTreeMap<String, toml::Value>>>,
    /// Wait this many days after the event.
    #[serde(default)]
    pub(crate) delay_days: Option<u32>,
    /// Wait this many hours after the event.
    #[serde(default)]
    pub(crate) delay_hours: Option<u32>,
    /// Only run when someone runs `jalin send`.
    #[serde(default)]
    pub(crate) manual: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VariantFile {
    /// The variant's name.
    name: String,
    /// Its share, in percent.
    weight: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OfferFile {
    /// Discount in percent (1–90).
    percent: u8,
    /// Days the code is valid.
    #[serde(default = "default_valid_days")]
    valid_days: u32,
    /// Code prefix.
    #[serde(default = "default_prefix")]
    prefix: String,
}

fn default_valid_days() -> u32 {
    30
}
fn default_prefix() -> String {
    "KJ".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GoalFile {
    /// The conversion event.
    #[serde(default = "default_goal_event")]
    event: String,
    /// Days after the message.
    #[serde(default = "default_goal_days")]
    within_days: u32,
}

fn default_goal_event() -> String {
    "order.placed".into()
}
fn default_goal_days() -> u32 {
    30
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QuietHoursFile {
    /// Start, `HH:MM` in the customer's zone.
    start: String,
    /// End, `HH:MM` in the customer's zone.
    end: String,
    /// The channels it applies to (all of the campaign's by default).
    #[serde(default)]
    channels: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskFile {
    /// What to do.
    kind: String,
    /// Within how many hours.
    #[serde(default = "default_due")]
    due_hours: u32,
}

fn default_due() -> u32 {
    24
}

/// `config/campaigns/NAME.toml` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CampaignFile {
    /// What the campaign is for.
    #[serde(default)]
    description: String,
    /// `marketing` (default) or `transactional`.
    #[serde(default)]
    kind: Option<Spanned<String>>,
    /// The segment it goes to.
    #[serde(default)]
    segment: Option<Spanned<String>>,
    /// Channels in order of preference.
    channels: Spanned<Vec<Spanned<String>>>,
    /// The template.
    template: Spanned<String>,
    /// When it runs.
    schedule: Spanned<ScheduleFile>,
    /// Percent of the audience held out.
    #[serde(default)]
    holdout_percent: Option<Spanned<f64>>,
    /// A/B variants.
    #[serde(default)]
    variants: Option<Spanned<Vec<VariantFile>>>,
    /// A unique offer code per recipient.
    #[serde(default)]
    offer: Option<Spanned<OfferFile>>,
    /// The conversion goal.
    #[serde(default)]
    goal: Option<GoalFile>,
    /// Whether the frequency cap applies (marketing: yes by default).
    #[serde(default)]
    frequency_cap: Option<bool>,
    /// Quiet hours (marketing: the defaults in jalin.toml).
    #[serde(default)]
    quiet_hours: Option<Spanned<QuietHoursFile>>,
    /// The task posted by webhook.
    #[serde(default)]
    task: Option<TaskFile>,
}

fn at<T>(src: &SourceFile, s: &Spanned<T>, path: &str, message: impl Into<String>) -> ConfigError {
    src.error_at(s.span().start, path, message)
}

fn location<T>(src: &SourceFile, s: &Spanned<T>, path: &str) -> crate::config::Location {
    let e = src.error_at(s.span().start, path, "");
    crate::config::Location {
        file: e.file,
        line: e.line,
        column: e.column,
        path: e.path,
    }
}

fn parse_time(text: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(text.trim(), "%H:%M").ok()
}

/// Defaults the campaign file may rely on (from `jalin.toml`).
#[derive(Debug, Clone)]
pub struct CampaignDefaults {
    /// Quiet hours for marketing campaigns.
    pub quiet_hours: Option<(NaiveTime, NaiveTime)>,
}

impl Default for CampaignDefaults {
    fn default() -> Self {
        CampaignDefaults {
            quiet_hours: NaiveTime::from_hms_opt(21, 0, 0).zip(NaiveTime::from_hms_opt(8, 0, 0)),
        }
    }
}

/// Parses one campaign file; `name` is the campaign's name.
pub fn parse_campaign(
    src: &SourceFile,
    name: &str,
    defaults: &CampaignDefaults,
) -> Result<Campaign, Vec<ConfigError>> {
    let file: CampaignFile = toml::from_str(&src.text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        vec![src.error_at(offset, "", e.message().trim().to_owned())]
    })?;
    let mut errors = Vec::new();
    let kind = match file.kind.as_ref().map(|k| k.get_ref().as_str()) {
        None | Some("marketing") => CampaignKind::Marketing,
        Some("transactional") => CampaignKind::Transactional,
        Some(other) => {
            errors.push(at(
                src,
                file.kind
                    .as_ref()
                    .unwrap_or(&Spanned::new(0..0, String::new())),
                "kind",
                format!("{other:?} is not marketing or transactional"),
            ));
            CampaignKind::Marketing
        }
    };
    let mut channels = Vec::new();
    if file.channels.get_ref().is_empty() {
        errors.push(at(
            src,
            &file.channels,
            "channels",
            "name at least one channel: email, sms or webhook",
        ));
    }
    for c in file.channels.get_ref() {
        match c.get_ref().parse::<Channel>() {
            Ok(ch) if channels.contains(&ch) => {
                errors.push(at(src, c, "channels", format!("{ch} is listed twice")));
            }
            Ok(ch) => channels.push(ch),
            Err(e) => errors.push(at(src, c, "channels", e.to_string())),
        }
    }
    let schedule = super::schedule::parse(src, &file.schedule, &mut errors);
    if let (Some(Schedule::Trigger { .. }), Some(seg)) = (&schedule, &file.segment) {
        errors.push(at(src, seg, "segment", "a triggered campaign goes to the customer of the event: leave segment out and filter with [schedule] where = { … }"));
    }
    if matches!(
        schedule,
        Some(Schedule::Cron { .. } | Schedule::Once { .. })
    ) && file.segment.is_none()
    {
        errors.push(at(
            src,
            &file.schedule,
            "segment",
            "a scheduled campaign needs a segment (who it goes to)",
        ));
    }
    let holdout_percent = match &file.holdout_percent {
        Some(h) if !(0.0..100.0).contains(h.get_ref()) => {
            errors.push(at(
                src,
                h,
                "holdout_percent",
                "must be between 0 and 100 (exclusive of 100)",
            ));
            0.0
        }
        Some(h) => *h.get_ref(),
        None => 0.0,
    };
    let variants = match &file.variants {
        None => vec![Variant {
            name: "a".into(),
            weight: 100.0,
        }],
        Some(v) => {
            let list: Vec<Variant> = v
                .get_ref()
                .iter()
                .map(|f| Variant {
                    name: f.name.clone(),
                    weight: f.weight,
                })
                .collect();
            let total: f64 = list.iter().map(|v| v.weight).sum();
            if list.is_empty() {
                errors.push(at(
                    src,
                    v,
                    "variants",
                    "give at least one variant, or leave variants out",
                ));
            } else if (total - 100.0).abs() > 1e-6 {
                errors.push(at(
                    src,
                    v,
                    "variants",
                    format!("the weights add up to {total}, not 100"),
                ));
            }
            for var in &list {
                if var.weight <= 0.0 {
                    errors.push(at(
                        src,
                        v,
                        "variants",
                        format!(
                            "variant {:?} has a weight of {} (must be above 0)",
                            var.name, var.weight
                        ),
                    ));
                }
                if !crate::segments::valid_name(&var.name) {
                    errors.push(at(
                        src,
                        v,
                        "variants",
                        format!(
                            "{:?} is not a variant name (lower-case letters, digits, - or _)",
                            var.name
                        ),
                    ));
                }
            }
            let mut names: Vec<&str> = list.iter().map(|v| v.name.as_str()).collect();
            names.sort_unstable();
            if names.windows(2).any(|w| w[0] == w[1]) {
                errors.push(at(src, v, "variants", "two variants have the same name"));
            }
            list
        }
    };
    let offer = file.offer.as_ref().map(|o| {
        let f = o.get_ref();
        if !(1..=90).contains(&f.percent) {
            errors.push(at(src, o, "offer.percent", "must be between 1 and 90"));
        }
        if f.prefix.is_empty()
            || f.prefix.len() > 6
            || !f
                .prefix
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            errors.push(at(
                src,
                o,
                "offer.prefix",
                "1 to 6 capital letters or digits",
            ));
        }
        Offer {
            percent: f.percent,
            valid_days: f.valid_days.max(1),
            prefix: f.prefix.clone(),
        }
    });
    let goal = match &file.goal {
        Some(g) => {
            if let Err(e) = crate::events::check_event_type(&g.event) {
                errors.push(src.error_at(0, "goal.event", e));
            }
            Goal {
                event: g.event.clone(),
                within_days: g.within_days.clamp(1, 365),
            }
        }
        None => Goal {
            event: default_goal_event(),
            within_days: default_goal_days(),
        },
    };
    let quiet_hours = match &file.quiet_hours {
        Some(q) => {
            let f = q.get_ref();
            let (start, end) = (parse_time(&f.start), parse_time(&f.end));
            if start.is_none() || end.is_none() {
                errors.push(at(
                    src,
                    q,
                    "quiet_hours",
                    "start and end are times such as \"21:00\"",
                ));
            }
            let qc: Vec<Channel> = match &f.channels {
                Some(list) => list
                    .iter()
                    .filter_map(|c| {
                        c.parse::<Channel>()
                            .map_err(|e| {
                                errors.push(at(src, q, "quiet_hours.channels", e.to_string()));
                            })
                            .ok()
                    })
                    .collect(),
                None => channels.clone(),
            };
            start.zip(end).map(|(start, end)| QuietHours {
                start,
                end,
                channels: qc,
            })
        }
        None if kind == CampaignKind::Marketing => {
            defaults.quiet_hours.map(|(start, end)| QuietHours {
                start,
                end,
                channels: channels.clone(),
            })
        }
        None => None,
    };
    let task = file.task.as_ref().map(|t| TaskSpec {
        kind: t.kind.clone(),
        due_hours: t.due_hours,
    });
    let mut refs = BTreeMap::new();
    refs.insert("template", location(src, &file.template, "template"));
    if let Some(s) = &file.segment {
        refs.insert("segment", location(src, s, "segment"));
    }
    match (schedule, errors.is_empty()) {
        (Some(schedule), true) => Ok(Campaign {
            name: name.to_owned(),
            description: file.description,
            kind,
            segment: file.segment.map(|s| s.into_inner()),
            channels,
            template: file.template.into_inner(),
            schedule,
            holdout_percent,
            variants,
            offer,
            goal,
            frequency_cap: file
                .frequency_cap
                .unwrap_or(kind == CampaignKind::Marketing),
            quiet_hours,
            task,
            file: src.name.clone(),
            refs,
        }),
        _ => Err(errors),
    }
}
