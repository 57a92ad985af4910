//! `config/jalin.toml`: the company, the tracking server, the channels and the delivery and
//! marketing rules. Every section is optional; without the file, messages go to the file
//! outbox under `var/outbox` and links point at `http://127.0.0.1:8080`.
//!
//! Secrets are never in this file: it names the environment variables that hold them.

use crate::context::Company;
use jalin_channels::email::DkimSettings;
use jalin_channels::email::smtp::SmtpConfig;
use jalin_channels::limits::LimitsConfig;
use jalin_channels::sms::kannel::KannelConfig;
use jalin_channels::sms::twilio::TwilioConfig;
use jalin_channels::webhook::WebhookConfig;
use jalin_engine::config::{ConfigError, SourceFile};
use serde::Deserialize;
use std::path::Path;

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The company block of every message (footer, sender name).
    #[serde(default)]
    pub company: Company,
    /// The tracking server that links and the open pixel point at.
    #[serde(default)]
    pub tracking: TrackingSettings,
    /// Email.
    #[serde(default)]
    pub email: EmailSection,
    /// SMS.
    #[serde(default)]
    pub sms: SmsSection,
    /// Webhooks to the call center or sales system.
    #[serde(default)]
    pub webhook: Option<WebhookConfig>,
    /// Where messages go when no real channel is configured.
    #[serde(default)]
    pub outbox: OutboxSettings,
    /// Queue and retry behaviour.
    #[serde(default)]
    pub delivery: DeliverySettings,
    /// Rules for marketing campaigns.
    #[serde(default)]
    pub marketing: MarketingSettings,
    /// Scores, costs, the loyalty programme and the nightly recompute.
    #[serde(default)]
    pub analytics: jalin_engine::analytics::AnalyticsSettings,
}

/// `[tracking]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackingSettings {
    /// The public base URL of `jalin serve` (links become BASE/t/c/TOKEN).
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// The environment variable with the link-signing secret (32+ bytes; hex or text).
    #[serde(default = "default_secret_env")]
    pub secret_env: String,
    /// Where the embedded default keeps a generated secret when the variable is not set.
    #[serde(default = "default_key_file")]
    pub key_file: String,
}

impl Default for TrackingSettings {
    fn default() -> Self {
        TrackingSettings {
            base_url: default_base_url(),
            secret_env: default_secret_env(),
            key_file: default_key_file(),
        }
    }
}

fn default_base_url() -> String {
    "http://127.0.0.1:8080".into()
}
fn default_secret_env() -> String {
    "JALIN_TRACKING_SECRET".into()
}
fn default_key_file() -> String {
    "var/tracking.key".into()
}

/// `[email]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSection {
    /// The sender, `Name <address>`.
    #[serde(default = "default_from")]
    pub from: String,
    /// Where replies go.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// A mailto: address for `List-Unsubscribe`, next to the one-click URL.
    #[serde(default)]
    pub unsubscribe_mailto: Option<String>,
    /// The SMTP server; without it, email goes to the file outbox.
    #[serde(default)]
    pub smtp: Option<SmtpConfig>,
    /// DKIM signing.
    #[serde(default)]
    pub dkim: Option<DkimSettings>,
    /// Rate and concurrency limits of the provider.
    #[serde(default)]
    pub limits: Option<LimitsConfig>,
}

impl Default for EmailSection {
    fn default() -> Self {
        EmailSection {
            from: default_from(),
            reply_to: None,
            unsubscribe_mailto: None,
            smtp: None,
            dkim: None,
            limits: None,
        }
    }
}

fn default_from() -> String {
    "PT Kayu Jaya Nusantara <halo@kayujaya.example>".into()
}

/// `[sms]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsSection {
    /// The sender id or number.
    #[serde(default = "default_sms_from")]
    pub from: String,
    /// Kannel's sendsms interface.
    #[serde(default)]
    pub kannel: Option<KannelConfig>,
    /// A Twilio-compatible API.
    #[serde(default)]
    pub twilio: Option<TwilioConfig>,
    /// Rate and concurrency limits of the provider.
    #[serde(default)]
    pub limits: Option<LimitsConfig>,
}

impl Default for SmsSection {
    fn default() -> Self {
        SmsSection {
            from: default_sms_from(),
            kannel: None,
            twilio: None,
            limits: None,
        }
    }
}

fn default_sms_from() -> String {
    "KayuJaya".into()
}

/// `[outbox]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxSettings {
    /// The folder (`.eml` files, `sms.jsonl`, `webhooks.jsonl`).
    #[serde(default = "default_outbox")]
    pub dir: String,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        OutboxSettings {
            dir: default_outbox(),
        }
    }
}

fn default_outbox() -> String {
    "var/outbox".into()
}

/// `[delivery]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliverySettings {
    /// Outbox rows per queue job.
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    /// Messages of one job sent at the same time.
    #[serde(default = "default_parallel")]
    pub parallel_sends: usize,
    /// Tries before a transiently failing message is given up.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// The first retry waits this long; each next one twice as long (with ±25% jitter).
    #[serde(default = "default_retry_base")]
    pub retry_base_seconds: u64,
    /// A message claimed by a worker that then disappears is sent again after this long.
    #[serde(default = "default_lease")]
    pub lease_seconds: u64,
    /// How often the scheduler looks for due work, in seconds.
    #[serde(default = "default_tick")]
    pub tick_seconds: f64,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            batch_size: default_batch(),
            parallel_sends: default_parallel(),
            max_attempts: default_attempts(),
            retry_base_seconds: default_retry_base(),
            lease_seconds: default_lease(),
            tick_seconds: default_tick(),
        }
    }
}

fn default_batch() -> usize {
    100
}
fn default_parallel() -> usize {
    16
}
fn default_attempts() -> u32 {
    5
}
fn default_retry_base() -> u64 {
    60
}
fn default_lease() -> u64 {
    300
}
fn default_tick() -> f64 {
    5.0
}

/// `[marketing]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketingSettings {
    /// At most this many marketing messages per customer …
    #[serde(default = "default_cap_messages")]
    pub cap_messages: u32,
    /// … within this many days.
    #[serde(default = "default_cap_days")]
    pub cap_days: u32,
    /// Quiet hours in the customer's zone for marketing, `HH:MM`.
    #[serde(default = "default_quiet_start")]
    pub quiet_start: String,
    /// End of the quiet hours.
    #[serde(default = "default_quiet_end")]
    pub quiet_end: String,
    /// Product categories recommended in cross-sell messages.
    #[serde(default = "default_recommend")]
    pub recommend_categories: Vec<String>,
}

impl Default for MarketingSettings {
    fn default() -> Self {
        MarketingSettings {
            cap_messages: default_cap_messages(),
            cap_days: default_cap_days(),
            quiet_start: default_quiet_start(),
            quiet_end: default_quiet_end(),
            recommend_categories: default_recommend(),
        }
    }
}

fn default_cap_messages() -> u32 {
    2
}
fn default_cap_days() -> u32 {
    7
}
fn default_quiet_start() -> String {
    "21:00".into()
}
fn default_quiet_end() -> String {
    "08:00".into()
}
fn default_recommend() -> Vec<String> {
    vec!["cushion".into(), "cover".into(), "lamp".into()]
}

impl Settings {
    /// Reads `DIR/jalin.toml` (defaults when it does not exist).
    pub fn load(dir: &Path) -> Result<Settings, ConfigError> {
        let path = dir.join("jalin.toml");
        if !path.exists() {
            return Ok(Settings::default());
        }
        let src = SourceFile::read(&path, format!("{}/jalin.toml", dir.display()))?;
        let settings: Settings = toml::from_str(&src.text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            src.error_at(offset, "", e.message().trim().to_owned())
        })?;
        settings.check(&src)?;
        Ok(settings)
    }

    fn check(&self, src: &SourceFile) -> Result<(), ConfigError> {
        let at = |field: &str, message: String| {
            let offset = src.text.find(field).unwrap_or(0);
            Err(src.error_at(offset, field, message))
        };
        if self.campaign_defaults().quiet_hours.is_none() {
            return at(
                "quiet_start",
                "quiet hours are times such as \"21:00\"".into(),
            );
        }
        if self.delivery.batch_size == 0 || self.delivery.batch_size > 10_000 {
            return at("batch_size", "must be between 1 and 10000".into());
        }
        if self.delivery.max_attempts == 0 {
            return at("max_attempts", "must be at least 1".into());
        }
        if let Some(p) = self.analytics.loyalty.problem() {
            return at("tiers", p);
        }
        if let Some(p) = jalin_engine::analytics::nightly::problem(&self.analytics) {
            return at("nightly_at", p);
        }
        if !(0.0..=1.0).contains(&self.analytics.discount_rate) {
            return at(
                "discount_rate",
                "a yearly rate between 0 and 1 (0.10 = 10%)".into(),
            );
        }
        if self.analytics.clv_months == 0 || self.analytics.clv_months > 120 {
            return at("clv_months", "must be between 1 and 120".into());
        }
        if !self.tracking.base_url.starts_with("http://")
            && !self.tracking.base_url.starts_with("https://")
        {
            return at("base_url", "must start with http:// or https://".into());
        }
        Ok(())
    }

    /// What campaign files may leave out.
    pub fn campaign_defaults(&self) -> jalin_engine::campaigns::CampaignDefaults {
        let t = |s: &str| chrono::NaiveTime::parse_from_str(s.trim(), "%H:%M").ok();
        jalin_engine::campaigns::CampaignDefaults {
            quiet_hours: t(&self.marketing.quiet_start).zip(t(&self.marketing.quiet_end)),
        }
    }
}
