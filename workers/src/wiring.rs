//! Turning `jalin.toml` into live parts: the channels (real ones where configured, the file
//! outbox otherwise), the tracking link signer, and the whole [`Delivery`].

use crate::delivery::{Delivery, DeliveryRules};
use crate::settings::Settings;
use jalin_channels::email::smtp::SmtpEmail;
use jalin_channels::email::{Email, EmailSettings};
use jalin_channels::limits::Limited;
use jalin_channels::outbox::FileOutbox;
use jalin_channels::sms::Sms;
use jalin_channels::sms::kannel::KannelSms;
use jalin_channels::sms::twilio::TwilioSms;
use jalin_channels::tracking::{TrackingKeys, TrackingUrls};
use jalin_channels::webhook::standard::Secret;
use jalin_channels::webhook::{HttpWebhook, Webhook};
use jalin_channels::{Channel, ChannelError};
use jalin_engine::campaigns::{CampaignSet, products_in};
use jalin_engine::clock::SharedClock;
use jalin_engine::store::Store;
use jalin_templates::Templates;
use std::path::Path;
use std::sync::Arc;

/// The channel of each kind.
#[derive(Debug, Clone)]
pub struct Channels {
    /// Email.
    pub email: Arc<dyn Channel<Email>>,
    /// SMS.
    pub sms: Arc<dyn Channel<Sms>>,
    /// Webhooks.
    pub webhook: Arc<dyn Channel<Webhook>>,
}

impl Channels {
    /// Runs every channel's health check, so a bad host or credential fails at start-up.
    pub async fn health_check(&self) -> Result<(), ChannelError> {
        self.email.health_check().await?;
        self.sms.health_check().await?;
        self.webhook.health_check().await
    }

    /// Describes where each kind goes (`smtp`, `outbox`, …).
    pub fn describe(&self) -> String {
        format!(
            "email → {}, sms → {}, webhook → {}",
            self.email.name(),
            self.sms.name(),
            self.webhook.name()
        )
    }
}

fn limited<M, C>(
    channel: C,
    limits: Option<&jalin_channels::limits::LimitsConfig>,
) -> Arc<dyn Channel<M>>
where
    C: Channel<M> + 'static,
    M: Send + Sync + 'static,
    Limited<C>: Channel<M>,
{
    match limits {
        Some(l) => Arc::new(Limited::new(channel, l)),
        None => Arc::new(channel),
    }
}

/// Builds the channels: SMTP, Kannel or Twilio, and the webhook receiver where `jalin.toml`
/// configures them; the file outbox under `outbox_dir` for the rest.
pub fn channels(settings: &Settings, outbox_dir: &Path) -> Result<Channels, ChannelError> {
    let email_settings = EmailSettings::new(
        &settings.email.from,
        settings.email.reply_to.as_deref(),
        settings.email.dkim.as_ref(),
    )?;
    let webhook_secrets = match std::env::var("JALIN_WEBHOOK_SECRET") {
        Ok(text) => Secret::parse_list(&text)
            .map_err(|e| ChannelError::new("webhook", format!("JALIN_WEBHOOK_SECRET: {e}")))?,
        Err(_) => {
            Secret::parse_list(&Secret::generate()).map_err(|e| ChannelError::new("webhook", e))?
        }
    };
    let max_segments = settings
        .sms
        .kannel
        .as_ref()
        .map(|k| k.max_segments)
        .or(settings.sms.twilio.as_ref().map(|t| t.max_segments))
        .unwrap_or(3);
    let needs_outbox = settings.email.smtp.is_none()
        || (settings.sms.kannel.is_none() && settings.sms.twilio.is_none())
        || settings.webhook.is_none();
    let outbox = if needs_outbox {
        Some(Arc::new(FileOutbox::new(
            outbox_dir,
            email_settings.clone(),
            webhook_secrets,
            max_segments,
        )?))
    } else {
        None
    };
    let outbox_or = |what: &str| {
        outbox
            .clone()
            .ok_or_else(|| ChannelError::new(what.to_owned(), "no outbox"))
    };
    let email: Arc<dyn Channel<Email>> = match &settings.email.smtp {
        Some(smtp) => limited(
            SmtpEmail::new(smtp, email_settings)?,
            settings.email.limits.as_ref(),
        ),
        None => outbox_or("email")?,
    };
    let sms: Arc<dyn Channel<Sms>> = match (&settings.sms.kannel, &settings.sms.twilio) {
        (Some(k), _) => limited(KannelSms::new(k.clone())?, settings.sms.limits.as_ref()),
        (None, Some(t)) => limited(TwilioSms::new(t.clone())?, settings.sms.limits.as_ref()),
        (None, None) => outbox_or("sms")?,
    };
    let webhook: Arc<dyn Channel<Webhook>> = match &settings.webhook {
        Some(w) => Arc::new(HttpWebhook::new(w)?),
        None => outbox_or("webhook")?,
    };
    Ok(Channels {
        email,
        sms,
        webhook,
    })
}

/// The link-signing keys: from the environment variable `[tracking] secret_env` (several
/// separated by spaces during a rotation, the first signs), or for the embedded default from
/// `key_file`, created with a random key on first use.
pub fn tracking_keys(settings: &Settings) -> Result<TrackingKeys, String> {
    let text = match std::env::var(&settings.tracking.secret_env) {
        Ok(t) => t,
        Err(_) => {
            let path = Path::new(&settings.tracking.key_file);
            match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(_) => {
                    let key = Secret::generate();
                    if let Some(dir) = path.parent() {
                        std::fs::create_dir_all(dir)
                            .map_err(|e| format!("{}: {e}", dir.display()))?;
                    }
                    write_private(path, &key).map_err(|e| format!("{}: {e}", path.display()))?;
                    key
                }
            }
        }
    };
    let mut keys = text.split_whitespace().map(|k| k.as_bytes().to_vec());
    let current = keys
        .next()
        .ok_or_else(|| format!("{} is empty", settings.tracking.secret_env))?;
    TrackingKeys::new(current, keys.collect()).map_err(|_| {
        format!(
            "the tracking secret in {} is shorter than 32 bytes",
            settings.tracking.secret_env
        )
    })
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

/// Everything a delivery worker needs.
#[allow(clippy::too_many_arguments)]
pub async fn delivery(
    store: Store,
    settings: &Settings,
    templates: Arc<Templates>,
    campaigns: CampaignSet,
    channels: Channels,
    keys: TrackingKeys,
    clock: SharedClock,
) -> jalin_engine::Result<Delivery> {
    let catalogue = products_in(&store, &settings.marketing.recommend_categories).await?;
    Ok(Delivery {
        store,
        templates,
        campaigns,
        channels,
        company: settings.company.clone(),
        urls: TrackingUrls::new(&settings.tracking.base_url, keys),
        rules: DeliveryRules {
            parallel_sends: settings.delivery.parallel_sends,
            max_attempts: settings.delivery.max_attempts,
            retry_base_seconds: settings.delivery.retry_base_seconds,
            lease_seconds: i64::try_from(settings.delivery.lease_seconds).unwrap_or(300),
            sms_from: settings.sms.from.clone(),
            unsubscribe_mailto: settings.email.unsubscribe_mailto.clone(),
        },
        catalogue,
        clock,
    })
}
